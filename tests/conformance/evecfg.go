package conformance

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/interdict/interdict/inspect/eve"
)

// eveOpts are the options of a case's suricata.yaml eve-log types that
// change what the EVE writer writes.
type eveOpts struct {
	// Writer: the xff options of the alert and http types, and HTTPBasic
	// when the http type is listed without extended: yes (Suricata then
	// logs only the basic http fields).
	Writer eve.Options
	// HTTPHeaders is the http type's dump-all-headers (request, response
	// or both).
	HTTPHeaders string
	// Netflow: the netflow type is listed.
	Netflow bool
}

// readEVEOpts reads them (outputs: - eve-log: types: - alert: {xff:
// {enabled, mode, deployment}} - http: {extended: yes}); a case without
// suricata.yaml has Suricata's defaults (no xff, extended http).
func readEVEOpts(dir string) (eveOpts, error) {
	var o eveOpts
	data, err := os.ReadFile(filepath.Join(dir, "suricata.yaml"))
	if errors.Is(err, os.ErrNotExist) {
		return o, nil
	}
	if err != nil {
		return o, err
	}
	var y struct {
		Outputs []map[string]struct {
			// A type is a name ("- flow") or a name with options.
			Types []any `yaml:"types"`
		} `yaml:"outputs"`
	}
	if err := yaml.Unmarshal(data, &y); err != nil {
		// An outputs section of another shape has no eve-log types to
		// read (a broken file is reported by actionOrder).
		return o, nil
	}
	for _, out := range y.Outputs {
		el, ok := out["eve-log"]
		if !ok {
			continue
		}
		for _, t := range el.Types {
			if t == "netflow" {
				o.Netflow = true
			}
			m, ok := t.(map[string]any)
			if !ok {
				continue
			}
			for name, v := range m {
				opts, _ := v.(map[string]any)
				if name == "dns" {
					switch opts["version"] {
					case 2, "2":
						o.Writer.DNSVersion2 = true
					}
					if v, ok := opts["requests"]; ok {
						o.Writer.DNSNoRequests = !yes(v)
					}
					if v, ok := opts["responses"]; ok {
						o.Writer.DNSNoResponses = !yes(v)
					}
					types, _ := opts["types"].([]any)
					for _, t := range types {
						if s, ok := t.(string); ok {
							o.Writer.DNSTypes = append(o.Writer.DNSTypes, strings.ToUpper(s))
						}
					}
				}
				if name == "http" {
					o.Writer.HTTPBasic = !yes(opts["extended"])
					switch d, _ := opts["dump-all-headers"].(string); d {
					case "", "none":
					case "request", "response", "both":
						o.HTTPHeaders = d
					default:
						return o, fmt.Errorf("%s/suricata.yaml: http dump-all-headers %q: want request, response or both", dir, d)
					}
				}
				x, err := xffOpt(opts["xff"])
				if err != nil {
					return o, fmt.Errorf("%s/suricata.yaml: %s: %w", dir, name, err)
				}
				switch name {
				case "alert":
					o.Writer.AlertXFF = x
				case "http":
					o.Writer.HTTPXFF = x
				}
			}
		}
	}
	return o, nil
}

// xffOpt reads an xff block: nil when absent or not enabled.
func xffOpt(v any) (*eve.XFF, error) {
	m, ok := v.(map[string]any)
	if !ok || !yes(m["enabled"]) {
		return nil, nil
	}
	if h, _ := m["header"].(string); h != "" && h != "X-Forwarded-For" {
		return nil, fmt.Errorf("xff header %q: only X-Forwarded-For is read", h)
	}
	mode, _ := m["mode"].(string)
	dep, _ := m["deployment"].(string)
	x := &eve.XFF{Mode: mode, Deployment: dep}
	return x, x.Validate()
}

// yes reads a suricata.yaml boolean (yes/no, true/false).
func yes(v any) bool {
	switch b := v.(type) {
	case bool:
		return b
	case string:
		return b == "yes" || b == "true" || b == "on"
	}
	return false
}

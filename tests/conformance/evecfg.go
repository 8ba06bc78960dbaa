package conformance

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v4"

	"github.com/interdict/interdict/inspect/eve"
)

// eveXFF reads the xff options of the alert and http types of the
// test's suricata.yaml eve-log output (outputs: - eve-log: types:
// - alert: xff: {enabled, mode, deployment}); nil where absent or off.
func eveXFF(dir string) (alert, http *eve.XFF, err error) {
	data, err := os.ReadFile(filepath.Join(dir, "suricata.yaml"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var y struct {
		Outputs []map[string]struct {
			Types []map[string]struct {
				XFF *struct {
					Enabled    any    `yaml:"enabled"`
					Mode       string `yaml:"mode"`
					Deployment string `yaml:"deployment"`
					Header     string `yaml:"header"`
				} `yaml:"xff"`
			} `yaml:"types"`
		} `yaml:"outputs"`
	}
	if err := yaml.Unmarshal(data, &y); err != nil {
		// Other shapes (a type given as a plain string) carry no xff.
		return nil, nil, nil
	}
	for _, out := range y.Outputs {
		el, ok := out["eve-log"]
		if !ok {
			continue
		}
		for _, t := range el.Types {
			for name, tc := range t {
				if tc.XFF == nil || !yes(tc.XFF.Enabled) {
					continue
				}
				if tc.XFF.Header != "" && tc.XFF.Header != "X-Forwarded-For" {
					return nil, nil, fmt.Errorf("%s/suricata.yaml: xff header %q: only X-Forwarded-For is read", dir, tc.XFF.Header)
				}
				x := &eve.XFF{Mode: tc.XFF.Mode, Deployment: tc.XFF.Deployment}
				if err := x.Validate(); err != nil {
					return nil, nil, fmt.Errorf("%s/suricata.yaml: %w", dir, err)
				}
				switch name {
				case "alert":
					alert = x
				case "http":
					http = x
				}
			}
		}
	}
	return alert, http, nil
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

package conformance

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/interdict/interdict/inspect/replay"
)

// Version is the Suricata version whose behaviour interdict follows, for
// test.yaml requires (min-version, lt-version, ...).
var Version = [3]int{8, 0, 0}

// Features interdict provides, by suricata-verify's feature names.
// LIBNET1.1 is what Suricata needs to send reject packets; interdict
// rejects natively (TCP RST from its netstack). HAVE_JA3 and HAVE_JA4:
// the TLS parser computes both fingerprints (inspect/tls), so cases
// that need them are applicable.
var Features = map[string]bool{"LIBNET1.1": true, "HAVE_JA3": true, "HAVE_JA4": true}

// Requires is test.yaml's requires block (at test or check level).
type Requires struct {
	MinVersion string         `yaml:"min-version"`
	LtVersion  string         `yaml:"lt-version"`
	GtVersion  string         `yaml:"gt-version"`
	Version    string         `yaml:"version"`
	Features   []string       `yaml:"features"`
	Other      map[string]any `yaml:",inline"`
}

// Spec is one suricata-verify test case.
type Spec struct {
	Name     string   `yaml:"-"` // path under tests/, e.g. detect-pcre/detect-pcre-01
	Dir      string   `yaml:"-"`
	Requires Requires `yaml:"requires"`
	// Env is the environment the case runs Suricata with; only
	// SURICATA_EVE_DNS_VERSION is read (the dns eve version).
	Env map[string]any `yaml:"env"`
	// Skip lists conditions under which suricata-verify skips the case
	// (skip: - feature: HAVE_JA4).
	Skip []struct {
		Feature string `yaml:"feature"`
	} `yaml:"skip"`
	Args    []string `yaml:"args"`
	PcapKey any      `yaml:"pcap"`
	Checks  []Check  `yaml:"checks"`

	Pcap  string   `yaml:"-"` // resolved capture path
	Rules []string `yaml:"-"` // resolved rule files
	Opts  RunOpts  `yaml:"-"`
}

// RunOpts is what the test's args and name ask of the replay.
type RunOpts struct {
	IPS           bool
	Midstream     bool // --set stream.midstream=true
	MidstreamDrop bool // --set stream.midstream-policy=drop-flow
	AsyncOneside  bool // --set stream.async-oneside=true
	StreamInline  bool // --set stream.inline=true
	// Urgent and UrgentOOBLimit: --set stream.reassembly.urgent.policy
	// and .oob-limit-policy.
	Urgent, UrgentOOBLimit replay.UrgentPolicy
	// ExceptionPolicy and MidstreamPolicy: --set exception-policy and
	// stream.midstream-policy, or the suricata.yaml keys (runtime.go).
	ExceptionPolicy, MidstreamPolicy string
	// FlowTimeouts: the suricata.yaml in force (runtime.go).
	FlowTimeouts  *replay.FlowTimeouts
	ThresholdFile string   // --set threshold-file=...
	HTTPBodyLimit int      // --set app-layer.protocols.http.libhtp.default-config.{request,response}-body-limit
	ActionOrder   []string // suricata.yaml action-order
	EVE           eveOpts  // suricata.yaml eve-log type options
	// DropStart: suricata.yaml's eve drop output logs a dropped flow
	// once per direction (flows: start, Suricata's default when the
	// output is configured without it).
	DropStart bool
	Ignored   []string
}

// LoadSpec reads dir/test.yaml and resolves its pcap, rules and args.
func LoadSpec(testsRoot, dir string) (*Spec, error) {
	data, err := os.ReadFile(filepath.Join(dir, "test.yaml"))
	if err != nil {
		return nil, err
	}
	s := &Spec{Dir: dir}
	if err := yaml.Unmarshal(data, s); err != nil {
		return nil, fmt.Errorf("%s/test.yaml: %w", dir, err)
	}
	if s.Name, err = filepath.Rel(testsRoot, dir); err != nil {
		return nil, err
	}
	s.Name = filepath.ToSlash(s.Name)
	if err := s.resolvePcap(); err != nil {
		return nil, err
	}
	if s.Rules, err = findRules(dir); err != nil {
		return nil, err
	}
	s.Opts = parseArgs(s.Name, s.Args, dir)
	if err := s.Opts.readSuricataYAML(dir); err != nil {
		return nil, err
	}
	if err := s.Opts.readRuntimeYAML(dir); err != nil {
		return nil, err
	}
	if s.Opts.EVE, err = readEVEOpts(dir); err != nil {
		return nil, err
	}
	if v := fmt.Sprint(s.Env["SURICATA_EVE_DNS_VERSION"]); v == "2" {
		s.Opts.EVE.Writer.DNSVersion2 = true
	}
	return s, nil
}

// readSuricataYAML reads what the replay honours of the test's
// suricata.yaml, if it has one: the action-order list and how the eve
// drop output logs dropped flows.
func (o *RunOpts) readSuricataYAML(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, "suricata.yaml"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var y struct {
		ActionOrder []string `yaml:"action-order"`
		Outputs     []map[string]struct {
			// Types are names ("drop") or one-key maps ({drop: {...}}).
			Types []any `yaml:"types"`
		} `yaml:"outputs"`
	}
	// suricata.yaml starts with a %YAML 1.1 directive, which the parser
	// accepts; other keys are ignored.
	if err := yaml.Unmarshal(data, &y); err != nil {
		return fmt.Errorf("%s/suricata.yaml: %w", dir, err)
	}
	o.ActionOrder = y.ActionOrder
	for _, out := range y.Outputs {
		for _, t := range out["eve-log"].Types {
			switch t := t.(type) {
			case string:
				o.DropStart = o.DropStart || t == "drop"
			case map[string]any:
				if d, ok := t["drop"]; ok {
					opts, _ := d.(map[string]any) // nil for a bare "drop:"
					flows, _ := opts["flows"].(string)
					o.DropStart = o.DropStart || flows != "all"
				}
			}
		}
	}
	return nil
}

func (s *Spec) resolvePcap() error {
	if p, ok := s.PcapKey.(string); ok && p != "" {
		s.Pcap = filepath.Join(s.Dir, p)
		if _, err := os.Stat(s.Pcap); err != nil {
			return fmt.Errorf("%s: pcap: %w", s.Name, err)
		}
		return nil
	}
	if b, ok := s.PcapKey.(bool); ok && !b {
		return fmt.Errorf("%s: test has no pcap", s.Name)
	}
	matches, _ := filepath.Glob(filepath.Join(s.Dir, "*.pcap"))
	ng, _ := filepath.Glob(filepath.Join(s.Dir, "*.pcapng"))
	matches = append(matches, ng...)
	if len(matches) != 1 {
		return fmt.Errorf("%s: want exactly one capture in the test directory, found %d", s.Name, len(matches))
	}
	s.Pcap = matches[0]
	return nil
}

// findRules: test.rules when present (what suricata-verify passes with
// -S), otherwise every *.rules file the directory holds (tests that name
// their rule file in suricata.yaml). A case with none runs without rules,
// as suricata-verify runs it (its checks are about the app-layer
// records): an empty rule file stands in, since the loader refuses a
// run with no rule file at all.
func findRules(dir string) ([]string, error) {
	p := filepath.Join(dir, "test.rules")
	if _, err := os.Stat(p); err == nil {
		return []string{p}, nil
	}
	m, err := filepath.Glob(filepath.Join(dir, "*.rules"))
	if err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return []string{os.DevNull}, nil
	}
	sort.Strings(m)
	return m, nil
}

// parseArgs reads the Suricata command-line options of a test. Options
// with no counterpart in a replay (-k none: checksums are not verified by
// replay anyway; libhtp limits) are listed in Ignored.
func parseArgs(name string, args []string, dir string) RunOpts {
	var o RunOpts
	// suricata-verify runs a test in IPS mode when its name says so.
	base := filepath.Base(name)
	o.IPS = strings.Contains(base, "ips")
	var toks []string
	for _, a := range args {
		toks = append(toks, strings.Fields(a)...)
	}
	for i := 0; i < len(toks); i++ {
		switch t := toks[i]; t {
		case "--simulate-ips":
			o.IPS = true
		case "-k":
			i++
		case "--set":
			if i+1 >= len(toks) {
				continue
			}
			i++
			kv := toks[i]
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "stream.midstream":
				o.Midstream = v == "true" || v == "yes"
			case "stream.midstream-policy":
				o.MidstreamPolicy = v
				o.MidstreamDrop = v == "drop-flow"
			case "exception-policy":
				o.ExceptionPolicy = v
			case "stream.async-oneside":
				o.AsyncOneside = v == "true" || v == "yes"
			case "stream.inline":
				o.StreamInline = v == "true" || v == "yes"
			case "stream.reassembly.urgent.policy", "stream.reassembly.urgent.oob-limit-policy":
				pol, err := replay.ParseUrgentPolicy(v)
				switch {
				case err != nil:
					o.Ignored = append(o.Ignored, kv)
				case strings.HasSuffix(k, "oob-limit-policy"):
					o.UrgentOOBLimit = pol
				default:
					o.Urgent = pol
				}
			case "threshold-file":
				o.ThresholdFile = strings.ReplaceAll(v, "${TEST_DIR}", dir)
			case "app-layer.protocols.http.libhtp.default-config.response-body-limit",
				"app-layer.protocols.http.libhtp.default-config.request-body-limit":
				if n, ok := parseSize(v); ok {
					o.HTTPBodyLimit = max(o.HTTPBodyLimit, n)
				} else {
					o.Ignored = append(o.Ignored, kv)
				}
			default:
				o.Ignored = append(o.Ignored, kv)
			}
		default:
			o.Ignored = append(o.Ignored, t)
		}
	}
	return o
}

// parseSize reads Suricata's sizes: 4096, 200kb, 1mb, 1gb.
func parseSize(s string) (int, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	mult := 1
	for _, u := range []struct {
		suffix string
		m      int
	}{{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.m
			break
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > (1<<31)/mult {
		return 0, false
	}
	return n * mult, true
}

// Satisfied reports whether interdict meets a requires block, and if not,
// why.
func (r *Requires) Satisfied() (bool, string) {
	if r == nil {
		return true, ""
	}
	if r.MinVersion != "" && compareVersion(Version, r.MinVersion) < 0 {
		return false, "needs Suricata >= " + r.MinVersion
	}
	if r.LtVersion != "" && compareVersion(Version, r.LtVersion) >= 0 {
		return false, "needs Suricata < " + r.LtVersion
	}
	if r.GtVersion != "" && compareVersion(Version, r.GtVersion) <= 0 {
		return false, "needs Suricata > " + r.GtVersion
	}
	if r.Version != "" && !versionIs(Version, r.Version) {
		return false, "only for Suricata " + r.Version
	}
	for _, f := range r.Features {
		if !Features[f] {
			return false, "needs feature " + f
		}
	}
	return true, ""
}

func parseVersion(s string) ([3]int, int) {
	var v [3]int
	parts := strings.Split(strings.TrimSpace(s), ".")
	n := 0
	for i := 0; i < len(parts) && i < 3; i++ {
		x, err := strconv.Atoi(parts[i])
		if err != nil {
			break
		}
		v[i] = x
		n++
	}
	return v, n
}

func compareVersion(have [3]int, want string) int {
	w, _ := parseVersion(want)
	for i := range 3 {
		if have[i] != w[i] {
			if have[i] < w[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

func versionIs(have [3]int, want string) bool {
	w, n := parseVersion(want)
	for i := range n {
		if have[i] != w[i] {
			return false
		}
	}
	return true
}

// UnmarshalYAML reads a mapping keeping its key order.
func (m *yamlOrderedMap) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: match must be a mapping", n.Line)
	}
	m.Values = make(map[string]any, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		var v any
		if err := n.Content[i+1].Decode(&v); err != nil {
			return fmt.Errorf("line %d: match %s: %w", n.Content[i].Line, k, err)
		}
		if _, dup := m.Values[k]; !dup {
			m.Keys = append(m.Keys, k)
		}
		m.Values[k] = v
	}
	return nil
}

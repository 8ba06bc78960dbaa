package conformance

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v4"

	"github.com/interdict/interdict/inspect/replay"
)

const eveLines = `{"event_type":"alert","src_port":143,"alert":{"signature_id":1,"action":"allowed"},"http":{"hostname":"a"},"vlan":[3136],"tx_id":0}
{"event_type":"alert","alert":{"signature_id":2,"action":"blocked"},"traffic":{"id":["mozilla"]}}
{"event_type":"alert","alert":{"signature_id":2,"action":"allowed"},"extra":null}
{"event_type":"flow","dest_port":143,"flow":{"alerted":true,"action":"drop"},"tcp":{"state":"closed"}}
{"event_type":"http","http":{"status":200,"hostname":"nx2500-242-4-server"}}`

func events(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	dec := json.NewDecoder(strings.NewReader(eveLines))
	for dec.More() {
		var m map[string]any
		require.NoError(t, dec.Decode(&m))
		out = append(out, m)
	}
	return out
}

func filter(t *testing.T, y string) *Filter {
	t.Helper()
	var c Check
	require.NoError(t, yaml.Unmarshal([]byte(y), &c))
	require.NotNil(t, c.Filter)
	return c.Filter
}

func TestFilterEval(t *testing.T) {
	evs := events(t)
	for _, tt := range []struct {
		name string
		yaml string
		ok   bool
		got  int
	}{
		{"count by type", "filter: {count: 3, match: {event_type: alert}}", true, 3},
		{"wrong count", "filter: {count: 2, match: {event_type: alert}}", false, 3},
		{"dotted path", "filter: {count: 2, match: {event_type: alert, alert.signature_id: 2}}", true, 2},
		{"string value", "filter: {count: 1, match: {alert.action: blocked}}", true, 1},
		{"number given as string", `filter: {count: 1, match: {http.status: "200"}}`, true, 1},
		{"bool", "filter: {count: 1, match: {event_type: flow, flow.alerted: true}}", true, 1},
		{"bool mismatch", "filter: {count: 0, match: {flow.alerted: false}}", true, 0},
		{"list index", "filter: {count: 1, match: {'traffic.id[0]': mozilla}}", true, 1},
		{"index out of range", "filter: {count: 0, match: {'traffic.id[1]': mozilla}}", true, 0},
		{"vlan index number", "filter: {count: 1, match: {event_type: alert, 'vlan[0]': 3136}}", true, 1},
		{"zero value present", "filter: {count: 1, match: {tx_id: 0}}", true, 1},
		{"has-key", "filter: {count: 1, match: {event_type: alert, alert.signature_id: 1, has-key: http}}", true, 1},
		{"has-key absent", "filter: {count: 0, match: {event_type: alert, alert.signature_id: 2, has-key: http}}", true, 0},
		{"null is absent", "filter: {count: 0, match: {has-key: extra}}", true, 0},
		{"not-has-key", "filter: {count: 2, match: {event_type: alert, not-has-key: http}}", true, 2},
		{"whole list", "filter: {count: 1, match: {traffic.id: [mozilla]}}", true, 1},
		{"__len", "filter: {count: 1, match: {traffic.id.__len: 1}}", true, 1},
		{"lt", "filter: {lt: 4, match: {event_type: alert}}", true, 3},
		{"lt fails", "filter: {lt: 3, match: {event_type: alert}}", false, 3},
		{"gt", "filter: {gt: 2, match: {event_type: alert}}", true, 3},
		{"no count means at least one", "filter: {match: {event_type: stats}}", false, 0},
		{"top-level port", "filter: {count: 1, match: {event_type: flow, dest_port: 143}}", true, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ok, got := filter(t, tt.yaml).Eval(evs)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.got, got)
		})
	}
}

func TestFilterDescribeKeepsOrder(t *testing.T) {
	f := filter(t, "filter: {count: 1, match: {event_type: alert, alert.signature_id: 7, has-key: http}}")
	assert.Equal(t, "event_type=alert alert.signature_id=7 has-key=http", f.Describe())
	assert.Equal(t, "1", f.Expect())
	assert.True(t, f.Positive())
	assert.False(t, filter(t, "filter: {count: 0, match: {event_type: alert}}").Positive())
}

func TestRequires(t *testing.T) {
	for _, tt := range []struct {
		name string
		r    Requires
		ok   bool
	}{
		{"none", Requires{}, true},
		{"min major", Requires{MinVersion: "7"}, true},
		{"min exact", Requires{MinVersion: "8.0.0"}, true},
		{"min newer", Requires{MinVersion: "9"}, false},
		{"lt 9", Requires{LtVersion: "9"}, true},
		{"lt 8", Requires{LtVersion: "8"}, false},
		{"gt older", Requires{GtVersion: "6.0.11"}, true},
		{"version prefix", Requires{Version: "8.0"}, true},
		{"version other", Requires{Version: "7.0.6"}, false},
		{"libnet", Requires{Features: []string{"LIBNET1.1"}}, true},
		{"unknown feature", Requires{Features: []string{"HAVE_LUA"}}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ok, why := tt.r.Satisfied()
			assert.Equal(t, tt.ok, ok, why)
		})
	}
	var nilReq *Requires
	ok, _ := nilReq.Satisfied()
	assert.True(t, ok)
}

func TestParseArgs(t *testing.T) {
	o := parseArgs("threshold/x", []string{"--set threshold-file=${TEST_DIR}/threshold.config", "--simulate-ips"}, "/t/x")
	assert.True(t, o.IPS)
	assert.Equal(t, "/t/x/threshold.config", o.ThresholdFile)

	o = parseArgs("a", []string{"-k none --set stream.midstream=true", "--set stream.midstream-policy=drop-flow", "--set vlan.use-for-tracking=false"}, "/t")
	assert.False(t, o.IPS)
	assert.True(t, o.Midstream)
	assert.True(t, o.MidstreamDrop)
	assert.Equal(t, []string{"vlan.use-for-tracking=false"}, o.Ignored)

	o = parseArgs("b", []string{"--set app-layer.protocols.http.libhtp.default-config.response-body-limit=1mb --set app-layer.protocols.http.libhtp.default-config.request-body-limit=200kb"}, "")
	assert.Equal(t, 1<<20, o.HTTPBodyLimit)
	for in, want := range map[string]int{"4096": 4096, "200kb": 200 << 10, "2MB": 2 << 20} {
		n, ok := parseSize(in)
		assert.True(t, ok, in)
		assert.Equal(t, want, n, in)
	}
	_, ok := parseSize("lots")
	assert.False(t, ok)

	o = parseArgs("c", []string{"--set stream.reassembly.urgent.policy=oob", "--set stream.reassembly.urgent.oob-limit-policy=gap", "--set stream.reassembly.urgent.policy=bogus"}, "")
	assert.Equal(t, replay.UrgentOOB, o.Urgent)
	assert.Equal(t, replay.UrgentGap, o.UrgentOOBLimit)
	assert.Equal(t, []string{"stream.reassembly.urgent.policy=bogus"}, o.Ignored)

	assert.True(t, parseArgs("eve-payload-03-tcp-exact-overlap-ips", nil, "").IPS, "a name containing ips runs in IPS mode")
	assert.False(t, parseArgs("util-action-tests/x", nil, "").IPS, "only the test's own name counts")
}

// writeTest lays out a minimal test directory.
func writeTest(t *testing.T, root, name, testYAML, rules string, extra map[string]string) string {
	t.Helper()
	dir := filepath.Join(root, name)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "test.yaml"), []byte(testYAML), 0o644))
	if rules != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "test.rules"), []byte(rules), 0o644))
	}
	for n, c := range extra {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644))
	}
	return dir
}

func TestLoadSpecAndApplicability(t *testing.T) {
	root := t.TempDir()
	writeTest(t, root, "shared", "checks: []\n", "alert tcp any any -> any any (content:\"x\"; sid:1;)\n", map[string]string{"input.pcap": "x"})

	for _, tt := range []struct {
		name, yaml, rules string
		extra             map[string]string
		testNA            string // substring; "" = applicable
		pass              bool   // Evaluate on the fixture events, when applicable
	}{
		{"plain", "pcap: ../shared/input.pcap\nchecks:\n- filter: {count: 1, match: {event_type: alert, alert.signature_id: 1}}\n",
			"alert tcp any any -> any any (content:\"x\"; sid:1;)", nil, "", true},
		{"failing count", "pcap: ../shared/input.pcap\nchecks:\n- filter: {count: 5, match: {event_type: alert, alert.signature_id: 1}}\n",
			"alert tcp any any -> any any (content:\"x\"; sid:1;)", nil, "", false},
		{"only absence is still applicable", "pcap: ../shared/input.pcap\nchecks:\n- filter: {count: 0, match: {alert.signature_id: 9}}\n",
			"alert tcp any any -> any any (content:\"x\"; sid:9;)", nil, "", true},
		{"payload fields", "pcap: ../shared/input.pcap\nchecks:\n- filter: {count: 0, match: {alert.signature_id: 1}}\n- filter: {count: 1, match: {alert.signature_id: 2, payload: R09PRA==}}\n",
			"alert tcp any any -> any any (content:\"x\"; sid:1;)", nil, "payload dump", false},
		{"tcp-pkt contrasted with tcp-stream", "pcap: ../shared/input.pcap\nchecks:\n- filter: {count: 1, match: {alert.signature_id: 2}}\n",
			"alert tcp-stream any any -> any any (content:\"x\"; sid:1;)\nalert tcp-pkt any any -> any any (content:\"x\"; sid:2;)", nil, "tcp-pkt", false},
		{"tcp-pkt alone is inspected as the stream", "pcap: ../shared/input.pcap\nchecks:\n- filter: {count: 1, match: {alert.signature_id: 1}}\n",
			"alert tcp-pkt any any -> any any (content:\"x\"; sid:1;)", nil, "", true},
		{"dsize 0 with an http check left", "pcap: ../shared/input.pcap\nchecks:\n- filter: {count: 4, match: {alert.signature_id: 1}}\n- filter: {count: 3, match: {event_type: drop}}\n- filter: {count: 1, match: {event_type: http}}\n",
			"drop tcp any any -> any any (dsize:0; sid: 1;)", nil, "dsize:0", false},
		{"urgent policy", "pcap: ../shared/input.pcap\nargs:\n- --set stream.reassembly.urgent.policy=oob\nchecks:\n- filter: {count: 1, match: {alert.signature_id: 1}}\n",
			"alert tcp any any -> any any (content:\"x\"; sid:1;)", nil, "", true},
		{"version too new", "pcap: ../shared/input.pcap\nrequires: {min-version: 9.1}\nchecks:\n- filter: {count: 1, match: {alert.signature_id: 1}}\n",
			"alert tcp any any -> any any (content:\"x\"; sid:1;)", nil, "needs Suricata >= 9.1", false},
		{"check for another version is not run", "pcap: ../shared/input.pcap\nchecks:\n- filter: {count: 1, match: {alert.signature_id: 1}}\n- filter: {requires: {lt-version: 7}, count: 9, match: {alert.signature_id: 1}}\n",
			"alert tcp any any -> any any (content:\"x\"; sid:1;)", nil, "", true},
		{"action order is replayed, not a reason to skip", "pcap: ../shared/input.pcap\nchecks:\n- filter: {count: 1, match: {alert.signature_id: 1}}\n",
			"alert tcp any any -> any any (content:\"x\"; sid:1;)", map[string]string{"suricata.yaml": "%YAML 1.1\n---\naction-order:\n  - drop\n  - pass\n  - reject\n  - alert\n"}, "", true},
		{"a count of every alert that includes a packet-header rule's is set aside; the sid checks decide",
			"pcap: ../shared/input.pcap\nchecks:\n- filter: {count: 2, match: {event_type: alert}}\n- filter: {count: 1, match: {event_type: alert, alert.signature_id: 2}}\n- filter: {count: 1, match: {event_type: alert, alert.signature_id: 1}}\n",
			"alert tcp-pkt any any -> any any (tcp.flags:R,A; content:\"x\"; sid:2;)\nalert tcp any any -> any any (content:\"x\"; sid:1;)", nil, "", true},
		{"the other rules' sid checks still fail",
			"pcap: ../shared/input.pcap\nchecks:\n- filter: {count: 2, match: {event_type: alert}}\n- filter: {count: 3, match: {event_type: alert, alert.signature_id: 1}}\n",
			"alert tcp-pkt any any -> any any (tcp.flags:R,A; content:\"x\"; sid:2;)\nalert tcp any any -> any any (content:\"x\"; sid:1;)", nil, "", false},
		{"shell only alongside a real check", "pcap: ../shared/input.pcap\nchecks:\n- shell: {args: 'cat fast.log', expect: 1}\n- filter: {count: 1, match: {alert.signature_id: 1}}\n",
			"alert tcp any any -> any any (content:\"x\"; sid:1;)", nil, "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTest(t, root, filepath.Base(t.Name()), tt.yaml, tt.rules, tt.extra)
			s, err := LoadSpec(root, dir)
			require.NoError(t, err)
			assert.Equal(t, filepath.Join(root, "shared", "input.pcap"), s.Pcap)
			facts := scanRules(s.Rules)
			na := s.TestNA(facts)
			if tt.testNA != "" {
				assert.Contains(t, na, tt.testNA)
				return
			}
			require.Empty(t, na)
			evs := []map[string]any{{"event_type": "alert", "alert": map[string]any{"signature_id": 1.0}}}
			o := s.Evaluate(evs, facts)
			assert.Equal(t, tt.pass, o.Status == Pass, o.Line(s.Name))
		})
	}
}

func TestLoadSpecErrors(t *testing.T) {
	root := t.TempDir()
	dir := writeTest(t, root, "nopcap", "checks: []\n", "alert tcp any any -> any any (sid:1;)", nil)
	_, err := LoadSpec(root, dir)
	assert.ErrorContains(t, err, "exactly one capture")

	dir = writeTest(t, root, "badpcap", "pcap: ../missing.pcap\n", "alert tcp any any -> any any (sid:1;)", nil)
	_, err = LoadSpec(root, dir)
	assert.ErrorContains(t, err, "missing.pcap")

	dir = writeTest(t, root, "badyaml", "checks: [\n", "", nil)
	_, err = LoadSpec(root, dir)
	assert.ErrorContains(t, err, "test.yaml")
}

func TestOutcomeLine(t *testing.T) {
	assert.Equal(t, "PASS a", Outcome{Status: Pass}.Line("a"))
	assert.Equal(t, "FAIL a: why", Outcome{Status: Fail, Reason: "why"}.Line("a"))
	assert.Equal(t, "N/A a: why", Outcome{Status: NotApplicable, Reason: "why"}.Line("a"))
}

func TestActionOrderFromSuricataYAML(t *testing.T) {
	root := t.TempDir()
	writeTest(t, root, "shared", "checks: []\n", "alert tcp any any -> any any (content:\"x\"; sid:1;)\n", map[string]string{"input.pcap": "x"})
	for _, tt := range []struct {
		name  string
		extra map[string]string
		want  []string
	}{
		{"drop first", map[string]string{"suricata.yaml": "%YAML 1.1\n---\noutputs: []\naction-order:\n  - drop\n  - pass\n  - reject\n  - alert\n"},
			[]string{"drop", "pass", "reject", "alert"}},
		{"no action-order key", map[string]string{"suricata.yaml": "%YAML 1.1\n---\noutputs: []\n"}, nil},
		{"no suricata.yaml", nil, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTest(t, root, filepath.Base(t.Name()), "pcap: ../shared/input.pcap\nchecks: []\n", "alert tcp any any -> any any (content:\"x\"; sid:1;)", tt.extra)
			s, err := LoadSpec(root, dir)
			require.NoError(t, err)
			assert.Equal(t, tt.want, s.Opts.ActionOrder)
		})
	}
}

// A check listed in packetChecks is skipped with its reason; the test's
// other checks still decide the outcome.
func TestPacketChecks(t *testing.T) {
	s := &Spec{Name: "bug-7199", Checks: []Check{
		{Filter: &Filter{}}, {Filter: &Filter{}},
	}}
	assert.Contains(t, s.CheckNA(&s.Checks[0], nil), "payload-less packet rule")
	assert.Empty(t, s.CheckNA(&s.Checks[1], nil))
	other := &Spec{Name: "other", Checks: []Check{{Filter: &Filter{}}}}
	assert.Empty(t, other.CheckNA(&other.Checks[0], nil))
}

// TestRuntimeYAML: without a suricata.yaml the case runs with the one
// Suricata ships (its flow timeouts); with one, Suricata's built-in
// timeouts under the file's own; in IPS mode a midstream pickup is
// dropped unless midstream is on or an exception policy says otherwise.
func TestRuntimeYAML(t *testing.T) {
	root := t.TempDir()
	none := writeTest(t, root, "none", "checks: []\n", "", nil)
	own := writeTest(t, root, "own", "checks: []\n", "", map[string]string{"suricata.yaml": "%YAML 1.1\n---\nflow-timeouts:\n  tcp:\n    closed: 5\n"})
	ignore := writeTest(t, root, "ignore", "checks: []\n", "", map[string]string{"suricata.yaml": "%YAML 1.1\n---\nexception-policy: ignore\n"})

	o := RunOpts{}
	require.NoError(t, o.readRuntimeYAML(none))
	assert.Equal(t, suricataYAMLTimeouts, *o.FlowTimeouts)
	assert.False(t, o.MidstreamDrop, "ids mode")

	o = RunOpts{IPS: true}
	require.NoError(t, o.readRuntimeYAML(own))
	assert.Equal(t, 5*time.Second, o.FlowTimeouts.TCP.Closed)
	assert.Equal(t, replay.DefaultFlowTimeouts.TCP.Established, o.FlowTimeouts.TCP.Established)
	assert.True(t, o.MidstreamDrop, "ips mode: drop-flow by default")

	o = RunOpts{IPS: true}
	require.NoError(t, o.readRuntimeYAML(ignore))
	assert.False(t, o.MidstreamDrop, "exception-policy: ignore")
	o = parseArgs("x", []string{"--simulate-ips", "--set exception-policy=ignore"}, "")
	require.NoError(t, o.readRuntimeYAML(none))
	assert.False(t, o.MidstreamDrop)
	o = parseArgs("x", []string{"--simulate-ips", "--set stream.midstream=true"}, "")
	require.NoError(t, o.readRuntimeYAML(none))
	assert.False(t, o.MidstreamDrop, "midstream pickup on")
}

// TestNoRuleFile: a case without rules runs without rules, as
// suricata-verify runs it, rather than failing to load.
func TestNoRuleFile(t *testing.T) {
	root := t.TempDir()
	dir := writeTest(t, root, "norules", "checks:\n- filter: {count: 1, match: {event_type: tls}}\n", "", map[string]string{"input.pcap": "x"})
	s, err := LoadSpec(root, dir)
	require.NoError(t, err)
	assert.Equal(t, []string{os.DevNull}, s.Rules)
}

// TestSkipFeature: suricata-verify's skip: feature makes a case not
// applicable where interdict has the feature, and not otherwise.
func TestSkipFeature(t *testing.T) {
	root := t.TempDir()
	writeTest(t, root, "shared", "checks: []\n", "", map[string]string{"input.pcap": "x"})
	have := writeTest(t, root, "have", "pcap: ../shared/input.pcap\nskip:\n- feature: HAVE_JA4\nchecks:\n- filter: {count: 1, match: {event_type: alert}}\n", "", nil)
	lack := writeTest(t, root, "lack", "pcap: ../shared/input.pcap\nskip:\n- feature: HAVE_NOTHING\nchecks:\n- filter: {count: 1, match: {event_type: alert}}\n", "", nil)
	s, err := LoadSpec(root, have)
	require.NoError(t, err)
	assert.Contains(t, s.TestNA(nil), "skipped where feature HAVE_JA4")
	s, err = LoadSpec(root, lack)
	require.NoError(t, err)
	assert.Empty(t, s.TestNA(nil))
}

// TestDNSVersionOption: eve-log dns version 2, in suricata.yaml or as
// SURICATA_EVE_DNS_VERSION in the case's env, selects the version 2
// records.
func TestDNSVersionOption(t *testing.T) {
	root := t.TempDir()
	writeTest(t, root, "shared", "checks: []\n", "", map[string]string{"input.pcap": "x"})
	byYAML := writeTest(t, root, "yaml", "pcap: ../shared/input.pcap\nchecks: []\n", "", map[string]string{
		"suricata.yaml": "%YAML 1.1\n---\noutputs:\n  - eve-log:\n      types:\n        - dns:\n            version: 2\n"})
	byEnv := writeTest(t, root, "env", "pcap: ../shared/input.pcap\nenv:\n  SURICATA_EVE_DNS_VERSION: 2\nchecks: []\n", "", nil)
	plain := writeTest(t, root, "plain", "pcap: ../shared/input.pcap\nchecks: []\n", "", nil)
	for dir, want := range map[string]bool{byYAML: true, byEnv: true, plain: false} {
		s, err := LoadSpec(root, dir)
		require.NoError(t, err)
		assert.Equal(t, want, s.Opts.EVE.Writer.DNSVersion2, dir)
	}
	filters := writeTest(t, root, "filters", "pcap: ../shared/input.pcap\nchecks: []\n", "", map[string]string{
		"suricata.yaml": "%YAML 1.1\n---\noutputs:\n  - eve-log:\n      types:\n        - dns:\n            requests: no\n            types: [mx, aaaa]\n"})
	s, err := LoadSpec(root, filters)
	require.NoError(t, err)
	assert.True(t, s.Opts.EVE.Writer.DNSNoRequests)
	assert.False(t, s.Opts.EVE.Writer.DNSNoResponses)
	assert.Equal(t, []string{"MX", "AAAA"}, s.Opts.EVE.Writer.DNSTypes)
}

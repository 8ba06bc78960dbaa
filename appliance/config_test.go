package appliance

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/interdict/interdict/appliance/enforce"
	"github.com/interdict/interdict/appliance/identity"
	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/inspect/http1"
	"github.com/interdict/interdict/inspect/prefilter"
	"github.com/interdict/interdict/netstack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A config file names only what it changes: the rest keeps the embedded
// default, and a map such as the protocol anomalies merges key by key.
func TestConfigOverlaysDefault(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte("mode: ids\nlink:\n  mode: tun\n  tun:\n    name: itest0\npolicy:\n  protocol:\n    anomalies:\n      DUPLICATE_CONTENT_LENGTH_FIELD_IN_REQUEST: \"off\"\n"), 0o600))
	s, err := LoadConfig(path)
	require.NoError(t, err)
	assert.Equal(t, enforce.IDS, s.Mode)
	assert.Equal(t, "itest0", s.Link.Name)
	assert.Equal(t, 2, s.Link.Queues, "unset keys keep the default")
	assert.Equal(t, "127.0.0.1:9108", s.Metrics)
	assert.True(t, s.Rules.DefaultPack)
	an := s.Policy.Protocol.Anomalies
	assert.Equal(t, "off", an["DUPLICATE_CONTENT_LENGTH_FIELD_IN_REQUEST"])
	assert.Equal(t, "reject", an["REQUEST_CONTENT_LENGTH_AND_TRANSFER_ENCODING"], "other default entries stay")
}

func TestDefaultConfig(t *testing.T) {
	s, err := LoadConfig("")
	require.NoError(t, err)
	// The default is the unprivileged WireGuard hub: no TUN, no SO_MARK.
	assert.Equal(t, "wireguard", s.LinkMode)
	assert.Equal(t, 51820, s.WireGuard.ListenPort)
	assert.Equal(t, 1420, s.WireGuard.MTU)
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("100.96.0.0/16"), netip.MustParsePrefix("fd00:96::/64")}, s.WireGuard.Pool)
	assert.Equal(t, filepath.Join(s.StateDir, "wireguard.key"), s.WireGuard.PrivateKeyFile)
	assert.Equal(t, "host", s.Upstream)
	assert.Zero(t, s.Host.Mark)
	assert.Equal(t, "127.0.0.1:9108", s.Metrics)
	assert.Equal(t, "detect", s.Handler.Mode)
	assert.Equal(t, enforce.IPS, s.Mode)
	assert.False(t, s.FailOpen)
	assert.True(t, s.Rules.DefaultPack)
	assert.False(t, s.Rules.AllowPartial)
	assert.Equal(t, int64(1<<20), s.Rules.StreamDepth)
	assert.Equal(t, defaultEVEPath(s.StateDir), s.EVEPath)
	assert.Equal(t, 30*time.Second, s.StatsInterval)
	assert.Equal(t, DefaultAdminSocketPath(), s.AdminSocket)
	assert.Empty(t, s.AdminTCP)
	assert.Equal(t, 5*time.Minute, s.Limits.IdleTimeout)
	assert.Equal(t, 100*time.Millisecond, s.Limits.TimeWait)
	assert.Equal(t, "text", s.LogFormat)
	// Request smuggling framing is rejected; rule-consequence blocks and
	// rate limits are opt-in.
	assert.Equal(t, "reject", s.Policy.Protocol.Anomalies["REQUEST_CONTENT_LENGTH_AND_TRANSFER_ENCODING"])
	assert.Empty(t, s.Policy.Block.OnAlert)
	assert.Zero(t, s.Policy.Rate.NewFlows.PerSecond)
}

func TestKeyParts(t *testing.T) {
	for path, want := range map[string][]string{
		"rules.files":       {"rules", "files"},
		"identities.0.name": {"identities", "0", "name"},
		"policy.block.on_alert[0].block_source_for": {"policy", "block", "on_alert", "0", "block_source_for"},
		"a.b[1][2].c": {"a", "b", "1", "2", "c"},
		"broken[1":    {"broken[1"},
	} {
		assert.Equal(t, want, keyParts(path), path)
	}
}

const base = `link:
  mode: tun
  tun:
    name: t0
`

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want string // substring of the error; empty: valid
	}{
		{"minimal", base, ""},
		{"pattern", base + "handler:\n  mode: pattern\n  pattern: EVIL\n  verdict: rejectboth\n", ""},
		{"unknown-top", base + "bogus: 1\n", `c.yaml:5: bogus: unknown key`},
		{"unknown-nested", base + "    nmae: x\n", `c.yaml:5: link.tun.nmae: unknown key (did you mean name?)`},
		{"bad-prefix", base + "    addresses: [10.0.0.1/24, 10.0.0.300/24]\n", `c.yaml:5: link.tun.addresses: invalid prefix "10.0.0.300/24"`},
		{"negative-duration", base + "limits:\n  tcp_idle: -5s\n", "c.yaml:6: limits.tcp_idle: duration -5s must be positive"},
		{"bad-duration", base + "limits:\n  udp_idle: forever\n", `c.yaml:6: limits.udp_idle: invalid duration "forever"`},
		{"negative-limit", base + "limits:\n  max_flows: -1\n", "c.yaml:6: limits.max_flows: -1 must not be negative"},
		{"wrong-type", base + "    mtu: big\n", "c.yaml:5:"},
		{"mtu-range", base + "    mtu: 100\n", "c.yaml:5: link.tun.mtu: 100 outside"},
		{"mark-negative", base + "upstream:\n  host:\n    mark: -1\n", "c.yaml:7:"},
		{"bad-verdict", base + "handler:\n  mode: pattern\n  pattern: x\n  verdict: maybe\n", `c.yaml:8: handler.verdict: "maybe"`},
		{"empty-pattern", base + "handler:\n  mode: pattern\n", "c.yaml:5: handler.pattern: empty"},
		{"bad-mode", "link:\n  mode: tap\n", `c.yaml:2: link.mode: "tap" not supported`},
		{"no-name", "link:\n  mode: tun\n  tun:\n    name: \"\"\n", "c.yaml:4: link.tun.name"},
		{"bad-metrics", base + "metrics:\n  listen: nowhere\n", `c.yaml:6: metrics.listen: invalid address "nowhere"`},
		{"bad-log", base + "log:\n  format: xml\n", `c.yaml:6: log.format: "xml"`},
		{"syntax", base + "  : [\n", "c.yaml:"},
		{"mode", base + "mode: ids\nfail_open: true\n", ""},
		{"bad-mode-key", base + "mode: enforce\n", `c.yaml:5: mode: "enforce" not supported`},
		{"identity", base + "identities:\n  - name: ci\n    prefixes: [10.1.0.0/16]\n    mode: ids\n", ""},
		{"identity-bad-prefix", base + "identities:\n  - name: ci\n    prefixes: [10.1.0.0/16]\n  - name: b\n    prefixes: [10.1.0/16]\n", `c.yaml:9: identities.1.prefixes: invalid prefix "10.1.0/16"`},
		{"identity-dup-prefix", base + "identities:\n  - name: a\n    prefixes: [10.1.0.0/16]\n  - name: b\n    prefixes: [10.1.0.0/16]\n", `c.yaml:9: identities.1.prefixes: prefix 10.1.0.0/16 already belongs to identity "a"`},
		{"identity-bad-mode", base + "identities:\n  - name: a\n    prefixes: [10.1.0.0/16]\n    mode: x\n", `c.yaml:8: identities.0.mode: "x"`},
		{"identity-no-name", base + "identities:\n  - prefixes: [10.1.0.0/16]\n", "c.yaml:6: identities.0.name: empty"},
		{"identity-unknown-key", base + "identities:\n  - name: a\n    prefix: [10.1.0.0/16]\n", `c.yaml:7: identities.0.prefix: unknown key (did you mean prefixes?)`},
		{"rules-none", base + "rules:\n  default_pack: false\n", "c.yaml:5: rules: no rules"},
		{"rules-unknown", base + "rules:\n  file: [x.rules]\n", `c.yaml:6: rules.file: unknown key (did you mean files?)`},
		{"rules-vars", base + "rules:\n  vars:\n    HOME_NET: \"[10.0.0.0/8]\"\n", ""},
		{"rules-stream-depth", base + "rules:\n  stream_depth: 1 MiB\n", ""},
		{"rules-stream-depth-bad", base + "rules:\n  stream_depth: lots\n", `c.yaml:6: rules.stream_depth: invalid size "lots"`},
		{"rules-stream-depth-negative", base + "rules:\n  stream_depth: -1\n", `c.yaml:6: rules.stream_depth: invalid size "-1"`},
		{"rules-http-section-over-1mib", base + "rules:\n  http:\n    header_section: 2MiB\n", `c.yaml:7: rules.http.header_section: 2MiB is over 1MiB`},
		{"rules-stream-depth-past-bad", base + "rules:\n  stream_depth_past: ignore\n", `c.yaml:6: rules.stream_depth_past: "ignore" not supported (want stop or reject)`},
		{"rules-prefilter", base + "rules:\n  prefilter: ac\n", ""},
		{"rules-prefilter-unknown", base + "rules:\n  prefilter: bogus\n", `c.yaml:6: rules.prefilter: unknown engine "bogus" (have [ac fdr `},
		{"rules-http-port-zero", base + "rules:\n  http_ports: [80, 0]\n", `c.yaml:6: rules.http_ports: port 0 outside [1, 65535]`},
		{"rules-http-count-negative", base + "rules:\n  http:\n    header_count: -1\n", `c.yaml:7: rules.http.header_count: -1 outside [0, 65536]`},
		{"rules-http-decoder-memory-unit", base + "rules:\n  http:\n    decoder_memory: 512\n", `c.yaml:7: rules.http.decoder_memory: 512 is under 1MiB (0 is unlimited)`},
		{"rules-http-decoder-memory-bad", base + "rules:\n  http:\n    decoder_memory: much\n", `c.yaml:7: rules.http.decoder_memory: invalid size "much"`},
		{"eve-stats", base + "eve:\n  stats_interval: soon\n", `c.yaml:6: eve.stats_interval: invalid duration "soon"`},
		{"admin-tcp-no-token", base + "admin:\n  tcp:\n    listen: 127.0.0.1:9109\n", "c.yaml:6: admin.tcp: a TCP listener needs a bearer token"},
		{"admin-tcp-empty-env", base + "admin:\n  tcp:\n    listen: 127.0.0.1:9109\n    token_env: INTERDICT_TEST_NO_SUCH_VAR\n", "c.yaml:6: admin.tcp: token is empty or shorter than 16 bytes"},
		{"admin-tcp-bad", base + "admin:\n  tcp:\n    listen: nowhere\n", `c.yaml:7: admin.tcp.listen: invalid address "nowhere"`},
		{"handler-bad", base + "handler:\n  mode: magic\n", `c.yaml:6: handler.mode: "magic" not supported (want detect, pass or pattern)`},
		{"policy", base + "policy:\n  block:\n    on_alert:\n      - {on: {action: drop, min_severity: 1}, block_source_for: 10m}\n  protocol:\n    anomalies: {REQUEST_CONTENT_LENGTH_AND_TRANSFER_ENCODING: reject}\n", ""},
		{"policy-indexed-key", base + "policy:\n  block:\n    on_alert:\n      - on: {action: drop}\n        block_source_for: 10m\n      - on: {sids: [5]}\n        block_source_for: soon\n",
			`c.yaml:11: policy.block.on_alert[1].block_source_for: invalid duration "soon"`},
		{"policy-missing-key", base + "policy:\n  block:\n    on_alert:\n      - on: {action: drop}\n", "c.yaml:8: policy.block.on_alert[0].block_source_for: missing"},
		{"policy-static", base + "policy:\n  block:\n    static:\n      - {prefix: 10.0.0.0/8}\n      - {prefix: 10.0.0.0/33}\n", `c.yaml:9: policy.block.static[1].prefix: invalid prefix "10.0.0.0/33"`},
		{"policy-anomaly", base + "policy:\n  protocol:\n    anomalies:\n      MISSING_HOST_HEADER: maybe\n", `c.yaml:8: policy.protocol.anomalies.MISSING_HOST_HEADER: "maybe" not one of`},
		{"policy-anomaly-misspelt", base + "policy:\n  protocol:\n    anomalies:\n      HTTP_PORT_NOT_HTTP: reject\n      REQUEST_URI_ENCODING_AMBIGUOS: reject\n", `c.yaml:9: policy.protocol.anomalies.REQUEST_URI_ENCODING_AMBIGUOS: no parser raises this anomaly (did you mean REQUEST_URI_ENCODING_AMBIGUOUS?)`},
		{"policy-unknown", base + "policy:\n  rate:\n    new_flow: {per_second: 1}\n", `c.yaml:7: policy.rate.new_flow: unknown key (did you mean new_flows?)`},
		{"interruption", base + "identities:\n  - {name: a, prefixes: [10.1.0.0/16], tags: [ci]}\ninterruption:\n  quarantine_allow: [10.9.0.5:443]\n  triggers:\n    - {name: scan, tags: [ci], scan: {ports: 50}, window: 10s, action: quarantine, for: 10m, escalate: {factor: 2, max: 4h}}\n    - {name: leak, identities: [a], alerts: {sids: [1003]}, action: quarantine}\n", ""},
		{"interruption-unknown-identity", base + "interruption:\n  triggers:\n    - name: x\n      identities: [ghost]\n      scan: {ports: 5}\n      action: pause\n", `c.yaml:8: interruption.triggers[0].identities[0]: unknown identity "ghost"`},
		{"interruption-bad-window", base + "interruption:\n  triggers:\n    - name: x\n      window: often\n      scan: {ports: 5}\n      action: pause\n", `c.yaml:8: interruption.triggers[0].window: "often"`},
		{"interruption-bad-allow", base + "interruption:\n  quarantine_allow: [10.9.0.0/33]\n", `c.yaml:6: interruption.quarantine_allow[0]: "10.9.0.0/33"`},
		{"interruption-two-kinds", base + "interruption:\n  triggers:\n    - name: x\n      scan: {ports: 5}\n      http_status: [401]\n      action: pause\n", `c.yaml:7: interruption.triggers[0]: want exactly one of alerts, scan, http_status, policy_denials, token_misuse`},
		{"interruption-unknown-key", base + "interruption:\n  triggers:\n    - {name: x, scan: {port: 5}, action: pause}\n", `c.yaml:7: interruption.triggers.0.scan.port: unknown key (did you mean ports?)`},
		{"policies", base + "identities:\n  - {name: a, prefixes: [10.1.0.0/16], tags: [ci]}\npolicies:\n  - name: ci\n    tags: [ci]\n    allow:\n      - {to: \"*.example.com\", ports: [443]}\n      - {to: 10.9.0.0/16, proto: tcp}\n      - {to: deploy.example.com, methods: [POST], paths: [/deploy/], schedule: {days: [mon-fri], hours: \"08:00-18:00\", tz: Europe/Berlin}}\n", ""},
		{"policies-bad-prefix", base + "policies:\n  - name: p\n    allow:\n      - to: 10.0.0.0/33\n", `c.yaml:8: policies[0].allow[0].to: invalid prefix "10.0.0.0/33"`},
		{"policies-bad-tz", base + "policies:\n  - name: p\n    allow:\n      - to: x.example.com\n        schedule: {tz: Mars/Olympus}\n", `c.yaml:9: policies[0].allow[0].schedule.tz: unknown time zone "Mars/Olympus"`},
		{"policies-unknown-identity", base + "policies:\n  - name: p\n    identities: [ghost]\n", `c.yaml:7: policies[0].identities[0]: unknown identity "ghost"`},
		{"policies-unknown-key", base + "policies:\n  - name: p\n    allow:\n      - {to: x.example.com, port: 443}\n", `c.yaml:8: policies.0.allow.0.port: unknown key (did you mean ports?)`},
		{"syn-bounds", base + "limits:\n  syn_in_flight: 10\n  syn_in_flight_per_source: 20\n", "c.yaml:7: limits.syn_in_flight_per_source: 20 exceeds"},
		{"syn-pressure-negative", base + "limits:\n  syn_pressure: -1\n", "c.yaml:6: limits.syn_pressure"},
		{"validate-first-always", base + "limits:\n  validate_first: always\n", ""},
		{"validate-first-bad", base + "limits:\n  validate_first: sometimes\n", `c.yaml:6: limits.validate_first: "sometimes" not one of pressure, always`},
		{"cluster-local", base + "cluster:\n  backend: local\n", ""},
		{"cluster-embedded", base + "cluster:\n  backend: nats\n  embedded:\n    name: hub-a\n    listen: 0.0.0.0:6222\n    routes: [nats-route://hub-a:6222, nats-route://hub-b:6222]\n", ""},
		{"cluster-external", base + "cluster:\n  backend: nats\n  timeout: 10s\n  nats:\n    urls: [nats://10.0.0.1:4222]\n", ""},
		{"cluster-bad-backend", base + "cluster:\n  backend: etcd\n", `c.yaml:6: cluster.backend: "etcd": want local or nats`},
		{"cluster-local-with-urls", base + "cluster:\n  nats:\n    urls: [nats://10.0.0.1:4222]\n", `c.yaml:5: cluster.backend: embedded and nats need backend: nats`},
		{"cluster-nowhere", base + "cluster:\n  backend: nats\n", "c.yaml:5: cluster.nats.urls: backend nats needs nats.urls or embedded"},
		{"cluster-bad-url", base + "cluster:\n  backend: nats\n  nats:\n    urls: [10.0.0.1:4222]\n", `c.yaml:8: cluster.nats.urls[0]: "10.0.0.1:4222": want a URL`},
		{"cluster-bad-listen", base + "cluster:\n  backend: nats\n  embedded:\n    listen: 6222\n", `c.yaml:8: cluster.embedded.listen: "6222": want host:port`},
		{"cluster-bad-route", base + "cluster:\n  backend: nats\n  embedded:\n    listen: :6222\n    routes: [hub-b:6222]\n", `c.yaml:9: cluster.embedded.routes[0]: "hub-b:6222": want nats-route://host:port`},
		{"cluster-bad-timeout", base + "cluster:\n  backend: nats\n  timeout: soon\n  nats: {urls: [nats://a:4222]}\n", `c.yaml:7: cluster.timeout: "soon"`},
		{"cluster-no-creds", base + "cluster:\n  backend: nats\n  nats:\n    urls: [nats://a:4222]\n    creds_file: none.creds\n", "c.yaml:9: cluster.nats.creds_file: stat "},
		{"cluster-unknown-key", base + "cluster:\n  backend: nats\n  embeded: {listen: :6222}\n", "c.yaml:7: cluster.embeded: unknown key (did you mean embedded?)"},
		{"handshake-timeout-bad", base + "limits:\n  handshake_timeout: soon\n", `c.yaml:6: limits.handshake_timeout: invalid duration "soon"`},
		{"eve-xff-bad-mode", base + "eve:\n  alert:\n    xff: {mode: sideways}\n", `c.yaml:7: eve.alert.xff: xff mode "sideways"`},
		{"eve-dump-bad", base + "eve:\n  http:\n    dump_all_headers: all\n", `c.yaml:7: eve.http.dump_all_headers: "all" not supported`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			require.NoError(t, os.WriteFile(path, []byte(tc.yaml), 0o600))
			_, err := LoadConfig(path)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), path[:len(path)-len("c.yaml")]+tc.want)
		})
	}
}

func TestPatternVerdict(t *testing.T) {
	c, err := ParseConfig("x", []byte(base+"handler:\n  mode: pattern\n  pattern: EVIL\n  verdict: reject\n"))
	require.NoError(t, err)
	s, err := c.Validate()
	require.NoError(t, err)
	assert.Equal(t, netstack.Reject, s.Verdict)
	assert.Equal(t, "EVIL", s.Handler.Pattern)
}

func TestDetectionSettings(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(tok, []byte("0123456789abcdef0123\n"), 0o600))
	path := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte(base+`mode: ids
identities:
  - name: wide
    prefixes: [10.0.0.0/8]
  - name: narrow
    prefixes: [10.1.0.0/16, "fd00::/64"]
    mode: ips
rules:
  default_pack: false
  files: [local.rules, /abs/other.rules]
  vars:
    $HOME_NET: "[10.0.0.0/8]"
  stream_depth: 256kb
  http: {start_line: 32KiB, header_count: 500}
eve:
  path: eve.json
  stats_interval: 5s
  http:
    extended: false
    dump_all_headers: both
    xff: {mode: overwrite, deployment: forward}
  alert:
    xff: {}
admin:
  socket: ""
  tcp:
    listen: 127.0.0.1:0
    token_file: token
`), 0o600))
	s, err := LoadConfig(path)
	require.NoError(t, err)
	assert.Equal(t, enforce.IDS, s.Mode)
	assert.Equal(t, map[string]enforce.Mode{"narrow": enforce.IPS}, s.IdentityModes)
	assert.Equal(t, []string{filepath.Join(dir, "local.rules"), "/abs/other.rules"}, s.Rules.Files)
	assert.Equal(t, map[string]string{"HOME_NET": "[10.0.0.0/8]"}, s.Rules.Vars)
	assert.False(t, s.Rules.DefaultPack)
	assert.Equal(t, int64(256<<10), s.Rules.StreamDepth)
	assert.Equal(t, 32<<10, s.Rules.HTTPLimits.StartLine)
	assert.Equal(t, 500, s.Rules.HTTPLimits.HeaderCount)
	assert.Equal(t, 64<<10, s.Rules.HTTPLimits.HeaderSection, "the embedded default")
	assert.Equal(t, int64(512<<20), s.Rules.HTTPLimits.DecoderMemory, "the embedded default")
	assert.True(t, s.Rules.HTTPLimits.FileInfo, "the embedded default")
	assert.Equal(t, []uint16{80, 8000, 8080}, s.Rules.HTTPPorts, "the embedded default")
	assert.Equal(t, filepath.Join(dir, "eve.json"), s.EVEPath)
	assert.Equal(t, 5*time.Second, s.StatsInterval)
	assert.Equal(t, eve.Options{HTTPBasic: true, HTTPXFF: &eve.XFF{Mode: eve.XFFOverwrite, Deployment: eve.XFFForward},
		AlertXFF: &eve.XFF{Mode: eve.XFFExtraData, Deployment: eve.XFFReverse}}, s.EVE)
	assert.Equal(t, "both", s.Rules.HTTPLimits.HeaderLog)
	assert.Empty(t, s.AdminSocket, "an explicit empty socket disables it")
	assert.Equal(t, "0123456789abcdef0123", s.AdminToken)

	ids := identity.NewRegistry()
	require.NoError(t, ids.Replace("config", configEntries(s.Identities)))
	for addr, want := range map[string]string{"10.1.2.3": "narrow", "10.2.0.1": "wide", "192.168.1.1": "", "fd00::5": "narrow", "::ffff:10.1.0.9": "narrow"} {
		assert.Equal(t, want, ids.Lookup(netip.MustParseAddr(addr)).IdentityName(), addr)
	}
}

func TestWireGuardConfigErrors(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"bad key": {"link:\n  wireguard:\n    peers:\n      - name: a\n        public_key: nope\n        allowed_ips: [100.96.0.2/32]\n",
			"c.yaml:5: link.wireguard.peers.0.public_key: wireguard: invalid key"},
		"no allowed ips": {"link:\n  wireguard:\n    peers:\n      - name: a\n        public_key: hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n",
			"link.wireguard.peers.0.allowed_ips: peer \"a\" has no allowed IPs"},
		"bad name": {"link:\n  wireguard:\n    peers:\n      - name: a/b\n        public_key: hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n        allowed_ips: [100.96.0.2/32]\n",
			"c.yaml:4: link.wireguard.peers.0.name: invalid peer name"},
		"bad port": {"link:\n  wireguard:\n    listen_port: 70000\n", "c.yaml:3: link.wireguard.listen_port: 70000 outside"},
		"bad pool": {"link:\n  wireguard:\n    pool: [100.96.0.0]\n", "c.yaml:3: link.wireguard.pool: invalid prefix"},
		"holds the hub": {"link:\n  wireguard:\n    peers:\n      - name: a\n        public_key: hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n        allowed_ips: [10.0.0.0/8, 100.96.0.0/16]\n",
			"c.yaml:6: link.wireguard.peers.0.allowed_ips: 100.96.0.0/16 holds the hub's address 100.96.0.1"},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			require.NoError(t, os.WriteFile(path, []byte(tc.yaml), 0o600))
			_, err := LoadConfig(path)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// A peer's preshared key file, like the hub's key, is refused when others
// may read it, with the chmod that fixes it.
func TestWireGuardKeyFilePermissions(t *testing.T) {
	dir := t.TempDir()
	psk := filepath.Join(dir, "psk")
	require.NoError(t, os.WriteFile(psk, []byte("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n"), 0o644))
	path := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte("link:\n  wireguard:\n    peers:\n      - name: a\n        public_key: hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n        allowed_ips: [100.96.0.2/32]\n        preshared_key_file: psk\n"), 0o600))
	_, err := LoadConfig(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "chmod 600 "+psk)
	require.NoError(t, os.Chmod(psk, 0o600))
	s, err := LoadConfig(path)
	require.NoError(t, err)
	assert.False(t, s.WireGuard.Peers[0].PresharedKey.IsZero())

	// The hub's own key: generated 0600 on first start, refused once
	// others may read it.
	keyPath := filepath.Join(dir, "state", "wireguard.key")
	k1, created, err := loadOrCreateKey(keyPath)
	require.NoError(t, err)
	assert.True(t, created)
	fi, err := os.Stat(keyPath)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	k2, created, err := loadOrCreateKey(keyPath)
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, k1, k2, "the key survives a restart")
	require.NoError(t, os.Chmod(keyPath, 0o640))
	_, _, err = loadOrCreateKey(keyPath)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "chmod 600")
}

// rules.prefilter: hyperscan loads in a binary built with it and is
// refused, with the build tag to use, in one built without (the default
// container image); the setting reaches the rule set spec.
func TestRulesPrefilter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte(base+"rules:\n  prefilter: hyperscan\n"), 0o600))
	s, err := LoadConfig(path)
	if _, built := prefilter.Builders()["hyperscan"]; built {
		require.NoError(t, err)
		assert.NotNil(t, s.Rules.Spec().Prefilter)
		return
	}
	require.Error(t, err)
	assert.Contains(t, err.Error(), "c.yaml:6: rules.prefilter: hyperscan engine not built in (build with -tags hyperscan")
}

// decoder_memory: 0 is unlimited because the config says so (absent is
// the parser's default, not unlimited).
func TestConfigDecoderMemoryUnlimited(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte("rules:\n  http:\n    decoder_memory: 0\n"), 0o600))
	s, err := LoadConfig(path)
	require.NoError(t, err)
	assert.Equal(t, int64(-1), s.Rules.HTTPLimits.DecoderMemory)
	assert.Zero(t, http1.NewBudget(s.Rules.HTTPLimits.DecoderMemory).Limit())
}

package appliance

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/interdict/interdict/netstack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultConfig(t *testing.T) {
	s, err := LoadConfig("")
	require.NoError(t, err)
	assert.Equal(t, "interdict0", s.Link.Name)
	assert.Equal(t, 2, s.Link.Queues)
	assert.Equal(t, 5000, s.Link.TxQueueLen)
	assert.Equal(t, "host", s.Upstream)
	assert.Equal(t, uint32(0x1d1c), s.Host.Mark)
	assert.Equal(t, "127.0.0.1:9108", s.Metrics)
	assert.Equal(t, "pass", s.Handler.Mode)
	assert.Equal(t, 5*time.Minute, s.Limits.IdleTimeout)
	assert.Equal(t, 100*time.Millisecond, s.Limits.TimeWait)
	assert.Equal(t, "text", s.LogFormat)
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
		{"unknown-top", base + "bogus: 1\n", `c.yaml:5: unknown key "bogus"`},
		{"unknown-nested", base + "    nmae: x\n", `c.yaml:5: unknown key "nmae"`},
		{"bad-prefix", base + "    addresses: [10.0.0.1/24, 10.0.0.300/24]\n", `c.yaml:5: link.tun.addresses: invalid prefix "10.0.0.300/24"`},
		{"negative-duration", base + "limits:\n  tcp_idle: -5s\n", "c.yaml:6: limits.tcp_idle: duration -5s must be positive"},
		{"bad-duration", base + "limits:\n  udp_idle: forever\n", `c.yaml:6: limits.udp_idle: invalid duration "forever"`},
		{"negative-limit", base + "limits:\n  max_flows: -1\n", "c.yaml:6: limits.max_flows: -1 must not be negative"},
		{"wrong-type", base + "    mtu: big\n", "c.yaml:5:"},
		{"mtu-range", base + "    mtu: 100\n", "c.yaml:5: link.tun.mtu: 100 outside"},
		{"mark-negative", base + "upstream:\n  host:\n    mark: -1\n", "c.yaml:7:"},
		{"bad-verdict", base + "handler:\n  mode: pattern\n  pattern: x\n  verdict: maybe\n", `c.yaml:8: handler.verdict: "maybe"`},
		{"empty-pattern", base + "handler:\n  mode: pattern\n", "c.yaml:5: handler.pattern: empty"},
		{"bad-mode", "link:\n  mode: wireguard\n", `c.yaml:2: link.mode: "wireguard" not supported`},
		{"no-name", "link:\n  mode: tun\n", "c.yaml:1: link.tun.name"},
		{"bad-metrics", base + "metrics:\n  listen: nowhere\n", `c.yaml:6: metrics.listen: invalid address "nowhere"`},
		{"bad-log", base + "log:\n  format: xml\n", `c.yaml:6: log.format: "xml"`},
		{"syntax", base + "  : [\n", "c.yaml:"},
		{"syn-bounds", base + "limits:\n  syn_in_flight: 10\n  syn_in_flight_per_source: 20\n", "c.yaml:7: limits.syn_in_flight_per_source: 20 exceeds"},
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

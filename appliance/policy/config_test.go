package policy

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v4"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/netstack"
)

func TestConfigYAML(t *testing.T) {
	const doc = `
block:
  reset_with: reject
  static:
    - {prefix: 203.0.113.0/24, reason: abuse}
    - {prefix: 198.51.100.7, for: 1h}
  on_alert:
    - {on: {action: drop, min_severity: 1}, block_source_for: 10m}
    - {on: {sids: [2010935, 2010936]}, block_source_for: 1h, reason: scanner}
rate:
  new_flows: {per_second: 20, burst: 40, action: reject}
  bytes: {per_second: 1048576, action: delay, max_delay: 2s}
protocol:
  default: alert
  app_protos: {http: reject}
  anomalies: {MISSING_HOST_HEADER: "off"}
`
	var c Config
	require.NoError(t, yaml.Load([]byte(doc), &c, yaml.WithKnownFields()))
	s, err := c.compile()
	require.NoError(t, err)
	assert.Equal(t, netstack.Reject, s.resetWith)
	require.Len(t, s.static, 2)
	assert.Equal(t, netip.MustParsePrefix("203.0.113.0/24"), s.static[0].prefix)
	assert.Zero(t, s.static[0].dur, "no for: no expiry")
	assert.Equal(t, netip.MustParsePrefix("198.51.100.7/32"), s.static[1].prefix)
	assert.Equal(t, time.Hour, s.static[1].dur)
	assert.Equal(t, "static", s.static[1].reason)
	require.Len(t, s.onAlert, 2)
	assert.Equal(t, inspect.ActionDrop, s.onAlert[0].action)
	assert.Equal(t, 1, s.onAlert[0].maxSev)
	assert.Equal(t, 10*time.Minute, s.onAlert[0].dur)
	assert.True(t, s.onAlert[1].anyAction)
	assert.True(t, s.onAlert[1].sids[2010936])
	assert.Equal(t, "scanner", s.onAlert[1].reason)
	assert.Equal(t, &newFlowSettings{limit: 20, burst: 40, verdict: netstack.Reject, maxSources: DefaultMaxSources, idle: DefaultIdle}, s.newFlows)
	assert.Equal(t, &bytesSettings{limit: 1048576, burst: 1048576, verdict: netstack.Continue, maxDelay: 2 * time.Second}, s.bytes)
	assert.Equal(t, netstack.Reject, s.protocol.byApp["http"].verdict)
	assert.True(t, s.protocol.byName["MISSING_HOST_HEADER"].off)
	assert.True(t, s.protocol.action(&inspect.Anomaly{AppProto: "http", Event: "missing_host_header"}).off,
		"names in lower case, as the DNS and HTTP/2 parsers raise them, find the upper-case key")

	var bad Config
	err = yaml.Load([]byte("block:\n  statics: []\n"), &bad, yaml.WithKnownFields())
	assert.ErrorContains(t, err, "statics", "unknown keys are refused by the strict loader")
}

func TestConfigValidateNamesTheKey(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		key  string
		msg  string
	}{
		{"bad prefix", Config{Block: BlockConfig{Static: []StaticBlock{{Prefix: "10.0.0.1"}, {Prefix: "10.0.0/8"}}}}, "block.static[1].prefix", "invalid prefix"},
		{"duplicate prefix", Config{Block: BlockConfig{Static: []StaticBlock{{Prefix: "10.0.0.0/8"}, {Prefix: "10.1.2.3/8"}}}}, "block.static[1].prefix", "block.static[0]"},
		{"bad for", Config{Block: BlockConfig{Static: []StaticBlock{{Prefix: "10.0.0.1", For: "soon"}}}}, "block.static[0].for", "invalid duration"},
		{"negative for", Config{Block: BlockConfig{Static: []StaticBlock{{Prefix: "10.0.0.1", For: "-1m"}}}}, "block.static[0].for", "positive"},
		{"too many static", Config{Block: BlockConfig{MaxEntries: 1, Static: []StaticBlock{{Prefix: "10.0.0.1"}, {Prefix: "10.0.0.2"}}}}, "block.static", "exceed"},
		{"reset_with", Config{Block: BlockConfig{ResetWith: "pass"}}, "block.reset_with", "not one of"},
		{"on_alert action", Config{Block: BlockConfig{OnAlert: []AlertBlock{{On: AlertMatch{Action: "block"}, BlockSourceFor: "1m"}}}}, "block.on_alert[0].on.action", "not one of"},
		{"on_alert severity", Config{Block: BlockConfig{OnAlert: []AlertBlock{{On: AlertMatch{MinSeverity: -1}, BlockSourceFor: "1m"}}}}, "block.on_alert[0].on.min_severity", "outside"},
		{"on_alert missing duration", Config{Block: BlockConfig{OnAlert: []AlertBlock{{On: AlertMatch{Action: "drop"}}}}}, "block.on_alert[0].block_source_for", "missing"},
		{"new_flows rate", Config{Rate: RateConfig{NewFlows: NewFlowsConfig{Burst: 3}}}, "rate.new_flows.per_second", "positive"},
		{"new_flows action", Config{Rate: RateConfig{NewFlows: NewFlowsConfig{PerSecond: 1, Action: "delay"}}}, "rate.new_flows.action", "not one of drop, reject"},
		{"new_flows idle", Config{Rate: RateConfig{NewFlows: NewFlowsConfig{PerSecond: 1, Idle: "x"}}}, "rate.new_flows.idle", "invalid duration"},
		{"bytes burst", Config{Rate: RateConfig{Bytes: BytesConfig{PerSecond: 1, Burst: -1}}}, "rate.bytes.burst", "negative"},
		{"bytes action", Config{Rate: RateConfig{Bytes: BytesConfig{PerSecond: 1, Action: "pass"}}}, "rate.bytes.action", "not one of delay"},
		{"max_delay with drop", Config{Rate: RateConfig{Bytes: BytesConfig{PerSecond: 1, Action: "drop", MaxDelay: "1s"}}}, "rate.bytes.max_delay", "only applies"},
		{"protocol default", Config{Protocol: ProtocolConfig{Default: "block"}}, "protocol.default", "not one of"},
		{"protocol app case", Config{Protocol: ProtocolConfig{AppProtos: map[string]string{"HTTP": "reject"}}}, "protocol.app_protos.HTTP", "lower case"},
		{"protocol anomaly name", Config{Protocol: ProtocolConfig{Anomalies: map[string]string{"bad name": "reject"}}}, "protocol.anomalies.bad name", "upper case"},
		{"protocol anomaly action", Config{Protocol: ProtocolConfig{Anomalies: map[string]string{"X": "maybe"}}}, "protocol.anomalies.X", "not one of"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			require.Error(t, err)
			var ce *ConfigError
			require.True(t, errors.As(err, &ce), "want a *ConfigError, got %T %v", err, err)
			assert.Equal(t, tc.key, ce.Key)
			assert.Contains(t, ce.Msg, tc.msg)
			assert.Contains(t, err.Error(), tc.key)
		})
	}
}

func TestParsePrefix(t *testing.T) {
	tests := []struct{ in, want string }{
		{"10.0.0.7", "10.0.0.7/32"},
		{"10.0.0.7/24", "10.0.0.0/24"},
		{"fd00::1", "fd00::1/128"},
		{"::ffff:10.0.0.7", "10.0.0.7/32"},
		{"::ffff:10.0.0.0/120", "10.0.0.0/24"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			p, err := ParsePrefix(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, p.String())
		})
	}
}

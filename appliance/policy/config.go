package policy

import (
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/netstack"
)

// Config is the policy section of the appliance config (YAML). Durations
// are strings ("10m", "1h30m") so Validate can name the key of a bad
// value. The zero Config enables nothing.
//
//	block:
//	  static:
//	    - {prefix: 203.0.113.0/24, reason: abuse}       # no expiry
//	    - {prefix: 198.51.100.7, for: 1h, reason: scan}
//	  on_alert:
//	    - {on: {action: drop, min_severity: 1}, block_source_for: 10m}
//	    - {on: {sids: [2010935, 2010936]}, block_source_for: 1h}
//	rate:
//	  new_flows: {per_second: 20, burst: 40, action: reject}
//	  bytes: {per_second: 1048576, action: delay, max_delay: 1s}
//	protocol:
//	  app_protos: {http: reject}
//	  anomalies: {MISSING_HOST_HEADER: alert}
type Config struct {
	Block    BlockConfig    `yaml:"block"`
	Rate     RateConfig     `yaml:"rate"`
	Protocol ProtocolConfig `yaml:"protocol"`
}

// BlockConfig is the source block list.
type BlockConfig struct {
	// MaxEntries bounds the block list (default 65536, as the guard's).
	MaxEntries int `yaml:"max_entries"`
	// ResetWith is how live flows of a newly blocked source end:
	// rejectboth (default: RST to both legs, so the server does not take a
	// half-sent request for a complete one), reject, rejectdst or drop.
	ResetWith string `yaml:"reset_with"`
	// Static entries are blocked from start-up; For empty means no expiry.
	Static []StaticBlock `yaml:"static"`
	// OnAlert blocks the source of a flow whose alert matches On.
	OnAlert []AlertBlock `yaml:"on_alert"`
}

// StaticBlock is one configured block-list entry.
type StaticBlock struct {
	// Prefix is a CIDR prefix or a bare address (a host prefix).
	Prefix string `yaml:"prefix"`
	// For is how long the entry lasts (a duration); empty: until
	// `interdict ctl unblock`.
	For string `yaml:"for"`
	// Reason is shown by `interdict ctl blocks` and in EVE.
	Reason string `yaml:"reason"`
}

// AlertBlock is a rule consequence: a matching alert blocks the flow's
// client address (/32 or /128) for BlockSourceFor.
type AlertBlock struct {
	On AlertMatch `yaml:"on"`
	// BlockSourceFor is how long the client address stays blocked (a
	// duration, required).
	BlockSourceFor string `yaml:"block_source_for"`
	// Reason is shown in the block list and EVE; empty: the rule's msg.
	Reason string `yaml:"reason"`
}

// AlertMatch selects alerts. Every set field must match.
type AlertMatch struct {
	// Action is the rule's action: alert, drop, reject (reject and
	// rejectsrc), rejectdst, rejectboth, pass; empty matches any.
	Action string `yaml:"action"`
	// MinSeverity N matches alerts at least as severe as N, i.e. with a
	// severity in 1..N (1 is the highest, as Suricata's priority); 0
	// matches any severity, including rules without one.
	MinSeverity int `yaml:"min_severity"`
	// SIDs matches these signature ids only; empty matches any.
	SIDs []uint32 `yaml:"sids"`
}

// RateConfig holds the rate limits; a zero PerSecond disables a limit.
type RateConfig struct {
	NewFlows NewFlowsConfig `yaml:"new_flows"`
	Bytes    BytesConfig    `yaml:"bytes"`
}

// NewFlowsConfig limits new flows (TCP SYNs and UDP sessions) per client
// address.
type NewFlowsConfig struct {
	// PerSecond is the sustained rate of new flows per client address;
	// 0 disables the limit.
	PerSecond float64 `yaml:"per_second"`
	// Burst is the bucket size (default: PerSecond rounded up, at least 1).
	Burst int `yaml:"burst"`
	// Action for a flow over the limit: drop (default; the SYN is dropped
	// and its 5-tuple blackholed, the client times out) or reject (RST,
	// ICMP unreachable for UDP).
	Action string `yaml:"action"`
	// MaxSources bounds the per-source limiter table (default 65536); at
	// the bound the least recently used source is evicted, which only
	// gives it a fresh bucket.
	MaxSources int `yaml:"max_sources"`
	// Idle evicts a source's limiter unused this long (default 1m).
	Idle string `yaml:"idle"`
}

// BytesConfig limits the bytes per second of each direction of each flow.
type BytesConfig struct {
	// PerSecond is the sustained byte rate of each flow direction; 0
	// disables the limit.
	PerSecond float64 `yaml:"per_second"`
	// Burst is the bucket size in bytes (default: PerSecond, at least
	// 1500).
	Burst int `yaml:"burst"`
	// Action over the limit: delay (default: the chunk waits, the relay
	// forwards it later, TCP backpressure slows the sender), drop, reject.
	Action string `yaml:"action"`
	// MaxDelay bounds the wait for one chunk (default 1s). A chunk that
	// would need longer waits MaxDelay and the rest of its debt is
	// forgiven, so the effective ceiling is max(per_second,
	// relay_buffer/max_delay); with 32 KiB reads and 1s that is 32 KiB/s.
	MaxDelay string `yaml:"max_delay"`
}

// ProtocolConfig maps app-layer anomalies (inspect.Anomaly, e.g. the
// HTTP parser's REQUEST_CONTENT_LENGTH_AND_TRANSFER_ENCODING) onto
// actions: alert (only logged and counted), drop, reject, rejectdst,
// rejectboth, or off (ignored). The most specific setting wins:
// Anomalies by event name, then AppProtos by app protocol, then Default
// (empty: alert).
type ProtocolConfig struct {
	Default string `yaml:"default"`
	// AppProtos sets the action of every anomaly of an app protocol
	// (http, tls, dns).
	AppProtos map[string]string `yaml:"app_protos"`
	// Anomalies sets the action of one anomaly by its EVE event name.
	Anomalies map[string]string `yaml:"anomalies"`
}

// ConfigError is a validation error; Key is the dotted path of the bad
// value below the policy section, e.g. "block.static[1].prefix".
type ConfigError struct {
	Key string
	Msg string
}

func (e *ConfigError) Error() string { return "policy: " + e.Key + ": " + e.Msg }

func cfgErr(key, format string, args ...any) error {
	return &ConfigError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Defaults of the config keys.
const (
	DefaultMaxEntries = 1 << 16
	DefaultMaxSources = 1 << 16
	DefaultIdle       = time.Minute
	DefaultMaxDelay   = time.Second
)

// settings is a validated Config.
type settings struct {
	maxEntries int
	resetWith  netstack.Verdict
	static     []staticEntry
	onAlert    []alertRule

	newFlows *newFlowSettings
	bytes    *bytesSettings
	protocol *protocolSettings
}

type staticEntry struct {
	prefix netip.Prefix
	dur    time.Duration // 0: no expiry
	reason string
}

type alertRule struct {
	action    inspect.Action // ActionNone: any
	anyAction bool
	maxSev    int // 0: any
	sids      map[uint32]bool
	dur       time.Duration
	reason    string
}

type newFlowSettings struct {
	limit      float64
	burst      int
	verdict    netstack.Verdict
	maxSources int
	idle       time.Duration
}

type bytesSettings struct {
	limit    float64
	burst    int
	verdict  netstack.Verdict // Continue means delay
	maxDelay time.Duration
}

type protocolSettings struct {
	def    protoAction
	byApp  map[string]protoAction
	byName map[string]protoAction
}

// protoAction is what an anomaly does; alert only counts it.
type protoAction struct {
	off     bool
	verdict netstack.Verdict // Continue: alert
}

func (a protoAction) String() string {
	switch {
	case a.off:
		return "off"
	case a.verdict == netstack.Continue:
		return "alert"
	}
	return a.verdict.String()
}

var terminalVerdicts = map[string]netstack.Verdict{
	"drop": netstack.Drop, "reject": netstack.Reject, "rejectsrc": netstack.Reject,
	"rejectdst": netstack.RejectDst, "rejectboth": netstack.RejectBoth,
}

var ruleActions = map[string]inspect.Action{
	"alert": inspect.ActionAlert, "pass": inspect.ActionPass, "drop": inspect.ActionDrop,
	"reject": inspect.ActionReject, "rejectsrc": inspect.ActionReject,
	"rejectdst": inspect.ActionRejectDst, "rejectboth": inspect.ActionRejectBoth,
}

func duration(key, v string, required bool) (time.Duration, error) {
	if v == "" {
		if required {
			return 0, cfgErr(key, "missing (a duration, e.g. 10m)")
		}
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, cfgErr(key, "invalid duration %q (use e.g. 30s, 10m, 1h)", v)
	}
	if d <= 0 {
		return 0, cfgErr(key, "duration %s must be positive", v)
	}
	return d, nil
}

// ParsePrefix reads a CIDR prefix or a bare address (a host prefix) and
// masks it; 4-in-6 addresses are unmapped so they match IPv4 packets.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Validate checks every value; the error is a *ConfigError naming the key.
func (c *Config) Validate() error {
	_, err := c.compile()
	return err
}

func (c *Config) compile() (*settings, error) {
	s := &settings{maxEntries: c.Block.MaxEntries, resetWith: netstack.RejectBoth}
	if s.maxEntries < 0 {
		return nil, cfgErr("block.max_entries", "%d must not be negative", s.maxEntries)
	}
	if s.maxEntries == 0 {
		s.maxEntries = DefaultMaxEntries
	}
	if c.Block.ResetWith != "" {
		v, ok := terminalVerdicts[c.Block.ResetWith]
		if !ok {
			return nil, cfgErr("block.reset_with", "%q not one of rejectboth, reject, rejectdst, drop", c.Block.ResetWith)
		}
		s.resetWith = v
	}
	seen := map[netip.Prefix]int{}
	for i, e := range c.Block.Static {
		key := fmt.Sprintf("block.static[%d]", i)
		p, err := ParsePrefix(e.Prefix)
		if err != nil {
			return nil, cfgErr(key+".prefix", "invalid prefix %q (want an address or address/bits)", e.Prefix)
		}
		if j, dup := seen[p]; dup {
			return nil, cfgErr(key+".prefix", "%s is also block.static[%d]", p, j)
		}
		seen[p] = i
		d, err := duration(key+".for", e.For, false)
		if err != nil {
			return nil, err
		}
		reason := e.Reason
		if reason == "" {
			reason = "static"
		}
		s.static = append(s.static, staticEntry{prefix: p, dur: d, reason: reason})
	}
	if len(s.static) > s.maxEntries {
		return nil, cfgErr("block.static", "%d entries exceed block.max_entries %d", len(s.static), s.maxEntries)
	}
	for i, r := range c.Block.OnAlert {
		key := fmt.Sprintf("block.on_alert[%d]", i)
		ar := alertRule{anyAction: r.On.Action == "" || r.On.Action == "any", maxSev: r.On.MinSeverity, reason: r.Reason}
		if !ar.anyAction {
			a, ok := ruleActions[r.On.Action]
			if !ok {
				return nil, cfgErr(key+".on.action", "%q not one of alert, drop, reject, rejectsrc, rejectdst, rejectboth, pass, any", r.On.Action)
			}
			ar.action = a
		}
		if ar.maxSev < 0 || ar.maxSev > 255 {
			return nil, cfgErr(key+".on.min_severity", "%d outside [0, 255] (1 is the most severe; 0 matches any)", ar.maxSev)
		}
		if len(r.On.SIDs) > 0 {
			ar.sids = make(map[uint32]bool, len(r.On.SIDs))
			for _, sid := range r.On.SIDs {
				ar.sids[sid] = true
			}
		}
		d, err := duration(key+".block_source_for", r.BlockSourceFor, true)
		if err != nil {
			return nil, err
		}
		ar.dur = d
		if ar.reason == "" {
			ar.reason = describeMatch(r.On)
		}
		s.onAlert = append(s.onAlert, ar)
	}

	if nf := c.Rate.NewFlows; nf != (NewFlowsConfig{}) {
		key := "rate.new_flows"
		if nf.PerSecond <= 0 || math.IsInf(nf.PerSecond, 0) || math.IsNaN(nf.PerSecond) {
			return nil, cfgErr(key+".per_second", "%v must be a positive number", nf.PerSecond)
		}
		ns := &newFlowSettings{limit: nf.PerSecond, burst: nf.Burst, verdict: netstack.Drop, maxSources: nf.MaxSources, idle: DefaultIdle}
		if ns.burst < 0 {
			return nil, cfgErr(key+".burst", "%d must not be negative", ns.burst)
		}
		if ns.burst == 0 {
			ns.burst = max(1, int(math.Ceil(nf.PerSecond)))
		}
		switch nf.Action {
		case "", "drop":
		case "reject":
			ns.verdict = netstack.Reject
		default:
			return nil, cfgErr(key+".action", "%q not one of drop, reject", nf.Action)
		}
		if ns.maxSources < 0 {
			return nil, cfgErr(key+".max_sources", "%d must not be negative", ns.maxSources)
		}
		if ns.maxSources == 0 {
			ns.maxSources = DefaultMaxSources
		}
		if nf.Idle != "" {
			d, err := duration(key+".idle", nf.Idle, false)
			if err != nil {
				return nil, err
			}
			ns.idle = d
		}
		s.newFlows = ns
	}

	if b := c.Rate.Bytes; b != (BytesConfig{}) {
		key := "rate.bytes"
		if b.PerSecond <= 0 || math.IsInf(b.PerSecond, 0) || math.IsNaN(b.PerSecond) {
			return nil, cfgErr(key+".per_second", "%v must be a positive number", b.PerSecond)
		}
		bs := &bytesSettings{limit: b.PerSecond, burst: b.Burst, maxDelay: DefaultMaxDelay}
		if bs.burst < 0 {
			return nil, cfgErr(key+".burst", "%d must not be negative", bs.burst)
		}
		if bs.burst == 0 {
			bs.burst = max(1500, int(min(b.PerSecond, math.MaxInt32)))
		}
		switch b.Action {
		case "", "delay":
			bs.verdict = netstack.Continue
		case "drop", "reject":
			bs.verdict = terminalVerdicts[b.Action]
		default:
			return nil, cfgErr(key+".action", "%q not one of delay, drop, reject", b.Action)
		}
		if b.MaxDelay != "" {
			d, err := duration(key+".max_delay", b.MaxDelay, false)
			if err != nil {
				return nil, err
			}
			if bs.verdict != netstack.Continue {
				return nil, cfgErr(key+".max_delay", "only applies to action delay (action is %s)", b.Action)
			}
			bs.maxDelay = d
		}
		s.bytes = bs
	}

	p := c.Protocol
	if p.Default != "" || len(p.AppProtos) > 0 || len(p.Anomalies) > 0 {
		ps := &protocolSettings{byApp: map[string]protoAction{}, byName: map[string]protoAction{}}
		var err error
		if ps.def, err = parseProtoAction("protocol.default", p.Default); err != nil {
			return nil, err
		}
		for _, app := range sortedKeys(p.AppProtos) {
			if app == "" || strings.ToLower(app) != app {
				return nil, cfgErr("protocol.app_protos."+app, "app protocol names are lower case (http, tls, dns)")
			}
			if ps.byApp[app], err = parseProtoAction("protocol.app_protos."+app, p.AppProtos[app]); err != nil {
				return nil, err
			}
		}
		for _, name := range sortedKeys(p.Anomalies) {
			if !validEventName(name) {
				return nil, cfgErr("protocol.anomalies."+name, "anomaly event names are upper case letters, digits and '_' (e.g. REQUEST_CONTENT_LENGTH_AND_TRANSFER_ENCODING)")
			}
			if ps.byName[name], err = parseProtoAction("protocol.anomalies."+name, p.Anomalies[name]); err != nil {
				return nil, err
			}
		}
		s.protocol = ps
	}
	return s, nil
}

func parseProtoAction(key, v string) (protoAction, error) {
	switch v {
	case "", "alert":
		return protoAction{}, nil
	case "off":
		return protoAction{off: true}, nil
	}
	if t, ok := terminalVerdicts[v]; ok {
		return protoAction{verdict: t}, nil
	}
	return protoAction{}, cfgErr(key, "%q not one of alert, drop, reject, rejectsrc, rejectdst, rejectboth, off", v)
}

func validEventName(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func describeMatch(m AlertMatch) string {
	var parts []string
	if m.Action != "" {
		parts = append(parts, "action "+m.Action)
	}
	if m.MinSeverity > 0 {
		parts = append(parts, fmt.Sprintf("severity <= %d", m.MinSeverity))
	}
	if len(m.SIDs) > 0 {
		parts = append(parts, fmt.Sprintf("sids %v", m.SIDs))
	}
	if len(parts) == 0 {
		return "alert"
	}
	return "alert with " + strings.Join(parts, ", ")
}

// matches reports whether alert a selects this rule.
func (r *alertRule) matches(a *inspect.Alert) bool {
	ri := a.Rule
	if ri == nil || a.NoAlert {
		return false
	}
	if !r.anyAction && ri.Action != r.action {
		return false
	}
	if r.maxSev > 0 && (ri.Severity < 1 || ri.Severity > r.maxSev) {
		return false
	}
	if r.sids != nil && !r.sids[ri.SID] {
		return false
	}
	return true
}

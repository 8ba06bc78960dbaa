package identity

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/interdict/interdict/inspect"
)

// InterruptConfig is the "interruption" section of the appliance config:
// the triggers that pause or quarantine an identity, and the destinations
// a quarantined identity may still reach.
type InterruptConfig struct {
	// Triggers pause or quarantine identities.
	Triggers []TriggerConfig `yaml:"triggers"`
	// QuarantineAllow are destinations a quarantined identity still
	// reaches (e.g. the secrets manager it needs to rotate a key): a
	// prefix or address, optionally with a port ("10.9.0.5:443").
	QuarantineAllow []string `yaml:"quarantine_allow"`
}

// TriggerConfig is one trigger: what is counted (exactly one of Alerts,
// Scan, HTTPStatus, PolicyDenials), for whom (Identities and Tags; both empty is every
// identity), how many within what window, and what follows.
type TriggerConfig struct {
	// Name names the trigger in EVE, logs and the metric's trigger label.
	Name string `yaml:"name"`
	// Identities the trigger counts for (with Tags; both empty: all).
	Identities []string `yaml:"identities"`
	// Tags whose identities the trigger counts for.
	Tags []string `yaml:"tags"`
	// Mode ips (default) interrupts; ids only records would-<action>.
	Mode string `yaml:"mode"`
	// Count events within Window fire the trigger (default 1: at once).
	Count int `yaml:"count"`
	// Window is the sliding window (default 1m, at most 24h).
	Window string `yaml:"window"`

	// Alerts counts the identity's alerts that match.
	Alerts *AlertTrigger `yaml:"alerts"`
	// Scan counts distinct destination ports and hosts.
	Scan *ScanTrigger `yaml:"scan"`
	// HTTPStatus counts HTTP responses with these codes to the identity
	// (401, 403: a stolen key probing).
	HTTPStatus []int `yaml:"http_status"`
	// PolicyDenials counts the identity's egress policy denials.
	PolicyDenials bool `yaml:"policy_denials"`
	// TokenMisuse counts requests with a token bound to another identity.
	TokenMisuse bool `yaml:"token_misuse"`

	// Action is pause (new flows refused) or quarantine (live flows
	// reset too, packets dropped).
	Action string `yaml:"action"`
	// For is the interruption's length (default 10m, at most 30 days).
	For string `yaml:"for"`
	// Escalate lengthens repeat offences.
	Escalate *EscalateConfig `yaml:"escalate"`
}

// AlertTrigger selects the alerts a trigger counts; empty fields match
// any alert.
type AlertTrigger struct {
	// MinSeverity counts alerts of this severity or more severe (1 is
	// the most severe; 0 matches every severity).
	MinSeverity int `yaml:"min_severity"`
	// SIDs counts only these rules (e.g. a secret leaving: count 1).
	SIDs []uint32 `yaml:"sids"`
	// Actions are rule actions: alert, drop, reject, rejectdst,
	// rejectboth.
	Actions []string `yaml:"actions"`
}

// ScanTrigger fires when one identity reaches at least Ports distinct
// destination ports or Hosts distinct destination addresses within the
// trigger's window (zero disables that half).
type ScanTrigger struct {
	// Ports is the number of distinct destination ports (0: not counted).
	Ports int `yaml:"ports"`
	// Hosts is the number of distinct destination addresses (0: not
	// counted).
	Hosts int `yaml:"hosts"`
}

// EscalateConfig multiplies the duration by Factor on each repeat
// offence of the identity, up to Max.
type EscalateConfig struct {
	// Factor multiplies the length per repeat offence (1 to 100).
	Factor float64 `yaml:"factor"`
	// Max caps the length (default 30 days).
	Max string `yaml:"max"`
}

// ConfigError is a validation error; Key is the dotted path of the bad
// value below the interruption section, e.g. "triggers[1].window".
type ConfigError struct {
	Key string
	Msg string
}

func (e *ConfigError) Error() string { return "interruption: " + e.Key + ": " + e.Msg }

func cfgErr(key, format string, args ...any) error {
	return &ConfigError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Actions of an interruption.
const (
	ActionPause      = "pause"
	ActionQuarantine = "quarantine"
)

// Trigger kinds, as EVE evidence names them.
const (
	kindAlert  = "alert"
	kindScan   = "scan"
	kindStatus = "http_status"
	kindDenial = "policy_denial"
	kindToken  = "token_misuse"
)

// Defaults and bounds of the trigger keys.
const (
	DefaultFor    = 10 * time.Minute
	DefaultWindow = time.Minute
	// MaxDuration bounds any interruption, escalated or manual.
	MaxDuration = 30 * 24 * time.Hour
	// maxCount bounds the timestamps a window keeps per identity.
	maxCount = 10_000
)

// trigger is a validated TriggerConfig.
type trigger struct {
	name       string
	kind       string
	identities map[string]bool
	tags       []string
	enforcing  bool
	count      int
	window     time.Duration

	minSeverity int
	sids        map[uint32]bool
	actions     map[inspect.Action]bool
	ports       int
	hosts       int
	statuses    []int

	action string
	dur    time.Duration
	factor float64
	maxDur time.Duration
}

// allowDst is one quarantine_allow destination; port 0 is any port.
type allowDst struct {
	prefix netip.Prefix
	port   uint16
}

// settings is a validated InterruptConfig.
type settings struct {
	triggers []*trigger
	allow    []allowDst
	hasScan  bool
	hasAlert bool
	// kinds holds the per-flow-event kinds in use (denials, tokens).
	kinds map[string]bool
}

// Validate checks every value; the error is a *ConfigError naming the key.
// known reports whether an identity name is configured (nil: not
// checked, e.g. identities that only WireGuard knows).
func (c *InterruptConfig) Validate(known func(string) bool) error {
	_, err := c.compile(known)
	return err
}

var ruleActions = map[string]inspect.Action{
	"alert": inspect.ActionAlert, "drop": inspect.ActionDrop, "reject": inspect.ActionReject,
	"rejectsrc": inspect.ActionReject, "rejectdst": inspect.ActionRejectDst, "rejectboth": inspect.ActionRejectBoth,
}

func (c *InterruptConfig) compile(known func(string) bool) (*settings, error) {
	s := &settings{kinds: map[string]bool{}}
	names := map[string]bool{}
	for i, tc := range c.Triggers {
		key := fmt.Sprintf("triggers[%d]", i)
		t := &trigger{name: tc.Name, identities: map[string]bool{}, count: tc.Count, enforcing: true}
		if !validName(tc.Name) {
			return nil, cfgErr(key+".name", "%q: want a short name of letters, digits, '-', '_' (it is a metric label)", tc.Name)
		}
		if names[tc.Name] {
			return nil, cfgErr(key+".name", "%q names two triggers", tc.Name)
		}
		names[tc.Name] = true
		for j, n := range tc.Identities {
			if known != nil && !known(n) {
				return nil, cfgErr(fmt.Sprintf("%s.identities[%d]", key, j), "unknown identity %q", n)
			}
			t.identities[n] = true
		}
		t.tags = slices.Clone(tc.Tags)
		switch tc.Mode {
		case "", "ips":
		case "ids":
			t.enforcing = false
		default:
			return nil, cfgErr(key+".mode", "%q: want ips or ids", tc.Mode)
		}
		if t.count == 0 {
			t.count = 1
		}
		if t.count < 0 || t.count > maxCount {
			return nil, cfgErr(key+".count", "%d outside [1, %d]", tc.Count, maxCount)
		}
		t.window = DefaultWindow
		if tc.Window != "" {
			d, err := time.ParseDuration(tc.Window)
			if err != nil || d <= 0 || d > 24*time.Hour {
				return nil, cfgErr(key+".window", "%q: want a positive duration up to 24h (e.g. 30s)", tc.Window)
			}
			t.window = d
		}
		kinds := 0
		if a := tc.Alerts; a != nil {
			kinds++
			t.kind = kindAlert
			if a.MinSeverity < 0 || a.MinSeverity > 255 {
				return nil, cfgErr(key+".alerts.min_severity", "%d outside [0, 255]", a.MinSeverity)
			}
			t.minSeverity = a.MinSeverity
			if len(a.SIDs) > 0 {
				t.sids = map[uint32]bool{}
				for _, sid := range a.SIDs {
					t.sids[sid] = true
				}
			}
			if len(a.Actions) > 0 {
				t.actions = map[inspect.Action]bool{}
				for j, name := range a.Actions {
					act, ok := ruleActions[name]
					if !ok {
						return nil, cfgErr(fmt.Sprintf("%s.alerts.actions[%d]", key, j), "%q: want alert, drop, reject, rejectdst or rejectboth", name)
					}
					t.actions[act] = true
				}
			}
			s.hasAlert = true
		}
		if sc := tc.Scan; sc != nil {
			kinds++
			t.kind = kindScan
			if sc.Ports < 0 || sc.Hosts < 0 || sc.Ports > maxCount || sc.Hosts > maxCount || sc.Ports+sc.Hosts == 0 {
				return nil, cfgErr(key+".scan", "want ports and/or hosts in [1, %d]", maxCount)
			}
			if tc.Count > 1 {
				return nil, cfgErr(key+".count", "a scan trigger counts distinct ports or hosts; count does not apply")
			}
			t.ports, t.hosts = sc.Ports, sc.Hosts
			s.hasScan = true
		}
		if len(tc.HTTPStatus) > 0 {
			kinds++
			t.kind = kindStatus
			for j, code := range tc.HTTPStatus {
				if code < 100 || code > 599 {
					return nil, cfgErr(fmt.Sprintf("%s.http_status[%d]", key, j), "%d is not an HTTP status", code)
				}
			}
			t.statuses = slices.Clone(tc.HTTPStatus)
			s.hasAlert = true
		}
		if tc.PolicyDenials {
			kinds++
			t.kind = kindDenial
			s.kinds[kindDenial] = true
		}
		if tc.TokenMisuse {
			kinds++
			t.kind = kindToken
			s.kinds[kindToken] = true
		}
		if kinds != 1 {
			return nil, cfgErr(key, "want exactly one of alerts, scan, http_status, policy_denials, token_misuse")
		}
		switch tc.Action {
		case ActionPause, ActionQuarantine:
			t.action = tc.Action
		default:
			return nil, cfgErr(key+".action", "%q: want pause or quarantine", tc.Action)
		}
		t.dur = DefaultFor
		if tc.For != "" {
			d, err := time.ParseDuration(tc.For)
			if err != nil || d <= 0 || d > MaxDuration {
				return nil, cfgErr(key+".for", "%q: want a positive duration up to %s (e.g. 10m)", tc.For, MaxDuration)
			}
			t.dur = d
		}
		t.factor, t.maxDur = 1, t.dur
		if e := tc.Escalate; e != nil {
			if e.Factor < 1 || e.Factor > 100 || math.IsNaN(e.Factor) {
				return nil, cfgErr(key+".escalate.factor", "%v outside [1, 100]", e.Factor)
			}
			t.factor = e.Factor
			t.maxDur = MaxDuration
			if e.Max != "" {
				d, err := time.ParseDuration(e.Max)
				if err != nil || d < t.dur || d > MaxDuration {
					return nil, cfgErr(key+".escalate.max", "%q: want a duration from %s (for) up to %s", e.Max, t.dur, MaxDuration)
				}
				t.maxDur = d
			}
		}
		s.triggers = append(s.triggers, t)
	}
	for i, a := range c.QuarantineAllow {
		d, err := parseAllow(a)
		if err != nil {
			return nil, cfgErr(fmt.Sprintf("quarantine_allow[%d]", i), "%v", err)
		}
		s.allow = append(s.allow, d)
	}
	return s, nil
}

// parseAllow reads "PREFIX", "ADDR", "ADDR:PORT" or "[ADDR6]:PORT".
func parseAllow(v string) (allowDst, error) {
	if ap, err := netip.ParseAddrPort(v); err == nil {
		a := ap.Addr().Unmap()
		return allowDst{prefix: netip.PrefixFrom(a, a.BitLen()), port: ap.Port()}, nil
	}
	if p, err := netip.ParsePrefix(v); err == nil {
		return allowDst{prefix: p.Masked()}, nil
	}
	if a, err := netip.ParseAddr(v); err == nil {
		a = a.Unmap()
		return allowDst{prefix: netip.PrefixFrom(a, a.BitLen())}, nil
	}
	return allowDst{}, fmt.Errorf("%q: want a prefix, an address or address:port (e.g. 10.9.0.5:443)", v)
}

// validName accepts metric-label-safe names.
func validName(n string) bool {
	if n == "" || len(n) > 64 {
		return false
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// appliesTo reports whether t counts events of id.
func (t *trigger) appliesTo(id *Identity) bool {
	if len(t.identities) == 0 && len(t.tags) == 0 {
		return true
	}
	if t.identities[id.Name] {
		return true
	}
	for _, tag := range t.tags {
		if id.HasTag(tag) {
			return true
		}
	}
	return false
}

// duration is the interruption's length at the level-th offence (1 for
// the first): for * factor^(level-1), capped at escalate.max.
func (t *trigger) duration(level int) time.Duration {
	d := float64(t.dur) * math.Pow(t.factor, float64(level-1))
	if d > float64(t.maxDur) || math.IsInf(d, 0) {
		return t.maxDur
	}
	return time.Duration(d)
}

// matchesAlert reports whether alert a counts for t.
func (t *trigger) matchesAlert(a *inspect.Alert) bool {
	r := a.Rule
	if r == nil {
		return false
	}
	if t.minSeverity > 0 && (r.Severity == 0 || r.Severity > t.minSeverity) {
		return false
	}
	if t.sids != nil && !t.sids[r.SID] {
		return false
	}
	if t.actions != nil && !t.actions[r.Action] {
		return false
	}
	return true
}

// allowed reports whether a quarantined identity may still reach dst.
func (s *settings) allowed(dst netip.AddrPort) bool {
	a := dst.Addr().Unmap()
	for _, d := range s.allow {
		if d.prefix.Contains(a) && (d.port == 0 || d.port == dst.Port()) {
			return true
		}
	}
	return false
}

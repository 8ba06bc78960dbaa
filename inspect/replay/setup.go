package replay

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/interdict/interdict/inspect/detect"
	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/inspect/rules"
	"github.com/interdict/interdict/inspect/ruleset"

	// The app-layer parsers register themselves; replay detects the same
	// protocols the appliance does.
	"github.com/interdict/interdict/inspect/applayer"
	_ "github.com/interdict/interdict/inspect/dns"
	"github.com/interdict/interdict/inspect/http1"
	_ "github.com/interdict/interdict/inspect/ssh"
	_ "github.com/interdict/interdict/inspect/tls"
)

// Clock is the replay's notion of now: the timestamp of the packet being
// processed, so thresholds and detection_filter windows follow the
// capture's time, not the wall clock. Safe for concurrent reads.
type Clock struct{ ns atomic.Int64 }

// Now returns the current packet's time (the zero time before the first).
func (c *Clock) Now() time.Time {
	n := c.ns.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func (c *Clock) set(t time.Time) { c.ns.Store(t.UnixNano()) }

// Setup is a replay described by files, as `interdict replay` takes it;
// the conformance suite uses the same path.
type Setup struct {
	Pcap            string
	Rules           []string
	Classification  string            // classification.config; optional
	ThresholdConfig string            // threshold.config; optional
	Vars            map[string]string // address and port variables, without '$'
	// HTTPBodyLimit bounds the HTTP request and response body bytes kept
	// for inspection per message (Suricata's request-/response-body-limit);
	// 0 keeps the parser's default.
	HTTPBodyLimit int
	// HTTPLimits and HTTPPorts are ruleset.Spec's: the appliance's
	// rules.http and rules.http_ports, so a replay parses as `run` does.
	HTTPLimits http1.Limits
	HTTPPorts  []uint16
	// StreamDepth and StreamDepthReject are ruleset.Spec's (the
	// appliance's rules.stream_depth and stream_depth_past); 0 is
	// unlimited, as Suricata replays by default.
	StreamDepth       int64
	StreamDepthReject bool
	// ActionOrder is Suricata's action-order (e.g. drop, pass, reject,
	// alert), strongest first; empty keeps the default.
	ActionOrder []string
	Config      Config
}

// Loaded reports what rule loading kept and rejected.
type Loaded struct {
	Rules    int            // rules the engine runs
	Rejected []*rules.Error // rules the loader or the engine could not run, with file:line and reason
}

// Load reads the rule, classification and threshold files with
// inspect/ruleset, the loader the appliance uses, and compiles an engine
// whose threshold clock is clock (nil: wall clock). It also returns the
// traffic tags the rules set, for Config.TrafficTags.
func (s *Setup) Load(clock *Clock) (*detect.Engine, Loaded, map[uint32]eve.Traffic, error) {
	spec := ruleset.Spec{Vars: s.Vars, HTTPBodyLimit: s.HTTPBodyLimit, HTTPLimits: s.HTTPLimits,
		HTTPPorts: s.HTTPPorts, StreamDepth: s.StreamDepth, StreamDepthReject: s.StreamDepthReject, ActionOrder: s.ActionOrder,
		Packets: true} // replay reports packets (flow.pkts, flow.bytes)
	for _, f := range s.Rules {
		spec.Rules = append(spec.Rules, ruleset.File{Path: f})
	}
	if s.Classification != "" {
		spec.Classification = &ruleset.File{Path: s.Classification}
	}
	if s.ThresholdConfig != "" {
		spec.ThresholdConfig = &ruleset.File{Path: s.ThresholdConfig}
	}
	if clock != nil {
		spec.Now = clock.Now
	}
	res, err := ruleset.Load(spec)
	if err != nil {
		return nil, Loaded{}, nil, err
	}
	ld := Loaded{Rules: res.Loaded, Rejected: res.Rejected}
	return res.Engine, ld, trafficTags(res.Set.Rules), nil
}

// trafficTags finds Suricata 8's traffic tagging flowbits:
// flowbits:set,traffic/id/NAME and traffic/label/NAME.
func trafficTags(rs []*rules.Rule) map[uint32]eve.Traffic {
	var out map[uint32]eve.Traffic
	for _, r := range rs {
		for _, fb := range r.Flowbits {
			if fb.Op != "set" {
				continue
			}
			for _, n := range fb.Names {
				var t eve.Traffic
				if id, ok := strings.CutPrefix(n, "traffic/id/"); ok {
					t.ID = []string{id}
				} else if l, ok := strings.CutPrefix(n, "traffic/label/"); ok {
					t.Label = []string{l}
				} else {
					continue
				}
				if out == nil {
					out = map[uint32]eve.Traffic{}
				}
				cur := out[r.Info.SID]
				cur.ID = appendNew(cur.ID, t.ID...)
				cur.Label = appendNew(cur.Label, t.Label...)
				out[r.Info.SID] = cur
			}
		}
	}
	return out
}

// Run loads the engine and replays the capture.
func (s *Setup) Run() (Summary, Loaded, error) {
	if _, err := os.Stat(s.Pcap); err != nil {
		return Summary{}, Loaded{}, fmt.Errorf("pcap: %w", err)
	}
	clock := &Clock{}
	eng, ld, tags, err := s.Load(clock)
	if err != nil {
		return Summary{}, ld, err
	}
	cfg := s.Config
	cfg.Clock = clock
	if cfg.Protos == nil {
		cfg.Protos = applayer.Protos()
	}
	if cfg.TrafficTags == nil {
		cfg.TrafficTags = tags
	}
	sum, err := File(s.Pcap, eng, cfg)
	return sum, ld, err
}

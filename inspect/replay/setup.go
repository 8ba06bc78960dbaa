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

	// The app-layer parsers register themselves; replay detects the same
	// protocols the appliance does.
	"github.com/interdict/interdict/inspect/applayer"
	_ "github.com/interdict/interdict/inspect/dns"
	"github.com/interdict/interdict/inspect/http1"
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

// Load reads the rule, classification and threshold files and compiles
// an engine whose threshold clock is clock (nil: wall clock). It also
// returns the traffic tags the rules set, for Config.TrafficTags.
func (s *Setup) Load(clock *Clock) (*detect.Engine, Loaded, map[uint32]eve.Traffic, error) {
	var ld Loaded
	if len(s.Rules) == 0 {
		return nil, ld, nil, fmt.Errorf("no rule files given")
	}
	opts := &rules.Options{Vars: s.Vars}
	if s.Classification != "" {
		f, err := os.Open(s.Classification)
		if err != nil {
			return nil, ld, nil, fmt.Errorf("classification: %w", err)
		}
		classes, err := rules.LoadClassification(f, s.Classification)
		f.Close()
		if err != nil {
			return nil, ld, nil, fmt.Errorf("classification: %w", err)
		}
		opts.Classification = classes
	}
	set, err := rules.LoadFiles(s.Rules, opts)
	if err != nil {
		return nil, ld, nil, fmt.Errorf("rules: %w", err)
	}
	ld.Rejected = append(ld.Rejected, set.Errors...)
	eopts := detect.Options{}
	if len(s.ActionOrder) > 0 {
		if eopts.ActionOrder, err = detect.ParseActionOrder(s.ActionOrder); err != nil {
			return nil, ld, nil, err
		}
	}
	if clock != nil {
		eopts.Now = clock.Now
	}
	if s.ThresholdConfig != "" {
		f, err := os.Open(s.ThresholdConfig)
		if err != nil {
			return nil, ld, nil, fmt.Errorf("threshold config: %w", err)
		}
		tc, err := rules.LoadThresholds(f, s.ThresholdConfig)
		f.Close()
		if err != nil {
			return nil, ld, nil, fmt.Errorf("threshold config: %w", err)
		}
		eopts.Thresholds = tc
	}
	if s.HTTPBodyLimit > 0 {
		eopts.Protos = withHTTPBodyLimit(applayer.Protos(), s.HTTPBodyLimit)
	}
	eng, err := detect.New(set.Rules, eopts)
	if err != nil {
		return nil, ld, nil, fmt.Errorf("compile rules: %w", err)
	}
	ld.Rejected = append(ld.Rejected, eng.Rejected()...)
	ld.Rules = eng.Rules()
	return eng, ld, trafficTags(set.Rules), nil
}

// withHTTPBodyLimit returns protos with the HTTP parser's body bound set
// to n.
func withHTTPBodyLimit(protos []applayer.Proto, n int) []applayer.Proto {
	out := append([]applayer.Proto(nil), protos...)
	for i := range out {
		if out[i].Name == http1.AppProto {
			out[i].New = func() applayer.Parser { return http1.New(http1.WithMaxBodyBytes(n)) }
		}
	}
	return out
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

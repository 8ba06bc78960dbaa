package rules

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/interdict/interdict/inspect"
)

// Suppress is a threshold.config suppress line: alerts of the sid are
// dropped, for all traffic or only when the tracked address is in Net.
type Suppress struct {
	Track string // "", by_src, by_dst, by_either
	Net   netip.Prefix
}

// ThresholdConfig is a parsed threshold.config. Only gen_id 1 (rules) is
// meaningful here; other generators are skipped.
type ThresholdConfig struct {
	Suppress map[uint32][]Suppress
	// Override replaces a rule's own threshold (threshold and event_filter
	// lines).
	Override map[uint32]*Threshold
	// Rate holds rate_filter lines.
	Rate map[uint32]*RateFilter
}

// RateFilter changes a rule's action to NewAction for Timeout seconds
// once it matched more than Count times in Seconds.
type RateFilter struct {
	Threshold
	NewAction string
	Timeout   int
}

// LoadThresholds parses threshold.config.
func LoadThresholds(r io.Reader, file string) (*ThresholdConfig, error) {
	tc := &ThresholdConfig{Suppress: map[uint32][]Suppress{}, Override: map[uint32]*Threshold{}, Rate: map[uint32]*RateFilter{}}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		kind, rest, _ := strings.Cut(t, " ")
		kv := map[string]string{}
		for _, part := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(part), " ")
			kv[k] = strings.TrimSpace(v)
		}
		bad := func(why string) error { return fmt.Errorf("%s:%d: %s", file, line, why) }
		if kv["gen_id"] != "1" {
			continue
		}
		sid64, err := strconv.ParseUint(kv["sig_id"], 10, 32)
		if err != nil {
			return nil, bad("bad sig_id " + kv["sig_id"])
		}
		sid := uint32(sid64)
		num := func(k string) (int, error) {
			n, err := strconv.Atoi(kv[k])
			if err != nil || n < 0 {
				return 0, bad(fmt.Sprintf("bad %s %q", k, kv[k]))
			}
			return n, nil
		}
		switch kind {
		case "suppress":
			s := Suppress{Track: kv["track"]}
			if ip := strings.Trim(kv["ip"], "[] "); ip != "" {
				p, err := netip.ParsePrefix(ip)
				if err != nil {
					a, err2 := netip.ParseAddr(ip)
					if err2 != nil {
						return nil, bad("bad ip " + ip)
					}
					p = netip.PrefixFrom(a, a.BitLen())
				}
				s.Net = p
				if s.Track == "" {
					return nil, bad("suppress with ip needs track")
				}
			}
			tc.Suppress[sid] = append(tc.Suppress[sid], s)
		case "threshold", "event_filter":
			th := &Threshold{Type: kv["type"], Track: kv["track"]}
			if th.Count, err = num("count"); err != nil {
				return nil, err
			}
			if th.Seconds, err = num("seconds"); err != nil {
				return nil, err
			}
			switch th.Type {
			case "limit", "threshold", "both":
			default:
				return nil, bad("unsupported type " + th.Type)
			}
			tc.Override[sid] = th
		case "rate_filter":
			rf := &RateFilter{Threshold: Threshold{Track: kv["track"]}, NewAction: kv["new_action"]}
			if rf.Count, err = num("count"); err != nil {
				return nil, err
			}
			if rf.Seconds, err = num("seconds"); err != nil {
				return nil, err
			}
			if rf.Timeout, err = num("timeout"); err != nil {
				return nil, err
			}
			if _, ok := actions[rf.NewAction]; !ok {
				return nil, bad("unsupported new_action " + rf.NewAction)
			}
			tc.Rate[sid] = rf
		default:
			return nil, bad("unknown line type " + kind)
		}
	}
	return tc, sc.Err()
}

// ActionByName maps a rule action word onto inspect.Action.
func ActionByName(s string) (a inspect.Action, ok bool) { a, ok = actions[s]; return }

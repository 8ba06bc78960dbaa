package conformance

import (
	"bufio"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// packetLevel lists tests whose expectations follow from per-packet
// processing that a terminating proxy does not have, with the reason.
// Everything else is decided from the test's rules, fields and config
// (see CheckNA and TestNA), so adding a corpus case needs no entry here
// unless its point is packet-level in a way its files do not show.
var packetLevel = map[string]string{
	"bug-4663": "a contentless drop rule fires on the SYN in Suricata and every packet after it is counted (969 drops); " +
		"a proxy completes the handshake before it inspects anything, so the per-packet drop count differs by design",
	"bug-5464-verdict-06": "Teredo-encapsulated IPv6 (replay does not decode tunnels) and per-packet verdict/reject objects",
	// Suricata gives a drop rule of packet scope (no payload, no
	// app-layer keyword, flow:stateless: detect-engine.c
	// signature_properties) a drop of the packet only: each of the 24
	// packets after the handshake alerts and is dropped while the flow
	// goes on to close and time out. A proxy cannot drop part of a byte
	// stream and forward the rest, so its first drop ends the flow, and
	// every later count (alerts, drops, the pickup after the timeout)
	// differs by design.
	"ips/firewall-06-tls-sni-enforce": "a packet-scope drop rule (drop ip, flow:stateless) drops each packet while the flow goes on (24 alerts and drops); " +
		"a proxy cannot drop part of a byte stream and forward the rest, so its first drop ends the flow",
}

// packetChecks lists single checks (1-based, as the runner prints them)
// whose expected count follows from Suricata inspecting packets where a
// terminating proxy inspects each direction's byte stream once, with the
// exact reason. The test's other checks are still evaluated.
var packetChecks = map[string]map[int]string{
	"bug-7199": {
		// Suricata alerts sid 1 (reject ip, flow:to_server,established,
		// no payload keyword) once per to_server packet of the
		// established flow: the request, its bare ACKs and the FIN. A
		// proxy never inspects empty segments; the rule fires on the
		// stream once (check 2, the alert with the request's http
		// object, is still evaluated).
		1: "a payload-less packet rule counted once per to_server packet (bare ACKs and FIN included); a proxy inspects the stream, not empty segments",
	},
	// The util-action captures (scapy) send three segments without a
	// handshake, all with sequence number 0: the third repeats the first.
	// Suricata inspects every packet of such an unestablished flow, so
	// the repeated bytes alert twice; a stream holds them once.
	"util-action-tests/util-action-04": {2: retransmitted, 4: retransmitted},
	"util-action-tests/util-action-07": {2: retransmitted, 4: retransmitted},
	"util-action-tests/util-action-13": {3: retransmitted},
	"detect-bytetest-02": {
		// The capture is one mid-stream segment. Suricata reports sids 4
		// and 5 twice for it: once from inspecting the packet, once from
		// inspecting the same bytes as reassembled stream at flow
		// timeout. Checks 1-5 (flow, stats, sids 1-3) are still evaluated.
		6: "the same bytes counted twice, once as a packet and once as reassembled stream at flow timeout; a proxy inspects each stream byte once",
		7: "the same bytes counted twice, once as a packet and once as reassembled stream at flow timeout; a proxy inspects each stream byte once",
	},
}

const retransmitted = "the capture's third segment repeats the first (same sequence number, no handshake); " +
	"Suricata inspects both packets, a proxy's byte stream holds those bytes once"

// ruleFacts is what applicability needs to know about one rule, read from
// its text so that it does not depend on whether our engine loads it.
type ruleFacts struct {
	proto string // header protocol: tcp, tcp-pkt, tcp-stream, http, ...
	msg   string // the msg option (EVE alert.signature)
	// dsizeZero: the rule's dsize admits 0 (dsize:0, dsize:<N,
	// dsize:<=N), so Suricata also counts its matches on empty segments.
	dsizeZero bool
	// packetKW is a keyword that reads one packet's IP or TCP header
	// (flags, ipv4.hdr, ...), which a terminating proxy never sees.
	packetKW string
	// streamEvent: the rule matches an event of Suricata's TCP stream
	// engine (stream-event:...).
	streamEvent bool
}

var (
	sidRE   = regexp.MustCompile(`(?:^|[;(\s])sid\s*:\s*(\d+)`)
	msgRE   = regexp.MustCompile(`(?:^|[;(\s])msg\s*:\s*"((?:[^"\\]|\\.)*)"`)
	dsize0  = regexp.MustCompile(`(?:^|[;(\s])dsize\s*:\s*(?:0|<\s*=?\s*\d+)\s*;`)
	actions = map[string]bool{"alert": true, "drop": true, "pass": true, "reject": true, "rejectsrc": true, "rejectdst": true, "rejectboth": true}
	// packetKWs read a single packet's IP or TCP header: the segments a
	// proxy terminates are never inspected as packets.
	streamEventKW = regexp.MustCompile(`(?:^|[;(\s])stream-event\s*:`)
	packetKWs     = regexp.MustCompile(`(?:^|[;(\s])(flags|ipv4\.hdr|ipv6\.hdr|tcp\.hdr|udp\.hdr|tcp\.flags|ipv4-csum|tcpv4-csum|tcpv6-csum|udpv4-csum|ttl|fragbits|fragoffset|seq|ack|window|tos|ipopts|tcp\.mss|tcp\.wscale)\s*[:;]`)
)

func scanRules(paths []string) map[uint32]ruleFacts {
	out := map[uint32]ruleFacts{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var cont strings.Builder
		for sc.Scan() {
			// A rule may continue over lines ending in a backslash.
			if t := sc.Text(); strings.HasSuffix(t, "\\") {
				cont.WriteString(strings.TrimSuffix(t, "\\"))
				continue
			}
			cont.WriteString(sc.Text())
			line := strings.TrimSpace(cont.String())
			cont.Reset()
			fields := strings.Fields(line)
			if len(fields) < 2 || !actions[fields[0]] {
				continue
			}
			m := sidRE.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			sid, _ := strconv.ParseUint(m[1], 10, 32)
			f := ruleFacts{proto: fields[1], dsizeZero: dsize0.MatchString(line)}
			if m := msgRE.FindStringSubmatch(line); m != nil {
				f.msg = m[1]
			}
			f.streamEvent = streamEventKW.MatchString(line)
			if m := packetKWs.FindStringSubmatch(line[strings.IndexByte(line, '('):]); m != nil {
				f.packetKW = m[1]
			}
			out[uint32(sid)] = f
		}
		f.Close()
	}
	return out
}

// naFields are EVE fields we do not produce, by path prefix, with why.
var naFields = []struct{ prefix, reason string }{
	{"payload", "Suricata's payload dump of the matching packet"},
	{"packet", "Suricata's packet dump"},
	{"pkt_src", "Suricata's packet source (stream vs wire packet)"},
	{"stream", "Suricata's stream/packet origin flag of an alert"},
	{"fileinfo", "file extraction (fileinfo) is not implemented"},
	{"stats.exception_policy", "Suricata's exception-policy counters"},
	{"flow.exception_policy", "Suricata's exception-policy record"},
}

// CheckNA returns why a check is not applicable, or "".
func (s *Spec) CheckNA(c *Check, rules map[uint32]ruleFacts) string {
	for i := range s.Checks {
		if &s.Checks[i] == c {
			if why := packetChecks[s.Name][i+1]; why != "" {
				return why
			}
		}
	}
	if c.Shell != nil {
		return "shell check (a command over Suricata's own output files)"
	}
	if c.Filter == nil {
		for k := range c.Other {
			return k + " check"
		}
		return "empty check"
	}
	f := c.Filter
	for _, k := range f.Match.Keys {
		v := f.Match.Values[k]
		if k == "has-key" || k == "not-has-key" {
			k, _ = v.(string)
		}
		if k == "event_type" && v == "fileinfo" {
			return "file extraction (fileinfo) is not implemented"
		}
		if k == "event_type" && v == "packet" {
			return "Suricata's tagged-packet records (tag keyword): a proxy forwards byte streams and has no packets to log"
		}
		for _, na := range naFields {
			if k == na.prefix || strings.HasPrefix(k, na.prefix+".") || strings.HasPrefix(k, na.prefix+"[") {
				return na.reason
			}
		}
	}
	contrasts := hasProto(rules, "tcp-pkt") && hasProto(rules, "tcp-stream")
	r, byRule := ruleOf(f, rules)
	if byRule {
		if r.proto == "tcp-pkt" && contrasts {
			return "tcp-pkt rule in a test contrasting packet and stream inspection (a proxy has only the stream)"
		}
		if r.dsizeZero {
			return "the rule's dsize admits 0 and so counts empty segments (SYNs, bare ACKs), which a terminating proxy never inspects"
		}
		if r.packetKW != "" {
			return "the rule reads a packet's IP/TCP header (" + r.packetKW + "); a terminating proxy inspects byte streams, never single packets"
		}
		if r.streamEvent {
			return streamEventNA
		}
	}
	if !byRule && f.Match.Values["event_type"] == "alert" && anyStreamEvent(rules) {
		return "counts the alerts of every rule, among them a stream-event rule's: " + streamEventNA
	}
	if _, bySID := f.Match.Values["alert.signature_id"]; !bySID && f.Match.Values["event_type"] == "alert" && allPacketLevel(rules) {
		return "every rule of the test reads a packet's IP/TCP header; a terminating proxy inspects byte streams, never single packets"
	}
	if kw := anyPacketKW(rules); !byRule && f.Match.Values["event_type"] == "alert" && kw != "" {
		// The count includes that rule's alerts, which are set aside
		// where they are counted alone (above); the checks of the other
		// rules by sid still hold the test.
		return "counts the alerts of every rule, among them one that reads a packet's IP/TCP header (" + kw +
			"); a terminating proxy inspects byte streams, never single packets"
	}
	if f.Match.Values["event_type"] == "drop" && anyDsizeZero(rules) {
		return "drops of empty segments (dsize:0 rule), which a terminating proxy never inspects"
	}
	return ""
}

// ruleOf returns the facts of the rule a filter selects, by
// alert.signature_id or else by alert.signature (the rule's msg).
func ruleOf(f *Filter, rules map[uint32]ruleFacts) (ruleFacts, bool) {
	if sidV, ok := f.Match.Values["alert.signature_id"]; ok {
		if n, ok := number(sidV); ok {
			return rules[uint32(n)], true
		}
		return ruleFacts{}, false
	}
	if msg, ok := f.Match.Values["alert.signature"].(string); ok {
		for _, r := range rules {
			if r.msg == msg {
				return r, true
			}
		}
	}
	return ruleFacts{}, false
}

// streamEventNA is why stream-event rules do not apply.
const streamEventNA = "stream-event matches events of Suricata's TCP state tracking of single packets " +
	"(an RST followed by data, SYN floods on one tuple); a terminating proxy's own TCP stack receives those " +
	"packets, so the rule is refused rather than never firing"

func anyStreamEvent(rules map[uint32]ruleFacts) bool {
	for _, r := range rules {
		if r.streamEvent {
			return true
		}
	}
	return false
}

// anyPacketKW returns the packet-header keyword of a rule that reads
// one, or "".
func anyPacketKW(rules map[uint32]ruleFacts) string {
	for _, r := range rules {
		if r.packetKW != "" {
			return r.packetKW
		}
	}
	return ""
}

func hasProto(rules map[uint32]ruleFacts, p string) bool {
	for _, r := range rules {
		if r.proto == p {
			return true
		}
	}
	return false
}

func allPacketLevel(rules map[uint32]ruleFacts) bool {
	for _, r := range rules {
		if r.packetKW == "" {
			return false
		}
	}
	return len(rules) > 0
}

func anyDsizeZero(rules map[uint32]ruleFacts) bool {
	for _, r := range rules {
		if r.dsizeZero {
			return true
		}
	}
	return false
}

// TestNA returns why the whole test is not applicable, or "": a listed
// packet-level case, unmet requirements, a configuration we do not
// implement, or no applicable check that expects something to happen.
func (s *Spec) TestNA(rules map[uint32]ruleFacts) string {
	if r, ok := packetLevel[s.Name]; ok {
		return r
	}
	if ok, why := s.Requires.Satisfied(); !ok {
		return why
	}
	for _, sk := range s.Skip {
		if sk.Feature != "" && Features[sk.Feature] {
			return "the case is skipped where feature " + sk.Feature + " is present (suricata-verify skip:)"
		}
	}
	// A test is judged on what it is about: its alert and drop checks
	// when it has any, else all its checks. When every such check that
	// expects an event was set aside as not applicable, what is left
	// (absences, or an http record in a threshold test) would pass a test
	// whose point was never exercised.
	about := func(f *Filter) bool { return true }
	for i := range s.Checks {
		if f := s.Checks[i].Filter; f != nil && isDetection(f) {
			about = isDetection
			break
		}
	}
	var reasons, all []string
	positive, skipped, applicable := false, false, false
	for i := range s.Checks {
		c := &s.Checks[i]
		if c.Filter != nil {
			if ok, _ := c.Filter.Requires.Satisfied(); !ok {
				continue
			}
		}
		why := s.CheckNA(c, rules)
		if why == "" {
			applicable = true
		} else {
			all = appendUnique(all, why)
		}
		if c.Filter == nil || !about(c.Filter) {
			continue
		}
		if why != "" {
			if c.Filter.Positive() {
				skipped = true
				reasons = appendUnique(reasons, why)
			}
			continue
		}
		if c.Filter.Positive() {
			positive = true
		}
	}
	if skipped && !positive {
		return "every check that expects an alert or drop is not applicable: " + strings.Join(reasons, "; ")
	}
	if !applicable && len(all) > 0 {
		// Nothing left to hold us to: a pass would be vacuous.
		return "every check is not applicable: " + strings.Join(all, "; ")
	}
	return ""
}

// isDetection reports whether a filter is about alerts or drops.
func isDetection(f *Filter) bool {
	t := f.Match.Values["event_type"]
	if t == "alert" || t == "drop" {
		return true
	}
	for _, k := range f.Match.Keys {
		if strings.HasPrefix(k, "alert.") {
			return true
		}
	}
	return false
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

package replay

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
	"github.com/interdict/interdict/inspect/eve"
)

// flowKey is a 5-tuple with its endpoints in a canonical order, so both
// directions of a flow find the same entry.
type flowKey struct {
	a, b  netip.AddrPort
	proto inspect.Proto
}

func keyOf(p inspect.Proto, x, y netip.AddrPort) flowKey {
	if y.Addr().Less(x.Addr()) || (y.Addr() == x.Addr() && y.Port() < x.Port()) {
		x, y = y, x
	}
	return flowKey{x, y, p}
}

// TCP flag bits as Suricata logs them in tcp_flags.
const (
	flFIN = 0x01
	flSYN = 0x02
	flRST = 0x04
	flPSH = 0x08
	flACK = 0x10
	flURG = 0x20
)

type segment struct {
	off  uint64
	data []byte
}

// stream is one direction of a TCP flow. Offsets are 64-bit stream
// offsets; sequence numbers are mapped onto them relative to nextSeq, so
// wraparound needs no special case.
type stream struct {
	init    bool
	nextSeq uint32
	nextOff uint64
	pending []segment // sorted by off, non-overlapping, all > nextOff
	pendLen int
	fin     bool
	finOff  uint64
	synSeen bool
	// gap: a gap was skipped; maxRegions: the most disjoint data regions
	// held at once (the delivered stream counts as one).
	gap        bool
	maxRegions uint64
	// acked is the stream offset the other side acknowledged up to: in
	// ids mode bytes are delivered only that far (see gated).
	acked uint64
	// oob counts the bytes taken out of band (Config.Urgent): the
	// direction's later sequence numbers are shifted back by it.
	oob uint32
}

// offsetOf maps a sequence number onto the stream offset space; it is
// negative for bytes before the start of the stream.
func (s *stream) offsetOf(seq uint32) int64 {
	return int64(s.nextOff) + int64(int32(seq-s.nextSeq))
}

func (s *stream) finished() bool { return s.fin && s.nextOff >= s.finOff }

type flow struct {
	key     flowKey
	meta    inspect.FlowMeta
	v6      bool
	vlan    []uint16
	insp    inspect.FlowInspector
	dirs    [2]stream
	pkts    [2]uint64
	bytes   [2]uint64
	ssn     tcpSession
	start   time.Time
	last    time.Time
	closed  bool // the inspector was closed (FIN both ways, RST)
	rst     bool
	alerted bool
	passed  bool // a pass verdict: no further inspection
	// bypassed: a bypass rule matched; the flow's later packets are
	// counted and nothing else, as in Suricata (see result).
	bypassed bool
	dropped  bool
	action   string
	traffic  eve.Traffic
	evicted  bool
	// timedOut: a packet of its 5-tuple came after its timeout.
	timedOut bool
	// dropReason is the drop reason of the packets after the one that
	// dropped the flow ("" : flow drop).
	dropReason string
	probed     bool // the mid-stream direction guess was made
	// flowVars are the flow variables pcre captures stored (vars.go).
	flowVars []map[string]string
	// synStart: the flow began with a SYN, so its inspector is made at
	// once and sees every packet (see endPacket).
	synStart bool
	// dropLogged: a drop event was written in that direction.
	dropLogged [2]bool
	// cur is the packet being processed, announced to an inspector made
	// while its bytes are delivered.
	cur inspect.Packet
	// later holds the alerts on a direction's bytes that the other
	// side's acknowledgement delivered (ids mode): they are logged with
	// that direction's next packet (see deferAlert).
	later [2][]eve.Event
}

// looksReversed reports whether the first bytes of a mid-stream pickup
// are what a server sends: no protocol recognises them towards the server
// but one does towards the client (an HTTP response). Suricata's
// app-layer probing then reverses the flow, and so do we.
func looksReversed(protos []applayer.Proto, data []byte) bool {
	for _, p := range protos {
		if p.Transport == inspect.ProtoTCP && p.Probe != nil && p.Probe(inspect.ToServer, data) != applayer.ProbeNo {
			return false
		}
	}
	for _, p := range protos {
		if p.Transport == inspect.ProtoTCP && p.Probe != nil && p.Probe(inspect.ToClient, data) == applayer.ProbeYes {
			return true
		}
	}
	return false
}

// reverse swaps client and server of a flow not yet handed to the engine.
func (f *flow) reverse() {
	f.meta.Src, f.meta.Dst = f.meta.Dst, f.meta.Src
	f.dirs[0], f.dirs[1] = f.dirs[1], f.dirs[0]
	f.pkts[0], f.pkts[1] = f.pkts[1], f.pkts[0]
	f.bytes[0], f.bytes[1] = f.bytes[1], f.bytes[0]
	f.ssn.reverse()
}

type replayer struct {
	ff     inspect.FlowFactory
	cfg    Config
	sum    Summary
	flows  map[flowKey]*flow
	order  []*flow // creation order, for eviction and the final flow events
	nextID uint64
	// current packet, for event fields
	ts     time.Time
	pktNum uint64
	stats  eve.Stats
	first  time.Time
}

func newReplayer(ff inspect.FlowFactory, cfg Config) *replayer {
	if cfg.MaxFlows <= 0 {
		cfg.MaxFlows = DefaultMaxFlows
	}
	if cfg.FlowTimeouts == nil {
		cfg.FlowTimeouts = &DefaultFlowTimeouts
	}
	if cfg.MaxPendingBytes <= 0 {
		cfg.MaxPendingBytes = DefaultMaxPendingBytes
	}
	if cfg.MaxPendingSegments <= 0 {
		cfg.MaxPendingSegments = DefaultMaxPendingSegments
	}
	return &replayer{ff: ff, cfg: cfg, flows: make(map[flowKey]*flow), sum: Summary{AlertsBySID: map[uint32]uint64{}}}
}

func (rp *replayer) emit(ev *eve.Event) error {
	if rp.cfg.Events == nil {
		return nil
	}
	if err := rp.cfg.Events.Write(ev); err != nil {
		return fmt.Errorf("packet %d: %w", rp.pktNum, err)
	}
	return nil
}

func (rp *replayer) packet(data []byte, ci gopacket.CaptureInfo, lt layers.LinkType) error {
	rp.sum.Packets++
	rp.sum.Bytes += uint64(len(data))
	rp.pktNum = rp.sum.Packets
	rp.ts = ci.Timestamp
	if rp.cfg.Clock != nil {
		rp.cfg.Clock.set(ci.Timestamp)
	}
	if rp.first.IsZero() {
		rp.first = ci.Timestamp
	}
	rp.stats.Decoder.Pkts++
	rp.stats.Decoder.Bytes += uint64(len(data))
	d, ok := decode(data, lt)
	if !ok {
		rp.sum.Undecoded++
		rp.stats.Decoder.Invalid++
		return nil
	}
	if d.v6 {
		rp.stats.Decoder.IPv6++
	} else {
		rp.stats.Decoder.IPv4++
	}
	switch d.proto {
	case inspect.ProtoTCP:
		rp.stats.Decoder.TCP++
	case inspect.ProtoUDP:
		rp.stats.Decoder.UDP++
	case inspect.ProtoICMP:
		if d.v6 {
			rp.stats.Decoder.ICMPv6++
		} else {
			rp.stats.Decoder.ICMPv4++
		}
	}

	key := keyOf(d.proto, d.src, d.dst)
	f := rp.flows[key]
	if f != nil && rp.timedOut(f, ci.Timestamp) {
		f.timedOut = true
		if err := rp.endFlow(f); err != nil {
			return err
		}
		f = nil
	}
	if f != nil && (f.closed || f.rst) && d.tcp != nil && d.tcp.SYN && !d.tcp.ACK {
		// Port reuse: a new connection on a finished 4-tuple.
		if err := rp.endFlow(f); err != nil {
			return err
		}
		f = nil
	}
	if f == nil {
		var err error
		if f, err = rp.newFlow(key, &d); err != nil {
			return err
		}
	}
	dir := inspect.ToServer
	if d.src != f.meta.Src {
		dir = inspect.ToClient
	}
	f.pkts[dir]++
	f.bytes[dir] += uint64(len(data))
	if ci.Timestamp.After(f.last) {
		// As Suricata's lastts: a packet stamped in the past (a
		// capture's clock stepping back) neither ends nor rewinds it.
		f.last = ci.Timestamp
	}

	if f.dropped {
		return rp.dropPacket(f, dir, nil, len(d.payload), f.dropReason)
	}
	if f.bypassed {
		return nil
	}
	if d.tcp != nil {
		return rp.tcpPacket(f, dir, &d)
	}
	if len(d.payload) == 0 {
		return nil
	}
	// A passed flow is still fed: the inspector runs no rule on it but
	// keeps logging its app-layer records, as Suricata does. Its
	// datagrams are its packets: only the counts are announced.
	f.cur = inspect.Packet{Dir: dir, Payload: len(d.payload), Pkts: f.pkts, Bytes: f.bytes}
	if pi, ok := f.insp.(inspect.PacketInspector); ok {
		pi.BeginPacket(f.cur)
	}
	return rp.inspect(f, dir, d.payload, len(d.payload))
}

func (rp *replayer) newFlow(key flowKey, d *decoded) (*flow, error) {
	if len(rp.flows) >= rp.cfg.MaxFlows {
		if err := rp.evictOldest(); err != nil {
			return nil, err
		}
	}
	rp.nextID++
	f := &flow{key: key, v6: d.v6, vlan: d.vlan, start: rp.ts, last: rp.ts}
	src, dst := d.src, d.dst
	// The originator is the SYN's sender; a SYN-ACK seen first means the
	// SYN was missed and the receiver is the client. Otherwise the first
	// packet's sender is the client, as Suricata assumes.
	if d.tcp != nil && d.tcp.SYN && d.tcp.ACK {
		src, dst = dst, src
	}
	f.meta = inspect.FlowMeta{ID: flowID(rp.nextID, key), Proto: d.proto, Src: src, Dst: dst, Start: rp.ts,
		Packets: d.proto == inspect.ProtoTCP}
	f.synStart = d.tcp != nil && d.tcp.SYN && !d.tcp.ACK
	rp.flows[key] = f
	if len(rp.order) > 2*len(rp.flows)+1024 {
		rp.compactOrder()
	}
	rp.order = append(rp.order, f)
	rp.sum.Flows++
	switch {
	case d.proto == inspect.ProtoTCP:
		rp.stats.Flow.TCP++
	case d.proto == inspect.ProtoUDP:
		rp.stats.Flow.UDP++
	case d.v6:
		rp.stats.Flow.ICMPv6++
	default:
		rp.stats.Flow.ICMPv4++
	}
	if d.proto != inspect.ProtoTCP {
		f.insp = rp.ff.NewFlow(f.meta)
	}
	return f, nil
}

// flowID mixes a counter with the tuple so IDs look like Suricata's large
// opaque numbers but stay unique and deterministic for a capture. It fits
// in 51 bits so tools that read JSON numbers as float64 keep it exact.
func flowID(n uint64, k flowKey) uint64 {
	h := uint64(14695981039346656037)
	for _, b := range []byte(k.a.String() + k.b.String() + strconv.Itoa(int(k.proto))) {
		h ^= uint64(b)
		h *= 1099511628211
	}
	return (h<<20 | n&0xFFFFF) & (1<<51 - 1)
}

// compactOrder drops ended flows from the creation-order list, which
// would otherwise grow with every reused 4-tuple.
func (rp *replayer) compactOrder() {
	live := rp.order[:0]
	for _, f := range rp.order {
		if rp.flows[f.key] == f {
			live = append(live, f)
		}
	}
	clear(rp.order[len(live):])
	rp.order = live
}

func (rp *replayer) evictOldest() error {
	for len(rp.order) > 0 {
		f := rp.order[0]
		rp.order = rp.order[1:]
		if rp.flows[f.key] == f {
			f.evicted = true
			return rp.endFlow(f)
		}
	}
	return nil
}

func (rp *replayer) tcpPacket(f *flow, dir inspect.Direction, d *decoded) error {
	t := d.tcp
	var fl uint8
	if t.FIN {
		fl |= flFIN
	}
	if t.SYN {
		fl |= flSYN
	}
	if t.RST {
		fl |= flRST
	}
	if t.PSH {
		fl |= flPSH
	}
	if t.ACK {
		fl |= flACK
	}
	if t.URG {
		fl |= flURG
	}
	if f.insp == nil && !f.probed && len(d.payload) > 0 && rp.cfg.Midstream && f.handshakeMissing() {
		f.probed = true
		if dir == inspect.ToServer && looksReversed(rp.cfg.Protos, d.payload) {
			f.reverse()
			dir = inspect.ToClient
		}
	}
	if t.URG && rp.cfg.Urgent == UrgentDrop && rp.cfg.Mode == ModeIPS {
		// Dropped before the stream engine sees it (Suricata's
		// StreamTcpInlineDropUrg): the flow goes on without it.
		return rp.dropSegment(f, dir, len(d.payload), "stream urgent")
	}
	pre := f.ssn.state
	f.ssn.update(dir, fl, t.Seq, t.Ack, len(d.payload), rp.cfg.Midstream)
	if f.insp == nil && f.synStart {
		// A flow that starts with a handshake needs no direction guess:
		// its inspector exists from the SYN, so rules on packets see
		// the handshake too. Established is then told per packet.
		f.insp = rp.ff.NewFlow(f.meta)
	}
	// Suricata's per-packet flow:established: the session was
	// established before this packet, or the packet carries data that
	// completes it (a handshake's last ACK, a mid-stream pickup).
	est := pre >= tcpEstablished || (f.ssn.state >= tcpEstablished && len(d.payload) > 0)
	f.cur = inspect.Packet{Dir: dir, Payload: len(d.payload), Established: est, Pkts: f.pkts, Bytes: f.bytes}
	if pi, ok := f.insp.(inspect.PacketInspector); ok {
		pi.BeginPacket(f.cur)
	}
	if err := rp.logLater(f, dir); err != nil {
		return err
	}
	st := &f.dirs[dir]
	if f.closed {
		return rp.endPacket(f, dir, len(d.payload))
	}
	if t.SYN && !st.init {
		// The SYN occupies one sequence number; data starts after it.
		st.init, st.synSeen = true, true
		st.nextSeq = t.Seq + 1
	} else if t.SYN {
		st.synSeen = true
	}
	if !st.init && (len(d.payload) > 0 || t.FIN) {
		st.init = true
		st.nextSeq = t.Seq
	}

	if f.insp == nil && f.handshakeMissing() && rp.cfg.MidstreamDrop && rp.cfg.Mode == ModeIPS && len(d.payload) > 0 {
		// Suricata's midstream exception policy drop-flow: this packet
		// for the pickup, the flow's later ones for the policy.
		f.action = "drop"
		f.dropReason = "exception policy flow drop"
		return rp.dropPacket(f, dir, nil, len(d.payload), "stream midstream")
	}

	// Data after a SYN that was never answered is not part of a session
	// yet: Suricata's stream engine accepts no segment in syn_sent but
	// the SYN itself (TCP Fast Open data), so nothing of it is
	// inspected, and a live proxy never sees such bytes either.
	unanswered := f.ssn.state == tcpSynSent && !t.SYN
	if other := &f.dirs[1-dir]; t.ACK && other.init {
		if o := other.offsetOf(t.Ack - other.oob); o > 0 && uint64(o) > other.acked {
			other.acked = uint64(o)
			// The other side's bytes that waited for this acknowledgement.
			if len(other.pending) > 0 {
				if err := rp.drain(f, 1-dir, false, 0); err != nil {
					return err
				}
			}
		}
	}
	// Data on a RST is not part of the stream: the receiving TCP drops
	// it (RFC 9293 3.5.3) and Suricata does not reassemble it
	// (bug-6244-tcp-rst-with-data).
	if len(d.payload) > 0 && !unanswered && !t.RST {
		seq, payload, drop := rp.urgent(st, t, d.payload)
		if drop {
			return rp.dropSegment(f, dir, len(d.payload), "stream urgent")
		}
		if t.SYN {
			seq++
		}
		if len(payload) > 0 {
			st.insert(seq, payload)
		}
		// TCP Fast Open: data in a SYN waits for the handshake, as in
		// Suricata's stream engine (and a proxy, which reads nothing
		// before the connection is established).
		if !(t.SYN && f.insp == nil && f.handshakeMissing() && !rp.cfg.Midstream) {
			if err := rp.drain(f, dir, false, len(d.payload)); err != nil {
				return err
			}
		}
	}
	if other := &f.dirs[1-dir]; t.SYN && t.ACK && other.init && other.nextOff == 0 && len(other.pending) == 0 {
		// The SYN-ACK acknowledges the SYN the server took: after several
		// SYNs with different sequence numbers (retries, a SYN flood on
		// one tuple) the client's stream starts there, as in Suricata.
		other.nextSeq = t.Ack
	}
	if t.SYN && t.ACK && !f.handshakeMissing() && len(f.dirs[1-dir].pending) > 0 && f.insp == nil {
		// The handshake completed with Fast Open data waiting.
		if err := rp.drain(f, 1-dir, false, 0); err != nil {
			return err
		}
	}
	if t.FIN && st.init {
		end := st.offsetOf(t.Seq - st.oob + uint32(len(d.payload)))
		if t.SYN {
			end++
		}
		if end >= 0 && (!st.fin || uint64(end) < st.finOff) {
			st.fin, st.finOff = true, uint64(end)
		}
	}
	if err := rp.endPacket(f, dir, len(d.payload)); err != nil {
		return err
	}
	if t.RST {
		// The flow stays open for data that follows the reset: an endpoint
		// may ignore a forged RST (RST injection, Suricata's
		// suspected_rst_inject), so Suricata inspects what comes after
		// it. The capture's end closes it.
		f.rst = true
		return nil
	}
	if f.dirs[0].finished() && f.dirs[1].finished() {
		return rp.closeFlow(f)
	}
	return nil
}

// endPacket ends a packet announced with BeginPacket: the inspector
// evaluates the rules on the packet itself if none of its bytes were
// inspected (Suricata runs them after reassembly and the app layer).
func (rp *replayer) endPacket(f *flow, dir inspect.Direction, payload int) error {
	pi, ok := f.insp.(inspect.PacketInspector)
	if !ok || f.dropped {
		return nil
	}
	return rp.result(f, dir, pi.EndPacket(), payload)
}

// gated reports whether bytes wait to be acknowledged: in ids mode
// Suricata reassembles what the receiver acknowledged (unless
// stream.inline or async-oneside), so the bytes of a one-sided capture
// are only inspected when the flow ends.
func (rp *replayer) gated() bool {
	return rp.cfg.Mode == ModeIDS && !rp.cfg.AsyncOneside && !rp.cfg.StreamInline
}

// handshakeMissing reports whether a SYN was not seen from each side (a
// mid-stream pickup). A split handshake (SYN, SYN, SYN-ACK) counts as seen.
func (f *flow) handshakeMissing() bool {
	return !f.dirs[0].synSeen || !f.dirs[1].synSeen
}

// insert stores payload at seq, keeping only bytes that are new: those
// already delivered or already pending win (first-wins overlap policy).
func (st *stream) insert(seq uint32, payload []byte) {
	start := st.offsetOf(seq)
	end := start + int64(len(payload))
	if end <= int64(st.nextOff) {
		return // a pure retransmission
	}
	if start < int64(st.nextOff) {
		payload = payload[int64(st.nextOff)-start:]
		start = int64(st.nextOff)
	}
	// Walk the pending segments and keep only the holes between them.
	s, e := uint64(start), uint64(end)
	var add []segment
	cur := s
	for _, p := range st.pending {
		pe := p.off + uint64(len(p.data))
		if pe <= cur {
			continue
		}
		if p.off >= e {
			break
		}
		if p.off > cur {
			add = append(add, segment{cur, cloneBytes(payload[cur-s : p.off-s])})
		}
		cur = pe
		if cur >= e {
			break
		}
	}
	if cur < e {
		add = append(add, segment{cur, cloneBytes(payload[cur-s:])})
	}
	for _, a := range add {
		st.pendLen += len(a.data)
		i := len(st.pending)
		for i > 0 && st.pending[i-1].off > a.off {
			i--
		}
		st.pending = append(st.pending, segment{})
		copy(st.pending[i+1:], st.pending[i:])
		st.pending[i] = a
	}
	st.countRegions()
}

// countRegions notes how many disjoint regions the direction holds: the
// delivered stream and each run of contiguous pending segments after it
// (Suricata's streaming buffer regions, logged as ts/tc_max_regions).
func (st *stream) countRegions() {
	n, end := uint64(1), st.nextOff
	for _, p := range st.pending {
		if p.off != end {
			n++
		}
		end = p.off + uint64(len(p.data))
	}
	st.maxRegions = max(st.maxRegions, n)
}

func cloneBytes(b []byte) []byte { return append([]byte(nil), b...) }

// drain delivers the contiguous data at the head of a direction's pending
// list. With force, or when the pending data exceeds its bounds, a gap is
// skipped. wire is the payload length of the packet that brought the data.
func (rp *replayer) drain(f *flow, dir inspect.Direction, force bool, wire int) error {
	st := &f.dirs[dir]
	for len(st.pending) > 0 {
		p := st.pending[0]
		over := st.pendLen > rp.cfg.MaxPendingBytes || len(st.pending) > rp.cfg.MaxPendingSegments
		if p.off > st.nextOff {
			if !force && !over {
				return nil
			}
			rp.sum.Gaps++
			st.gap = true
			st.advance(p.off - st.nextOff)
		}
		if rp.gated() && !force && !over {
			if p.off >= st.acked {
				return nil
			}
			if end := p.off + uint64(len(p.data)); end > st.acked {
				// Deliver the acknowledged part; the rest waits.
				n := st.acked - p.off
				st.pending[0] = segment{off: st.acked, data: p.data[n:]}
				st.pendLen -= int(n)
				st.advance(n)
				if f.dropped {
					return nil
				}
				return rp.inspect(f, dir, p.data[:n], wire)
			}
		}
		st.pending = st.pending[1:]
		st.pendLen -= len(p.data)
		st.advance(uint64(len(p.data)))
		if f.dropped {
			continue
		}
		if err := rp.inspect(f, dir, p.data, wire); err != nil {
			return err
		}
	}
	return nil
}

func (st *stream) advance(n uint64) {
	st.nextOff += n
	st.nextSeq += uint32(n)
}

// inspect feeds one chunk and acts on the result.
func (rp *replayer) inspect(f *flow, dir inspect.Direction, data []byte, wire int) error {
	if f.insp == nil {
		f.meta.NotEstablished = f.meta.Proto == inspect.ProtoTCP && f.handshakeMissing() && !rp.cfg.Midstream
		f.insp = rp.ff.NewFlow(f.meta)
		if pi, ok := f.insp.(inspect.PacketInspector); ok {
			pi.BeginPacket(f.cur)
		}
	}
	res := f.insp.Inspect(dir, data)
	return rp.result(f, dir, res, wire)
}

func (rp *replayer) result(f *flow, dir inspect.Direction, res inspect.Result, wire int) error {
	enforce := rp.cfg.Mode == ModeIPS
	var dropRule *inspect.RuleInfo
	dropRated := false // a rate_filter made dropRule's action a drop
	if f.passed {
		// Only records after a pass: no rule decides this flow any more.
		res.Alerts, res.Action = nil, inspect.ActionNone
	}
	pktVars := f.storeVars(res.Alerts)
	for i := range res.Alerts {
		a := &res.Alerts[i]
		if a.Rule == nil {
			continue
		}
		if tags, ok := rp.cfg.TrafficTags[a.Rule.SID]; ok {
			f.traffic.ID = appendNew(f.traffic.ID, tags.ID...)
			f.traffic.Label = appendNew(f.traffic.Label, tags.Label...)
		}
		switch a.Rule.Action {
		case inspect.ActionDrop, inspect.ActionReject, inspect.ActionRejectDst, inspect.ActionRejectBoth:
			if dropRule == nil || a.Rule.Action.Stronger(dropRule.Action) {
				dropRule, dropRated = a.Rule, a.RateFiltered
			}
		}
		// Suricata logs no alert for pass rules (unless they carry the
		// alert keyword) nor for noalert ones; their actions still apply.
		if !a.Logged() {
			continue
		}
		f.alerted = true
		ev := eve.NewAlert(rp.ts, &f.meta, a, enforce)
		if ev.AppProto == "" {
			// Suricata's alerts name the flow's protocol, also for a
			// match on the raw stream.
			ev.AppProto = inspect.AppProtoOf(f.insp)
		}
		ev.Verdict = eve.VerdictObject(res.Action, enforce, f.meta.Proto)
		f.flowFields(&ev, pktVars)
		rp.sum.Alerts++
		rp.sum.AlertsBySID[a.Rule.SID]++
		rp.stats.Detect.Alert++
		if rp.deferAlert(f, dir) {
			f.later[dir] = append(f.later[dir], ev)
			continue
		}
		if err := rp.logAlert(f, &ev); err != nil {
			return err
		}
	}
	if len(pktVars) > 0 {
		ev := eve.Base(rp.ts, eve.TypeMetadata, &f.meta, dir)
		ev.Metadata = f.metadata(pktVars)
		rp.decorate(f, &ev)
		if err := rp.emit(&ev); err != nil {
			return err
		}
	}
	var refused *inspect.Anomaly
	for i := range res.Events {
		if an := res.Events[i].Anomaly; an != nil && refused == nil && rp.cfg.Anomaly != nil {
			switch rp.cfg.Anomaly(*an) {
			case inspect.ActionDrop, inspect.ActionReject, inspect.ActionRejectDst, inspect.ActionRejectBoth:
				refused = an
			}
		}
		ev, ok := eve.NewAppEvent(rp.ts, &f.meta, &res.Events[i])
		if !ok {
			continue
		}
		rp.decorate(f, &ev)
		ev.Metadata = f.metadata(pktVars)
		if err := rp.emit(&ev); err != nil {
			return err
		}
	}
	if res.Bypass {
		// The packet that matched is processed to its end; the flow's
		// later packets skip stream and detection (Suricata's
		// FlowWorker returns before them for a locally bypassed flow).
		f.bypassed = true
	}
	switch res.Action {
	case inspect.ActionPass:
		f.passed = true
		f.action = "pass"
	case inspect.ActionDrop, inspect.ActionReject, inspect.ActionRejectDst, inspect.ActionRejectBoth:
		if enforce {
			f.action = "drop"
			reason := ""
			if dropRated {
				reason = "threshold detection_filter" // Suricata's PKT_DROP_REASON_RULES_THRESHOLD
			}
			return rp.dropPacket(f, dir, dropRule, wire, reason)
		}
	}
	if refused != nil && enforce {
		f.action = "drop"
		f.dropped = true
		ev := eve.NewDrop(rp.ts, &f.meta, dir, nil, wire)
		ev.AppProto = refused.AppProto
		ev.Drop.Reason = "protocol " + refused.Event
		rp.decorate(f, &ev)
		if err := rp.emit(&ev); err != nil {
			return err
		}
		rp.sum.Drops++
	}
	return nil
}

func appendNew(dst []string, vals ...string) []string {
outer:
	for _, v := range vals {
		for _, d := range dst {
			if d == v {
				continue outer
			}
		}
		dst = append(dst, v)
	}
	return dst
}

// deferAlert reports whether an alert on dir's bytes waits for dir's
// next packet. In ids mode the bytes of a direction are delivered by the
// other side's acknowledgement, and Suricata's detection on a packet
// inspects the stream and transactions of that packet's direction only
// (StreamReassembleRaw, DetectRunTx): a request acknowledged by the
// server's packet alerts with the client's next packet, as its EVE
// pcap_cnt and timestamp show. What the flow's end flushes is logged
// then.
func (rp *replayer) deferAlert(f *flow, dir inspect.Direction) bool {
	return rp.gated() && f.meta.Proto == inspect.ProtoTCP && !f.closed && dir != f.cur.Dir
}

// logLater logs the alerts that waited for a packet of dir (deferAlert).
func (rp *replayer) logLater(f *flow, dir inspect.Direction) error {
	evs := f.later[dir]
	f.later[dir] = nil
	for i := range evs {
		evs[i].Timestamp = eve.Time{Time: rp.ts}
		if err := rp.logAlert(f, &evs[i]); err != nil {
			return err
		}
	}
	return nil
}

// logAlert writes an alert with the flow's counters and the packet
// being processed.
func (rp *replayer) logAlert(f *flow, ev *eve.Event) error {
	ev.Flow = eve.NewAlertFlow(&f.meta, f.pkts, f.bytes)
	rp.decorate(f, ev)
	return rp.emit(ev)
}

func (rp *replayer) decorate(f *flow, ev *eve.Event) {
	ev.PcapCnt = rp.pktNum
	ev.VLAN = f.vlan
}

// dropPacket marks the flow dropped and logs the current packet as not
// forwarded. rule is set for the packet whose data matched; reason, when
// set, replaces the drop reason NewDrop gives.
func (rp *replayer) dropPacket(f *flow, dir inspect.Direction, rule *inspect.RuleInfo, n int, reason string) error {
	f.dropped = true
	if f.action == "" {
		f.action = "drop"
	}
	if rule == nil && rp.cfg.DropStart && f.dropLogged[dir] {
		return nil
	}
	f.dropLogged[dir] = true
	return rp.logDrop(f, dir, rule, n, reason)
}

// logDrop writes the drop event of the current packet; reason, when
// set, replaces the drop reason NewDrop gives.
func (rp *replayer) logDrop(f *flow, dir inspect.Direction, rule *inspect.RuleInfo, n int, reason string) error {
	ev := eve.NewDrop(rp.ts, &f.meta, dir, rule, n)
	if reason != "" {
		ev.Drop.Reason = reason
	}
	rp.decorate(f, &ev)
	if err := rp.emit(&ev); err != nil {
		return err
	}
	rp.sum.Drops++
	return nil
}

// closeFlow flushes what is still pending (skipping gaps) and closes the
// inspector.
func (rp *replayer) closeFlow(f *flow) error {
	if f.closed {
		return nil
	}
	f.closed = true
	for _, dir := range [2]inspect.Direction{inspect.ToServer, inspect.ToClient} {
		if err := rp.logLater(f, dir); err != nil {
			return err
		}
	}
	if f.bypassed {
		// Suricata does not flush a bypassed flow at its end: what
		// waited for an acknowledgement is never inspected.
		return nil
	}
	for _, dir := range [2]inspect.Direction{inspect.ToServer, inspect.ToClient} {
		if len(f.dirs[dir].pending) > 0 {
			if err := rp.drain(f, dir, true, 0); err != nil {
				return err
			}
		}
	}
	if f.insp == nil {
		if f.dropped {
			return nil
		}
		// A flow without data still reaches the engine, so rules on the
		// flow alone (and Close-time findings) are evaluated.
		f.meta.NotEstablished = f.meta.Proto == inspect.ProtoTCP && f.handshakeMissing() && !rp.cfg.Midstream
		f.insp = rp.ff.NewFlow(f.meta)
	}
	if f.dropped {
		return nil
	}
	return rp.result(f, inspect.ToServer, f.insp.Close(), 0)
}

// endFlow closes a flow and logs its flow event.
func (rp *replayer) endFlow(f *flow) error {
	if err := rp.closeFlow(f); err != nil {
		return err
	}
	if rp.flows[f.key] == f {
		delete(rp.flows, f.key)
	}
	ev := eve.Base(f.last, eve.TypeFlow, &f.meta, inspect.ToServer)
	ev.VLAN = f.vlan
	if f.insp != nil {
		ev.AppProto = inspect.AppProtoOf(f.insp)
	}
	reason := "shutdown"
	switch {
	case f.evicted:
		reason = "forced"
	case f.timedOut:
		reason = "timeout"
	}
	ev.Flow = &eve.Flow{
		PktsToServer: f.pkts[0], PktsToClient: f.pkts[1], BytesToServer: f.bytes[0], BytesToClient: f.bytes[1],
		Start: eve.Time{Time: f.start}, End: eve.Time{Time: f.last}, Age: f.last.Unix() - f.start.Unix(),
		State: f.state(), Reason: reason, Alerted: f.alerted, Action: f.action,
	}
	if f.bypassed {
		ev.Flow.State, ev.Flow.Bypass = "bypassed", "local"
	}
	if r, ok := f.insp.(inspect.AppProtoReasoner); ok {
		ev.AppProtoReason = r.AppProtoReason()
	}
	if f.meta.Proto == inspect.ProtoTCP {
		ev.TCP = f.tcpObject()
	}
	f.flowFields(&ev, nil)
	if err := rp.emit(&ev); err != nil {
		return err
	}
	if rp.cfg.Netflow {
		return rp.netflow(f, ev.AppProto)
	}
	return nil
}

// netflow logs a flow's netflow events: one per direction, from its
// sender, the reply only when the server sent a packet (Suricata's
// output-json-netflow.c). Packet TTLs are not tracked, so min_ttl and
// max_ttl are left out.
func (rp *replayer) netflow(f *flow, app string) error {
	for _, dir := range []inspect.Direction{inspect.ToServer, inspect.ToClient} {
		if dir == inspect.ToClient && f.pkts[1] == 0 {
			break
		}
		ev := eve.Base(f.last, eve.TypeNetflow, &f.meta, dir)
		ev.VLAN, ev.AppProto = f.vlan, app
		ev.Netflow = &eve.Netflow{Pkts: f.pkts[dir], Bytes: f.bytes[dir],
			Start: eve.Time{Time: f.start}, End: eve.Time{Time: f.last}, Age: f.last.Unix() - f.start.Unix()}
		if f.meta.Proto == inspect.ProtoTCP {
			fl := f.ssn.flags[dir]
			ev.TCP = &eve.TCP{TCPFlags: hex2(fl), SYN: fl&flSYN != 0, FIN: fl&flFIN != 0, RST: fl&flRST != 0,
				PSH: fl&flPSH != 0, ACK: fl&flACK != 0}
		}
		f.flowFields(&ev, nil)
		if err := rp.emit(&ev); err != nil {
			return err
		}
	}
	return nil
}

func (f *flow) state() string {
	if f.meta.Proto != inspect.ProtoTCP {
		if f.pkts[1] > 0 {
			return "established"
		}
		return "new"
	}
	return f.ssn.flowState()
}

func (f *flow) tcpObject() *eve.TCP {
	s := &f.ssn
	all := s.flags[0] | s.flags[1]
	t := &eve.TCP{
		TCPFlags: hex2(all), TCPFlagsTS: hex2(s.flags[0]), TCPFlagsTC: hex2(s.flags[1]),
		SYN: all&flSYN != 0, FIN: all&flFIN != 0, RST: all&flRST != 0, PSH: all&flPSH != 0, ACK: all&flACK != 0,
	}
	if s.tracked() {
		t.State = s.state.String()
		t.TSGap, t.TCGap = f.dirs[0].gap, f.dirs[1].gap
		t.TSMaxRegions, t.TCMaxRegions = max(f.dirs[0].maxRegions, 1), max(f.dirs[1].maxRegions, 1)
	}
	return t
}

func hex2(b uint8) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&15]})
}

// finish closes every flow in creation order, logs flow events and one
// stats event.
func (rp *replayer) finish() error {
	// What the flows' ends bring (bytes that waited, parsers' last
	// records) comes from no packet of the capture: Suricata flushes
	// them with pseudo packets, which have no pcap_cnt.
	rp.pktNum = 0
	for _, f := range rp.order {
		if rp.flows[f.key] != f {
			continue
		}
		if err := rp.endFlow(f); err != nil {
			return err
		}
	}
	rp.order = nil
	ts := rp.ts
	ev := eve.Event{Timestamp: eve.Time{Time: ts}, EventType: eve.TypeStats}
	st := rp.stats
	st.Uptime = elapsedSeconds(rp.first, ts)
	ev.Stats = &st
	return rp.emit(&ev)
}

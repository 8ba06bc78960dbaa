package detect

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
	"github.com/interdict/interdict/inspect/prefilter"
	"github.com/interdict/interdict/inspect/rules"
)

// maxTxSeen bounds the per-flow set of (transaction, rule) pairs already
// alerted on; past it the set is cleared, which can repeat an alert on a
// long keep-alive connection but never grows memory.
const maxTxSeen = 4096

// pending is a raw-stream rule whose fast pattern was seen. ds.pend is
// sorted by rule.
type pending struct {
	rule    uint32
	fpStart uint64 // stream offset where the fast pattern began
	// resume is the stream offset before which every occurrence of the
	// rule's first content failed for good (see evaluator.resume).
	resume uint64
	// dormant: the last evaluation failed in a way no later bytes can
	// change; the rule waits for its fast pattern to be seen again.
	// Without this every chunk re-verified it over the whole window
	// (20x slower on text full of a credential prefix, BenchmarkPack
	// BenignStream/prefix-hits in configs/rules).
	dormant bool
}

// dirState is one direction of a flow.
type dirState struct {
	win   []byte // recent stream bytes: win[0] is at stream offset base
	base  uint64
	off   uint64 // bytes seen
	pf    prefilter.Stream
	pend  []pending
	fired map[uint32]struct{} // raw-stream rules that alerted in this direction
	probe []byte              // first bytes, while the app protocol is unknown
	noApp bool                // no parser recognised this direction's first bytes
	seen  bool
	// always holds the raw group's always-evaluated rules whose header
	// matches this flow (valid once alwaysOK).
	always   []uint32
	alwaysOK bool
	lastUnit unitState
	// pktSeen: a packet of this direction was reported (packet.go).
	pktSeen bool
}

// Flow inspects one flow; it implements inspect.FlowInspector. Not safe
// for concurrent use.
type Flow struct {
	e *Engine
	// caps is the pcre capture scratch (pcrevars.go).
	caps []capture
	// ent are the entropy values computed on the flow (entropy.go).
	ent []entropyVal
	// bitOrder are the flowbits set, in the order they were set, for
	// EVE's metadata.flowbits (flowvars.go).
	bitOrder []int
	// evNames backs the AppLayerEvent multi-buffer of the Unit being
	// inspected.
	evNames [][]byte
	meta    inspect.FlowMeta
	tr      uint8
	dirs    [2]dirState
	bits    []uint64
	// ints and intSet are the flow's flowint counters (flowint.go).
	ints   []int64
	intSet []bool
	app    string
	// alp is what app-layer-protocol reads besides app (applayerproto.go).
	alp appState
	// appWhy says how app was decided (EVE flow app_proto_reason).
	appWhy string
	parser applayer.Parser
	// probing is true until a protocol was chosen or all declined.
	probing bool
	txSeen  map[uint64]struct{}
	// txBase is added to the TxIDs of the current parser's Units: after
	// a tunnel (tunnel.go) a new parser counts from 0 again. txNext is
	// one past the highest TxID seen.
	txBase, txNext uint64
	passed         bool
	bufPF          map[*group]*bufScan
	res            inspect.Result
	cands          []uint32
	tbufs          []tbuf // transformed buffers of the current Unit
	// lastDgram is the datagram being inspected, for mixed raw+buffer
	// rules on UDP (valid only during Inspect).
	lastDgram [2][]byte
	// http is the HTTP transaction alerts are logged with (httpmeta.go).
	http *httpMeta
	// pkt is the packet being inspected (packet.go); passPkt and
	// passFlow say whether the pass rules that fired in the current
	// Result decide only the packet or the flow.
	pkt               packetState
	passPkt, passFlow bool
	// pdPkt: protocol detection ended in the current packet.
	pdPkt bool
	// counts is the last packet reported, whose counters flow.pkts and
	// flow.bytes read.
	counts inspect.Packet
	// onMatch adds a prefilter match to cands; made once per flow, as a
	// closure built per scan was allocated per scan (~14,000 a benchmark
	// op).
	onMatch prefilter.MatchFunc
}

var _ inspect.FlowInspector = (*Flow)(nil)

// NewFlow implements inspect.FlowFactory.
func (e *Engine) NewFlow(meta inspect.FlowMeta) inspect.FlowInspector { return e.newFlow(meta) }

func (e *Engine) newFlow(meta inspect.FlowMeta) *Flow {
	// A TCP flow picked up mid-stream gets no app-layer parser, as in
	// Suricata, which builds no TCP session (hence no app layer) for it
	// unless stream.midstream is on; raw stream rules still see its bytes.
	notEst := meta.Proto == inspect.ProtoTCP && meta.NotEstablished
	f := &Flow{e: e, meta: meta, probing: len(e.opts.Protos) > 0 && !notEst}
	f.onMatch = func(id uint32, _ uint64) bool {
		f.cands = append(f.cands, id)
		return true
	}
	if meta.Proto == inspect.ProtoUDP || meta.Proto == inspect.ProtoICMP {
		// ICMP flows have datagram semantics too (established once both
		// directions were seen); they are inspected by inspectICMP.
		f.tr = trUDP
	}
	if n := len(e.bitNames); n > 0 {
		f.bits = make([]uint64, (n+63)/64)
	}
	return f
}

// AppProto implements inspect.AppProtoReporter.
func (f *Flow) AppProto() string { return f.app }

// Inspect implements inspect.FlowInspector.
func (f *Flow) Inspect(dir inspect.Direction, data []byte) inspect.Result {
	f.res = inspect.Result{}
	f.alp.pdNow = false
	if f.meta.Proto == inspect.ProtoICMP && !f.passed && dir <= inspect.ToClient {
		f.inspectICMP(dir, data)
		return f.finish()
	}
	if dir > inspect.ToClient || (f.meta.Proto != inspect.ProtoTCP && f.meta.Proto != inspect.ProtoUDP) {
		return f.res
	}
	if f.passed {
		// A pass rule ends inspection, not logging: as in Suricata, the
		// app-layer parser goes on and its records are still reported
		// (onUnit runs no rule on a passed flow).
		f.appLayer(dir, data)
		return f.res
	}
	ds := &f.dirs[dir]
	ds.seen = true
	if d := f.e.opts.StreamDepth; f.e.opts.StreamDepthReject && f.tr == trTCP && d > 0 && f.parser == nil && (!f.probing || ds.noApp) &&
		ds.off < uint64(d) && ds.off+uint64(len(data)) > uint64(d) {
		f.res.Events = append(f.res.Events, inspect.Event{Dir: dir, Anomaly: &inspect.Anomaly{Event: AnomStreamDepthUnrecognised}})
	}
	// App-layer first: a raw rule on "alert http" needs to know the
	// protocol in the chunk that also completes its content.
	if f.tr == trUDP {
		f.lastDgram[dir] = data
		defer func() { f.lastDgram[dir] = nil }()
	} else if f.rawDone(ds) && f.parser == nil && !f.probing {
		// Past the stream depth with no parser, nothing reads the window
		// any more (only Units check raw lists against it): release it
		// and the prefilter state, and only count the bytes.
		ds.off += uint64(len(data))
		ds.win, ds.base, ds.pend = nil, ds.off, nil
		if ds.pf != nil {
			ds.pf.Close()
			ds.pf = nil
		}
	} else {
		// The window must hold this chunk before Units look at it.
		ds.append(data, f.e.opts.Window)
	}
	f.appLayer(dir, data)
	f.pdMark(dir)
	if f.tr == trUDP {
		f.inspectDatagram(dir, data)
	} else {
		f.inspectStream(dir, data)
		if f.pkt.open && f.pkt.dir == dir {
			f.packetRules()
		}
	}
	return f.finish()
}

// Close implements inspect.FlowInspector.
func (f *Flow) Close() inspect.Result {
	f.res = inspect.Result{}
	if f.parser != nil {
		f.parser.Close(f.onUnit)
	}
	for i := range f.dirs {
		if f.dirs[i].pf != nil {
			f.dirs[i].pf.Close()
		}
	}
	for _, s := range f.bufPF {
		s.s.Close()
	}
	return f.finish()
}

func (f *Flow) finish() inspect.Result {
	if f.passed {
		return f.res
	}
	f.attachHTTP()
	if f.e.resolveActions(&f.res) {
		if f.passFlow || !f.passPkt {
			// A pass rule stops inspection of the flow, as in Suricata.
			f.passed = true
		} else if f.res.Action == inspect.ActionPass {
			// Only rules with per-packet conditions passed: the packet
			// is passed (the alerts ranked after pass are gone), the
			// flow goes on being inspected (Suricata's packet scope).
			f.res.Action = inspect.ActionNone
		}
	}
	f.passPkt, f.passFlow = false, false
	f.res.Bypass = bypassed(&f.res)
	return f.res
}

// bypassed reports whether a rule with the bypass keyword matched and
// the result lets the flow go on: Suricata's bypass is a post-match
// action of the rule, and a drop or reject of the same packet wins.
func bypassed(res *inspect.Result) bool {
	switch res.Action {
	case inspect.ActionDrop, inspect.ActionReject, inspect.ActionRejectDst, inspect.ActionRejectBoth:
		return false
	}
	for i := range res.Alerts {
		if r := res.Alerts[i].Rule; r != nil && r.Bypass {
			return true
		}
	}
	return false
}

func (ds *dirState) append(data []byte, window int) {
	if need := len(ds.win) + len(data); need > cap(ds.win) {
		// Grow to at most what trim keeps plus one chunk, so a flow holds
		// memory in proportion to what it has seen, never 2x the window.
		c := min(max(2*cap(ds.win), need, 512), window+window/4+len(data))
		ds.win = append(make([]byte, 0, max(c, need)), ds.win...)
	}
	ds.win = append(ds.win, data...)
	ds.off += uint64(len(data))
}

// trim keeps the last window bytes once more than a quarter window extra
// is held, so the copy is amortised over at least window/4 new bytes.
func (ds *dirState) trim(window int) {
	if len(ds.win) <= window+window/4 {
		return
	}
	drop := len(ds.win) - window
	ds.win = ds.win[:copy(ds.win, ds.win[drop:])]
	ds.base += uint64(drop)
}

// rawDone reports whether ds's raw stream reached the stream depth; call
// it before ds.off counts the chunk being inspected.
func (f *Flow) rawDone(ds *dirState) bool {
	d := f.e.opts.StreamDepth
	return d > 0 && ds.off >= uint64(d)
}

func (f *Flow) inspectStream(dir inspect.Direction, data []byte) {
	ds := &f.dirs[dir]
	g := f.e.raw[f.tr][dir]
	if g == nil {
		ds.trim(f.e.opts.Window)
		return
	}
	// Only the bytes before the stream depth are scanned and verified;
	// past it rules without payload keywords still run.
	scan, win := data, ds.win
	past := false
	if d := uint64(f.e.opts.StreamDepth); d > 0 {
		start := ds.off - uint64(len(data))
		switch {
		case start >= d:
			scan, past = nil, true
		case ds.off > d:
			scan = data[:d-start]
		}
		if ds.base+uint64(len(win)) > d {
			win = win[:max(0, int64(d)-int64(ds.base))]
		}
	}
	if g.m != nil && len(scan) > 0 {
		if ds.pf == nil {
			ds.pf = g.m.NewStream()
		}
		ds.pf.Scan(scan, func(id uint32, end uint64) bool {
			if _, done := ds.fired[id]; done {
				return true
			}
			ds.addPending(id, end-uint64(f.e.rules[id].fpLen), f.e.opts.MaxPending)
			return true
		})
	}
	f.cands = f.cands[:0]
	if past {
		ds.pend = ds.pend[:0]
		if ds.pf != nil {
			// No stream scan follows; hyperscan state is C memory.
			ds.pf.Close()
			ds.pf = nil
		}
	}
	for _, p := range ds.pend {
		if !p.dormant {
			f.cands = append(f.cands, p.rule)
		}
	}
	for _, id := range f.always(g, dir) {
		cr := f.e.rules[id]
		if cr.pkt && f.meta.Packets {
			continue // evaluated per packet (packet.go)
		}
		if !past || len(cr.lists) == 0 {
			f.cands = append(f.cands, id)
		}
	}
	f.sortCands()
	v := view{buf: win, base: int64(ds.base)}
	for _, id := range f.cands {
		if _, done := ds.fired[id]; done {
			continue
		}
		cr := f.e.rules[id]
		if !f.dynCond(cr, dir, len(data), "") || (cr.fpLen > 0 && !f.header(cr, dir)) {
			continue
		}
		var end int
		var ok bool
		if p := ds.pending(id); p != nil {
			end, ok = f.evalPending(cr, &v, p)
		} else {
			end, ok = f.evalRaw(cr, &v)
		}
		if !ok {
			continue
		}
		if ds.fired == nil {
			ds.fired = map[uint32]struct{}{}
		}
		ds.fired[id] = struct{}{}
		f.fire(cr, dir, ds.base+uint64(end), "", 0)
	}
	ds.trim(f.e.opts.Window)
	// Forget candidates that fired, whose fast pattern has left the
	// window, or that are dormant with no work saved any more.
	kept := ds.pend[:0]
	for _, p := range ds.pend {
		if _, done := ds.fired[p.rule]; done {
			continue
		}
		if p.dormant && p.resume > ds.base || !p.dormant && p.fpStart >= ds.base {
			kept = append(kept, p)
		}
	}
	ds.pend = kept
}

func cmpPending(p pending, id uint32) int { return cmp.Compare(p.rule, id) }

// pending returns rule id's entry, or nil.
func (ds *dirState) pending(id uint32) *pending {
	if i, ok := slices.BinarySearchFunc(ds.pend, id, cmpPending); ok {
		return &ds.pend[i]
	}
	return nil
}

// addPending notes that rule id's fast pattern began at stream offset
// start. When limit entries are held, a dormant one makes room.
func (ds *dirState) addPending(id uint32, start uint64, limit int) {
	i, ok := slices.BinarySearchFunc(ds.pend, id, cmpPending)
	if ok {
		ds.pend[i].fpStart, ds.pend[i].dormant = start, false
		return
	}
	if len(ds.pend) >= limit {
		j := slices.IndexFunc(ds.pend, func(p pending) bool { return p.dormant })
		if j < 0 {
			return
		}
		ds.pend = slices.Delete(ds.pend, j, j+1)
		if j < i {
			i--
		}
	}
	ds.pend = slices.Insert(ds.pend, i, pending{rule: id, fpStart: start, resume: ds.base})
}

func (f *Flow) inspectDatagram(dir inspect.Direction, data []byte) {
	ds := &f.dirs[dir]
	ds.off += uint64(len(data))
	g := f.e.raw[trUDP][dir]
	if g == nil {
		return
	}
	f.cands = f.cands[:0]
	if g.m != nil && len(data) > 0 {
		if ds.pf == nil {
			ds.pf = g.m.NewStream()
		}
		ds.pf.Reset()
		ds.pf.Scan(data, f.onMatch)
	}
	f.cands = append(f.cands, f.always(g, dir)...)
	f.sortCands()
	v := view{buf: data}
	for _, id := range f.cands {
		cr := f.e.rules[id]
		if !f.cond(cr, dir, len(data), "") {
			continue
		}
		end, ok := f.evalRaw(cr, &v)
		if !ok {
			continue
		}
		f.fire(cr, dir, ds.off-uint64(len(data))+uint64(end), "", 0)
	}
}

func (f *Flow) addCand(id uint32) { f.cands = append(f.cands, id) }

// sortCands orders candidates as Suricata does for flowbits: rules that
// only set bits run before rules that test them, then in load order; and
// drops duplicates (a pattern seen twice), which takes no per-rule array.
func (f *Flow) sortCands() {
	rs := f.e.rules
	slices.SortFunc(f.cands, func(x, y uint32) int {
		a, b := rs[x], rs[y]
		if a.reads != b.reads {
			if a.reads {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.idx, b.idx)
	})
	f.cands = slices.Compact(f.cands)
}

// evalRaw runs a rule's raw list (if any) over v. A rule without lists
// (only flowbits, dsize, ...) matches at the end of the data.
func (f *Flow) evalRaw(cr *crule, v *view) (int, bool) {
	if len(cr.lists) == 0 {
		return len(v.buf), true
	}
	return f.evalList(cr, &cr.lists[0], v)
}

// evalPending runs a pending rule's raw list over the stream window v,
// starting its first content where the last evaluation left off, and
// makes the rule dormant when it failed for good.
func (f *Flow) evalPending(cr *crule, v *view, p *pending) (int, bool) {
	if len(cr.lists) == 0 {
		return len(v.buf), true
	}
	l := &cr.lists[0]
	ev := evaluator{v: v, ops: l.ops, slots: cr.slots, timeout: f.e.opts.RegexTimeout, fpOp: -1, track: true}
	if cr.trigger == 0 {
		ev.fpOp = cr.fpOp
	}
	if p.resume > uint64(v.base) {
		ev.from = int(p.resume - uint64(v.base))
	}
	if cr.nvars > 0 {
		ev.vars = make([]int64, cr.nvars)
	}
	f.keepVars(cr, &ev)
	ok := ev.run(0, int(-v.base), 0)
	p.resume = max(p.resume, uint64(v.base)+uint64(ev.resume))
	if !ok {
		p.dormant = !ev.more
		return 0, false
	}
	if ev.end == 0 {
		ev.end = len(v.buf)
	}
	return ev.end, true
}

func (f *Flow) evalList(cr *crule, l *clist, v *view) (int, bool) {
	end, ok, _ := f.evalListFP(cr, l, v, -1)
	return end, ok
}

// evalListFP is evalList that also reports whether appending bytes to
// v could change a failure (evaluator.more), with the fast pattern
// exception for op fpOp (-1: none).
func (f *Flow) evalListFP(cr *crule, l *clist, v *view, fpOp int) (end int, ok, more bool) {
	ev := evaluator{v: v, ops: l.ops, slots: cr.slots, timeout: f.e.opts.RegexTimeout, fpOp: fpOp}
	if cr.nvars > 0 {
		ev.vars = make([]int64, cr.nvars)
	}
	f.keepVars(cr, &ev)
	if !ev.run(0, int(-v.base), 0) {
		return 0, false, ev.more
	}
	if ev.end == 0 {
		ev.end = len(v.buf)
	}
	return ev.end, true, ev.more
}

func (f *Flow) addrs(dir inspect.Direction) (src, dst netip.AddrPort) {
	if dir == inspect.ToServer {
		return f.meta.Src, f.meta.Dst
	}
	return f.meta.Dst, f.meta.Src
}

// cond checks everything but the buffers: header, flow state, app
// protocol, dsize and flowbits conditions.
func (f *Flow) cond(cr *crule, dir inspect.Direction, size int, unitApp string) bool {
	return f.dynCond(cr, dir, size, unitApp) && f.header(cr, dir)
}

// header reports whether the rule's addresses and ports match the flow in
// dir; it never changes during a flow.
func (f *Flow) header(cr *crule, dir inspect.Direction) bool {
	src, dst := f.addrs(dir)
	return cr.r.MatchHeader(src.Addr().Unmap(), dst.Addr().Unmap(), src.Port(), dst.Port())
}

// always returns the rules of g evaluated on every chunk whose header
// matches this flow in dir, computed once per flow and direction: ET Open
// has ~1200 such rules (IP reputation lists, flowbits-only rules) whose
// address checks were most of the per-chunk cost.
func (f *Flow) always(g *group, dir inspect.Direction) []uint32 {
	ds := &f.dirs[dir]
	if ds.alwaysOK {
		return ds.always
	}
	ds.alwaysOK = true
	check := func(ids []uint32, filter bool) {
		for _, id := range ids {
			if (!filter || g.ai.has(id)) && f.header(f.e.rules[id], dir) {
				ds.always = append(ds.always, id)
			}
		}
	}
	if g.ai == nil {
		check(g.always, false)
		return ds.always
	}
	src, dst := f.addrs(dir)
	check(g.ai.bySrc.lookup(src.Addr().Unmap()), true)
	check(g.ai.byDst.lookup(dst.Addr().Unmap()), true)
	check(g.ai.rest, false)
	// Candidates are sorted and deduplicated before use; keep load
	// order here anyway so the list reads like g.always.
	slices.Sort(ds.always)
	return ds.always
}

// dynCond checks what can change during a flow: app protocol, flow state,
// dsize and flowbits; cheapest first.
func (f *Flow) dynCond(cr *crule, dir inspect.Direction, size int, unitApp string) bool {
	r := cr.r
	if len(r.AppLayerProtos) > 0 && !f.appLayerProtosOK(cr) {
		return false
	}
	if r.AppProto != "" {
		app := f.app
		if unitApp != "" {
			app = unitApp
		}
		if !inspect.AppProtoIs(app, r.AppProto) {
			return false
		}
	}
	established := !f.meta.NotEstablished
	if f.tr == trUDP {
		established = f.dirs[0].seen && f.dirs[1].seen
	}
	fl := r.Flow
	if (fl.Established && !established) || (fl.NotEstablished && established) {
		return false
	}
	if fl.NoStream && f.tr == trTCP {
		return false
	}
	if r.Dsize != nil && (!r.Dsize.Match(size) || size == 0 && dsizeNeedsPayload(r.Dsize)) {
		return false
	}
	if r.StreamSize != nil && !f.streamSizeOK(r.StreamSize) {
		return false
	}
	for i := range r.FlowCounts {
		fc := &r.FlowCounts[i]
		n := f.counts.Pkts
		if fc.Bytes {
			n = f.counts.Bytes
		}
		if !fc.Match(n) {
			return false
		}
	}
	for _, b := range cr.bits {
		switch b.op {
		case "isset", "isnotset":
			want := b.op == "isset"
			hit := b.all
			for _, id := range b.ids {
				set := f.bits[id/64]&(1<<(id%64)) != 0
				if b.all {
					hit = hit && set == want
				} else if set == want {
					hit = true
				}
			}
			if !hit {
				return false
			}
		}
	}
	return (len(cr.ints) == 0 || f.flowintCond(cr)) && (len(cr.xbits) == 0 || f.xbitsCond(cr, dir))
}

// fire records a match: flowbit updates, thresholds, then the alert.
func (f *Flow) fire(cr *crule, dir inspect.Direction, off uint64, app string, tx uint64) {
	r := cr.r
	src, dst := f.addrs(dir)
	now := f.e.opts.Now()
	if df := r.DetectionFilter; df != nil {
		k := trackKey(r.Info.SID, 1, df.Track, src.Addr(), dst.Addr(), f.meta.ID)
		if !f.e.th.detectionFilter(df, k, now) {
			return
		}
	}
	for _, b := range cr.bits {
		for _, id := range b.ids {
			w, m := id/64, uint64(1)<<(id%64)
			f.noteBit(id, b.op, f.bits[w]&m != 0)
			switch b.op {
			case "set":
				f.bits[w] |= m
			case "unset":
				f.bits[w] &^= m
			case "toggle":
				f.bits[w] ^= m
			}
		}
	}
	if len(cr.ints) > 0 {
		f.flowintApply(cr)
	}
	if len(cr.xbits) > 0 {
		f.xbitsApply(cr, dir)
	}
	for _, s := range cr.suppress {
		switch {
		case s.Track == "":
			return
		case s.Track == "by_src" && s.Net.Contains(src.Addr().Unmap()):
			return
		case s.Track == "by_dst" && s.Net.Contains(dst.Addr().Unmap()):
			return
		case s.Track == "by_either" && (s.Net.Contains(src.Addr().Unmap()) || s.Net.Contains(dst.Addr().Unmap())):
			return
		}
	}
	if th := cr.thresh; th != nil {
		k := trackKey(r.Info.SID, 0, th.Track, src.Addr(), dst.Addr(), f.meta.ID)
		if !f.e.th.threshold(th, k, now) {
			return
		}
	}
	info, rated := r.Info, false
	if rf := cr.rate; rf != nil {
		k := trackKey(r.Info.SID, 2, rf.Track, src.Addr(), dst.Addr(), f.meta.ID)
		if f.e.th.rate(rf, k, now) {
			if a, ok := rules.ActionByName(rf.NewAction); ok {
				cp := *info
				cp.Action = a
				info, rated = &cp, true
			}
		}
	}
	f.res.Alerts = append(f.res.Alerts, inspect.Alert{Rule: info, Dir: dir, Offset: off, AppProto: app, TxID: tx, NoAlert: r.NoAlert,
		RateFiltered: rated, Vars: f.takeVars(cr)})
	if info.Action == inspect.ActionPass {
		// Without packets (the live path) such a rule fires once per
		// direction, so its pass must hold for the flow.
		if cr.pkt && !cr.flowScope && f.meta.Packets {
			f.passPkt = true
		} else {
			f.passFlow = true
		}
	}
}

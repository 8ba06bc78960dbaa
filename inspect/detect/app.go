package detect

import (
	"bytes"
	"runtime"
	"slices"
	"strings"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
	"github.com/interdict/interdict/inspect/prefilter"
)

// appLayer detects the protocol by content (first bytes of either
// direction) and feeds the parser; its Units run the buffer rules.
func (f *Flow) appLayer(dir inspect.Direction, data []byte) {
	if f.parser != nil {
		f.parser.Feed(dir, data, f.onUnit)
		f.tunnel()
		return
	}
	if !f.probing {
		return
	}
	ds := &f.dirs[dir]
	// UDP: each datagram is probed on its own; TCP: the stream's first
	// bytes accumulate up to MaxProbe.
	probe, rest := data, []byte(nil)
	if f.tr == trTCP {
		n := min(len(data), f.e.opts.MaxProbe-len(ds.probe))
		ds.probe = append(ds.probe, data[:n]...)
		probe, rest = ds.probe, data[n:]
	}
	undecided := false
	for _, p := range f.e.opts.Protos {
		if p.Transport != 0 && p.Transport != f.meta.Proto {
			continue
		}
		switch p.Probe(dir, probe) {
		case applayer.ProbeYes:
			f.app, f.parser, f.probing, f.pdPkt = p.Name, p.New(), false, true
			f.appWhy = "content " + dir.String()
			f.detected(p.Name)
			// Replay what was held back, in order: the other direction's
			// bytes first if it spoke first, then this one's.
			other := &f.dirs[1-dir]
			if f.tr == trTCP && len(other.probe) > 0 {
				f.parser.Feed(1-dir, other.probe, f.onUnit)
			}
			f.parser.Feed(dir, probe, f.onUnit)
			// The bytes of this chunk past the probe bound were not
			// probed but are the same stream: a request whose headers
			// ran past the bound used to lose them, and every header
			// rule went silent.
			if len(rest) > 0 {
				f.parser.Feed(dir, rest, f.onUnit)
			}
			f.dirs[0].probe, f.dirs[1].probe = nil, nil
			return
		case applayer.ProbeMore:
			undecided = true
		}
	}
	if f.tr == trUDP {
		return
	}
	if undecided && len(ds.probe) < f.e.opts.MaxProbe {
		return
	}
	// As Suricata, a direction that no parser recognises leaves the other
	// to decide (a junk request answered by an HTTP response is HTTP):
	// probing ends when both failed, or when a failed direction sends more
	// than its probe holds (a parser found later would miss those bytes).
	if !ds.noApp {
		ds.noApp = true
		if f.appWhy == "" {
			f.appWhy = "no parser recognised " + dir.String()
		}
		// A CONNECT tunnel (tunnel.go) was read as HTTP already: what
		// it carries may be anything.
		if f.alp.orig == "" && slices.Contains(f.e.opts.HTTPPorts, f.meta.Dst.Port()) {
			f.res.Events = append(f.res.Events, inspect.Event{Dir: dir,
				Anomaly: &inspect.Anomaly{AppProto: "http", Event: AnomHTTPPortNotHTTP}})
		}
	}
	if f.dirs[1-dir].noApp || len(rest) > 0 || undecided {
		f.probing, f.pdPkt = false, true
		f.dirs[0].probe, f.dirs[1].probe = nil, nil
		f.appWhy = "no parser recognised " + dir.String()
		if undecided {
			f.appWhy = "undecided after the probe bound in " + dir.String()
		}
	}
}

// AppProtoReason implements inspect.AppProtoReasoner.
func (f *Flow) AppProtoReason() string { return f.appWhy }

func (f *Flow) onUnit(u *applayer.Unit) {
	if f.txBase > 0 {
		u.TxID += f.txBase
		defer func(base uint64) { u.TxID -= base }(f.txBase)
	}
	f.txNext = max(f.txNext, u.TxID+1)
	f.unitApp(u.AppProto)
	if u.Event != nil {
		ev := *u.Event
		ev.TxID += f.txBase
		f.res.Events = append(f.res.Events, ev)
	}
	for _, a := range u.Anomalies {
		a := a
		f.res.Events = append(f.res.Events, inspect.Event{Dir: u.Dir, TxID: u.TxID, Anomaly: &a})
	}
	if u.Dir > inspect.ToClient || f.passed {
		return
	}
	if len(u.Anomalies) > 0 {
		// app-layer-event rules see this Unit's anomalies (see
		// applayer.AppLayerEvent) beside the transaction's events the
		// parser may have listed; the Unit is the parser's, so they are
		// taken off again.
		own := u.Multi[applayer.AppLayerEvent]
		f.evNames = append(f.evNames[:0], own...)
		for _, a := range u.Anomalies {
			f.evNames = append(f.evNames, []byte(strings.ToLower(a.AppProto+"."+a.Event)))
		}
		u.Multi[applayer.AppLayerEvent] = f.evNames
		defer func() { u.Multi[applayer.AppLayerEvent] = own }()
	}
	f.trackHTTP(u)
	f.cands = f.cands[:0]
	f.tbufs = f.tbufs[:0]
	ls := &f.dirs[u.Dir].lastUnit
	same := ls.valid && ls.tx == u.TxID
	// A body window that slid is a new buffer, not a grown one; but its
	// bytes follow the ones scanned already, so the prefilter stream of
	// the Unit's own body goes on past the slide (slid bytes) instead of
	// rescanning the part the window kept.
	bodySame := same && ls.bodyOff == u.BodyOffset
	var slid int64
	if same && u.BodyOffset > ls.bodyOff {
		slid = u.BodyOffset - ls.bodyOff
	}
	ls.valid, ls.tx, ls.bodyOff = true, u.TxID, u.BodyOffset
	for b := applayer.Buffer(1); b < applayer.NumBuffers; b++ {
		if b.IsMulti() {
			f.scanMulti(u, b)
			continue
		}
		if u.Buffers[b] == nil {
			ls.len[b] = -1
			continue
		}
		// A transaction's buffers are re-sent with every Unit (request
		// line, headers, each body piece); one whose length did not change
		// did not change (bodies only grow), and a group whose rules look
		// only at that buffer would decide exactly as last time.
		grown := same
		if isBody(b) {
			grown = bodySame
		}
		unchanged := grown && ls.len[b] == len(u.Buffers[b])
		ls.len[b] = len(u.Buffers[b])
		for _, g := range f.e.bufGroups[f.tr][u.Dir][b] {
			if unchanged && g.solo {
				continue
			}
			buf := f.transformed(u, b, g.key.tf, g.transforms)
			if g.m != nil && len(buf) > 0 {
				var shift int64
				if ownBody(u.Dir, b) && g.key.tf == "" {
					shift = slid
				}
				f.scanBuffer(g, u.TxID, grown && isBody(b) && g.key.tf == "", buf, shift)
			}
			for _, id := range g.always {
				f.addCand(id)
			}
		}
	}
	f.sortCands()
	for _, id := range f.cands {
		cr := f.e.rules[id]
		key := u.TxID<<33 | uint64(id)
		if cr.perDir {
			key |= uint64(u.Dir&1) << 32
		}
		if _, done := f.txSeen[key]; done {
			continue
		}
		if !f.cond(cr, u.Dir, 0, u.AppProto) && !(cr.r.Dsize != nil && f.cond(cr, u.Dir, cr.r.Dsize.N, u.AppProto)) {
			continue
		}
		ok := true
		for _, i := range cr.order {
			l := &cr.lists[i]
			if l.buf.IsMulti() {
				if ok = f.evalMulti(cr, l, u); !ok {
					break
				}
				continue
			}
			var v view
			if l.buf == applayer.BufNone {
				ds := &f.dirs[u.Dir]
				v = view{buf: ds.win, base: int64(ds.base)}
				if f.tr == trUDP {
					v = view{buf: f.lastDgram[u.Dir]}
				}
			} else {
				buf := f.transformed(u, l.buf, l.tf, l.transforms)
				if buf == nil {
					ok = false
					break
				}
				v = view{buf: buf}
			}
			fpOp := -1
			if i == cr.trigger {
				fpOp = cr.fpOp
			}
			var more bool
			if _, ok, more = f.evalListFP(cr, l, &v, fpOp); !ok {
				// A growing body's candidate that failed on the body in
				// a way later bytes cannot change is not re-verified on
				// every piece; a new occurrence of its fast pattern
				// makes it a candidate again.
				if !more && i == cr.trigger && isBody(l.buf) && l.tf == "" {
					f.dropBodyCand(u.Dir, l.buf, id)
				}
				break
			}
		}
		if !ok {
			continue
		}
		if f.txSeen == nil || len(f.txSeen) >= maxTxSeen {
			f.txSeen = map[uint64]struct{}{}
		}
		f.txSeen[key] = struct{}{}
		n := len(f.res.Alerts)
		f.fire(cr, u.Dir, f.dirs[u.Dir].off, u.AppProto, u.TxID)
		if len(f.res.Alerts) > n {
			f.res.Alerts[n].HTTP = f.unitHTTP(u)
			if u.Event != nil && u.Event.DNS != nil {
				f.res.Alerts[n].DNS = u.Event.DNS
			}
		}
	}
}

// bufScan is a buffer group's prefilter stream within a flow. For a body,
// which only grows within a transaction, it remembers what was scanned and
// the candidates found there, so each Unit scans only the new bytes: a
// body delivered in pieces used to be rescanned whole on every piece.
type bufScan struct {
	s       prefilter.Stream
	tx      uint64
	scanned int
	cands   []uint32
}

// maxBodyCands bounds the candidates remembered per body group; past it
// the body is rescanned whole on the next piece.
const maxBodyCands = 1024

func isBody(b applayer.Buffer) bool {
	return b == applayer.HTTPRequestBody || b == applayer.HTTPResponseBody
}

// ownBody reports whether b is the body of a Unit of direction dir (the
// one its BodyOffset describes).
func ownBody(dir inspect.Direction, b applayer.Buffer) bool {
	return dir == inspect.ToServer && b == applayer.HTTPRequestBody || dir == inspect.ToClient && b == applayer.HTTPResponseBody
}

// scanBuffer adds g's candidates for buf; grow says buf extends what the
// same transaction's previous Unit held, shift that it is that buffer
// with its first shift bytes gone (a body window that slid).
func (f *Flow) scanBuffer(g *group, tx uint64, grow bool, buf []byte, shift int64) {
	if !isBody(g.key.buf) {
		// Only bodies grow; other buffers are scanned whole with a
		// stream borrowed for the call.
		ps := g.getStream()
		ps.s.Scan(buf, f.onMatch)
		g.putStream(ps)
		return
	}
	if f.bufPF == nil {
		f.bufPF = map[*group]*bufScan{}
	}
	st := f.bufPF[g]
	if st == nil {
		st = &bufScan{s: g.m.NewStream()}
		f.bufPF[g] = st
	}
	if shift > 0 && st.tx == tx && int64(st.scanned) >= shift {
		st.scanned -= int(shift)
		grow = st.scanned > 0
	}
	if !grow || st.tx != tx || st.scanned == 0 || st.scanned > len(buf) || len(st.cands) > maxBodyCands {
		st.s.Reset()
		st.scanned, st.cands = 0, st.cands[:0]
	}
	st.tx = tx
	st.s.Scan(buf[st.scanned:], func(id uint32, end uint64) bool {
		st.cands = append(st.cands, id)
		return true
	})
	st.scanned = len(buf)
	slices.Sort(st.cands)
	st.cands = slices.Compact(st.cands)
	f.cands = append(f.cands, st.cands...)
}

// dropBodyCand forgets rule id among the candidates remembered for body
// buffer b in direction dir.
func (f *Flow) dropBodyCand(dir inspect.Direction, b applayer.Buffer, id uint32) {
	g := f.e.groups[groupKey{tr: f.tr, dir: dir, buf: b}]
	st := f.bufPF[g]
	if st == nil {
		return
	}
	if i, ok := slices.BinarySearch(st.cands, id); ok {
		st.cands = slices.Delete(st.cands, i, i+1)
	}
}

// transformed returns buffer b of u after the transforms, caching per
// Unit in f.tbufs. A nil result means the buffer is absent.
func (f *Flow) transformed(u *applayer.Unit, b applayer.Buffer, tf string, tfs []string) []byte {
	src := u.Buffers[b]
	if src == nil || tf == "" {
		return src
	}
	for _, t := range f.tbufs {
		if t.buf == b && t.tf == tf {
			return t.out
		}
	}
	out := applyTransforms(src, tfs)
	f.tbufs = append(f.tbufs, tbuf{buf: b, tf: tf, out: out})
	return out
}

// tbuf is one transformed buffer of the Unit being inspected.
type tbuf struct {
	buf applayer.Buffer
	tf  string
	out []byte
}

// unitState remembers the last Unit of a direction, to skip buffers that
// did not change since.
type unitState struct {
	valid   bool
	tx      uint64
	bodyOff int64
	len     [applayer.NumBuffers]int
}

func applyTransforms(src []byte, tfs []string) []byte {
	out := append([]byte{}, src...)
	for _, t := range tfs {
		switch t {
		case "dotprefix":
			out = append([]byte{'.'}, out...)
		case "to_lowercase":
			out = bytes.ToLower(out)
		case "to_uppercase":
			out = bytes.ToUpper(out)
		case "strip_whitespace":
			out = bytes.Map(func(r rune) rune {
				if r == ' ' || (r >= '\t' && r <= '\r') {
					return -1
				}
				return r
			}, out)
		case "compress_whitespace":
			out = []byte(strings.Join(strings.Fields(string(out)), " "))
		default:
			out = applyTransform(out, t)
		}
	}
	return out
}

// pooledStream is a prefilter stream lent to one scan of a buffer that
// does not grow. Each flow used to keep one per buffer group it had seen
// (about 6 KB of an idle HTTP flow's ~33 KB, BenchmarkFlowState).
type pooledStream struct{ s prefilter.Stream }

func (g *group) getStream() *pooledStream {
	if v := g.pool.Get(); v != nil {
		ps := v.(*pooledStream)
		ps.s.Reset()
		return ps
	}
	ps := &pooledStream{s: g.m.NewStream()}
	// The pool drops idle entries silently; a hyperscan stream holds C
	// memory that only Close frees.
	runtime.AddCleanup(ps, func(s prefilter.Stream) { s.Close() }, ps.s)
	return ps
}

func (g *group) putStream(ps *pooledStream) { g.pool.Put(ps) }

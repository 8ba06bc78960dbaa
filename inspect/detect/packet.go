package detect

import (
	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/rules"
)

var _ inspect.PacketInspector = (*Flow)(nil)

// packetState is the packet announced by BeginPacket whose rules are
// still to be evaluated.
type packetState struct {
	open bool
	dir  inspect.Direction
	size int
}

// BeginPacket implements inspect.PacketInspector. The flow's established
// state then follows the packets, as Suricata's flow:established does,
// for the packet's stream bytes too.
func (f *Flow) BeginPacket(p inspect.Packet) {
	f.counts = p
	if f.tr != trTCP || f.meta.Proto != inspect.ProtoTCP {
		return
	}
	f.meta.NotEstablished = !p.Established
	f.pkt = packetState{open: true, dir: p.Dir, size: p.Payload}
	f.pdPkt = false
}

// EndPacket implements inspect.PacketInspector.
func (f *Flow) EndPacket() inspect.Result {
	f.res = inspect.Result{}
	if !f.pkt.open || f.passed {
		f.pkt.open = false
		return f.res
	}
	f.packetRules()
	return f.finish()
}

// packetRules evaluates the TCP rules without payload keywords
// (crule.pkt) on the open packet, into f.res. IP-only rules see the
// first packet of each direction only, protocol-detection-only rules
// the packet that ended protocol detection.
func (f *Flow) packetRules() {
	p := f.pkt
	f.pkt.open = false
	g := f.e.raw[trTCP][p.dir]
	if g == nil {
		return
	}
	ds := &f.dirs[p.dir]
	first := !ds.pktSeen
	ds.pktSeen = true
	f.cands = f.cands[:0]
	for _, id := range f.always(g, p.dir) {
		if cr := f.e.rules[id]; cr.pkt && (first || !cr.ipOnly) && (f.pdPkt || !cr.pdOnly) {
			f.cands = append(f.cands, id)
		}
	}
	f.sortCands()
	for _, id := range f.cands {
		if cr := f.e.rules[id]; f.dynCond(cr, p.dir, p.size, "") {
			f.fire(cr, p.dir, ds.off, "", 0)
		}
	}
}

// dsizeNeedsPayload reports whether a dsize comparison only matches
// packets with a payload, as Suricata masks it (SignatureCreateMask):
// ranges, >, >=, != and = N>0 do, so dsize:!9 or dsize:>=0 never matches
// an empty segment; < and <= may.
func dsizeNeedsPayload(c *rules.IntCmp) bool {
	switch c.Op {
	case "<>", ">", ">=", "!=":
		return true
	case "=":
		return c.N > 0
	}
	return false
}

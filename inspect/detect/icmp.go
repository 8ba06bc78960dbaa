package detect

import (
	"encoding/binary"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
	"github.com/interdict/interdict/inspect/rules"
)

// ICMP messages are inspected one at a time, like datagrams: the data
// handed to Inspect is the whole ICMP message (type, code, checksum, the
// rest of the header, then the payload). Rules written for icmp, and ip
// rules without app-layer buffers, run on every message; their content
// and dsize see the payload after the 8-byte header, as in Suricata.

// icmpHeaderLen is the fixed ICMP header (type, code, checksum, 4 bytes
// of type-specific data such as the echo identifier and sequence).
const icmpHeaderLen = 8

// addICMP registers cr for ICMP flows when it can match one.
func (e *Engine) addICMP(cr *crule) {
	r := cr.r
	if r.Transport != inspect.ProtoICMP && r.Transport != 0 {
		return
	}
	if r.AppProto != "" || r.ApproxApp != "" {
		return
	}
	for _, l := range cr.lists {
		if l.buf != applayer.BufNone {
			return
		}
	}
	e.icmp = append(e.icmp, cr.idx)
}

func (f *Flow) inspectICMP(dir inspect.Direction, msg []byte) {
	ds := &f.dirs[dir]
	ds.seen = true
	ds.off += uint64(len(msg))
	if len(f.e.icmp) == 0 || len(msg) < 4 {
		return
	}
	payload := msg[min(len(msg), icmpHeaderLen):]
	v6 := f.meta.Src.Addr().Unmap().Is6()
	v := view{buf: payload}
	for _, id := range f.e.icmp {
		cr := f.e.rules[id]
		if cr.dirs&(1<<dir) == 0 {
			continue
		}
		if m := cr.r.ICMP; m != nil && !icmpMatch(m, msg, v6) {
			continue
		}
		if !f.cond(cr, dir, len(payload), "") {
			continue
		}
		end, ok := f.evalRaw(cr, &v)
		if !ok {
			continue
		}
		f.fire(cr, dir, ds.off-uint64(len(payload))+uint64(end), "", 0)
	}
}

// icmpMatch tests the header keywords. icmp_id and icmp_seq exist only in
// the messages that carry them (echo, timestamp, information and address
// mask requests and replies; ICMPv6 echo); other messages never match.
func icmpMatch(m *rules.ICMP, msg []byte, v6 bool) bool {
	typ, code := int(msg[0]), int(msg[1])
	if m.Type != nil && !m.Type.Match(typ) {
		return false
	}
	if m.Code != nil && !m.Code.Match(code) {
		return false
	}
	if m.ID == nil && m.Seq == nil {
		return true
	}
	if len(msg) < icmpHeaderLen || !hasIDSeq(typ, v6) {
		return false
	}
	if m.ID != nil && !m.ID.Match(int(binary.BigEndian.Uint16(msg[4:6]))) {
		return false
	}
	return m.Seq == nil || m.Seq.Match(int(binary.BigEndian.Uint16(msg[6:8])))
}

func hasIDSeq(typ int, v6 bool) bool {
	if v6 {
		return typ == 128 || typ == 129 // echo request, echo reply
	}
	switch typ {
	case 0, 8, 13, 14, 15, 16, 17, 18:
		return true
	}
	return false
}

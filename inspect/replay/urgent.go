package replay

import (
	"fmt"

	"github.com/gopacket/gopacket/layers"

	"github.com/interdict/interdict/inspect"
)

// UrgentPolicy is how replay reads the byte a TCP urgent pointer marks,
// Suricata's stream.reassembly.urgent.policy. Whether a receiver reads
// it in band depends on its stack and socket options (RFC 6093), so a
// capture can only be replayed under an assumption; the appliance
// itself has none to make: its TCP stack reads urgent data in band and
// the server receives exactly what was inspected, from a connection
// without URG.
type UrgentPolicy uint8

const (
	// UrgentInline ignores the urgent pointer: every byte is in band
	// (Suricata's default, and what the appliance's stack does).
	UrgentInline UrgentPolicy = iota
	// UrgentOOB takes the last byte of a segment whose urgent pointer
	// lies within its payload out of the stream, as a Linux receiver
	// without SO_OOBINLINE does (RFC 6093 3.1: one byte). Later
	// sequence numbers are shifted back, so no gap is seen.
	UrgentOOB
	// UrgentGap skips that byte but keeps the sequence numbers: the
	// stream has a one-byte gap.
	UrgentGap
	// UrgentDrop, in ips mode, drops segments with URG set before they
	// reach the stream (drop reason "stream urgent"); in ids mode it
	// reads them in band, as Suricata does.
	UrgentDrop
)

// maxOOB is how many out-of-band bytes a direction tracks (Suricata:
// 64k); past it UrgentOOB gives way to Config.UrgentOOBLimit.
const maxOOB = 1<<16 - 1

// ParseUrgentPolicy reads a policy by Suricata's name (drop, inline,
// oob, gap).
func ParseUrgentPolicy(s string) (UrgentPolicy, error) {
	switch s {
	case "inline":
		return UrgentInline, nil
	case "oob":
		return UrgentOOB, nil
	case "gap":
		return UrgentGap, nil
	case "drop":
		return UrgentDrop, nil
	}
	return 0, fmt.Errorf("urgent policy %q: want drop, inline, oob or gap", s)
}

// urgent decides what of a segment's payload enters the stream under
// the configured policy. It returns the sequence number the payload
// starts at in the stream's own numbering (shifted back by the
// direction's out-of-band bytes), the payload to insert, and whether the
// segment is dropped (ips, drop policies).
func (rp *replayer) urgent(st *stream, t *layers.TCP, payload []byte) (seq uint32, data []byte, drop bool) {
	seq, data = t.Seq-st.oob, payload
	if !t.URG {
		return seq, data, false
	}
	pol := rp.cfg.Urgent
	if pol == UrgentDrop {
		return seq, data, rp.cfg.Mode == ModeIPS
	}
	ptr := int(t.Urgent)
	if (pol != UrgentOOB && pol != UrgentGap) || ptr == 0 || ptr > len(payload) {
		return seq, data, false
	}
	if pol == UrgentOOB && st.oob >= maxOOB {
		switch rp.cfg.UrgentOOBLimit {
		case UrgentInline:
			return seq, data, false
		case UrgentDrop:
			return seq, data, true
		}
		// UrgentGap: skip the byte without shifting what follows.
	} else if pol == UrgentOOB {
		st.oob++
	}
	// As Suricata, the segment's last byte is the out-of-band one: a
	// sender's urgent pointer points just past it in every stack today.
	return seq, data[:len(data)-1], false
}

// dropSegment logs one dropped segment of a flow that goes on (unlike
// dropPacket, which drops the flow).
func (rp *replayer) dropSegment(f *flow, dir inspect.Direction, n int, reason string) error {
	return rp.logDrop(f, dir, nil, n, reason)
}

package netstack

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"

	"github.com/interdict/interdict/netstack/l4sum"
)

// Fragment reassembly happens in the guard, not in gVisor, because gVisor
// does not verify the transport checksum of a datagram it reassembled
// when the link advertises RX checksum offload (the TUN link must, for
// GRO): the reassembled packet inherits the first fragment's "validated"
// mark, and a TCP segment or UDP datagram with a wrong checksum was
// relayed upstream with a fresh one. No hook of gVisor's runs after its
// reassembly, so the guard reassembles first and hands gVisor whole
// datagrams only, whatever the link (TUN, WireGuard, pipe).
//
// Bounds follow Linux's defaults: 30 s to complete a datagram
// (net.ipv4.ipfrag_time) and 4 MiB of fragments held in all
// (ipfrag_high_thresh). Overlapping fragments drop the whole datagram
// (RFC 5722 for IPv6, and for IPv4 too): a sensor must never pick one of
// two versions of the same bytes that the endpoint might read otherwise.
const (
	fragTimeout  = 30 * time.Second
	fragMaxBytes = 4 << 20
	// fragMaxDatagrams bounds the table's entries, which tiny fragments
	// would otherwise multiply within fragMaxBytes.
	fragMaxDatagrams = 4096
	// maxIPv4Total is the largest IPv4 packet, header included.
	maxIPv4Total = 0xffff
)

// Outcomes of reassembler.add besides "held": the guard drop reasons.
const (
	fragHeld = -1
	fragDone = -2
)

type fragKey struct {
	src, dst netip.Addr
	id       uint32
	// proto is part of the IPv4 key (RFC 791); IPv6 keys on src, dst and
	// id only (RFC 8200) and leaves it 0.
	proto uint8
}

type fragPart struct {
	off  int
	data []byte
}

type fragDatagram struct {
	// unfrag is the first fragment's header part: the IPv4 header with
	// options, or the IPv6 header and the extension headers before the
	// fragment header. nextAt is the index in it of the next-header byte
	// that named the fragment header, and next the fragment header's own
	// next header (IPv6 only).
	unfrag  []byte
	nextAt  int
	next    uint8
	v6      bool
	parts   []fragPart // sorted by offset, never overlapping
	have    int        // payload bytes held
	total   int        // payload length, -1 until the last fragment came
	expires time.Time
}

func (d *fragDatagram) size() int { return d.have + len(d.unfrag) }

// reassembler holds incomplete datagrams. It is safe for concurrent use
// (a multiqueue TUN delivers from one goroutine per queue).
type reassembler struct {
	mu    sync.Mutex
	m     map[fragKey]*fragDatagram
	bytes int
}

func newReassembler() *reassembler {
	return &reassembler{m: make(map[fragKey]*fragDatagram)}
}

// fragment is one parsed fragment.
type fragment struct {
	key    fragKey
	off    int
	more   bool
	data   []byte
	unfrag []byte
	nextAt int
	next   uint8
	v6     bool
}

// parseFragment reads b, a whole IP packet. frag reports whether it is a
// fragment; ok is false for a fragment that cannot be valid (empty, not a
// multiple of 8 bytes before the last, beyond 65535 bytes).
func parseFragment(b []byte) (f fragment, frag, ok bool) {
	if len(b) == 0 {
		return f, false, false
	}
	switch b[0] >> 4 {
	case 4:
		if len(b) < header.IPv4MinimumSize {
			return f, false, false
		}
		h := header.IPv4(b)
		ihl, tl := int(h.HeaderLength()), int(h.TotalLength())
		if ihl < header.IPv4MinimumSize || tl < ihl || tl > len(b) {
			return f, false, false
		}
		if !h.More() && h.FragmentOffset() == 0 {
			return f, false, true
		}
		f = fragment{
			key: fragKey{
				src: netip.AddrFrom4(h.SourceAddress().As4()), dst: netip.AddrFrom4(h.DestinationAddress().As4()),
				id: uint32(h.ID()), proto: h.Protocol(),
			},
			off: int(h.FragmentOffset()), more: h.More(), data: b[ihl:tl], unfrag: b[:ihl],
		}
		return f, true, f.check(maxIPv4Total - ihl)
	case 6:
		if len(b) < header.IPv6MinimumSize {
			return f, false, false
		}
		h := header.IPv6(b)
		end := header.IPv6MinimumSize + int(h.PayloadLength())
		if end > len(b) {
			return f, false, false
		}
		nextAt, next, off := header.IPv6NextHeaderOffset, h.NextHeader(), header.IPv6MinimumSize
		for {
			switch header.IPv6ExtensionHeaderIdentifier(next) {
			case header.IPv6HopByHopOptionsExtHdrIdentifier, header.IPv6RoutingExtHdrIdentifier,
				header.IPv6DestinationOptionsExtHdrIdentifier:
				if off+2 > end {
					return f, false, false
				}
				nextAt, next = off, b[off]
				off += (int(b[off+1]) + 1) * 8
				continue
			case header.IPv6FragmentExtHdrIdentifier:
				if off+header.IPv6FragmentExtHdrLength > end {
					return f, false, false
				}
				fh := b[off : off+header.IPv6FragmentExtHdrLength]
				fo := binary.BigEndian.Uint16(fh[2:])
				f = fragment{
					key: fragKey{
						src: netip.AddrFrom16(h.SourceAddress().As16()), dst: netip.AddrFrom16(h.DestinationAddress().As16()),
						id: binary.BigEndian.Uint32(fh[4:]),
					},
					off: int(fo &^ 7), more: fo&1 != 0, data: b[off+header.IPv6FragmentExtHdrLength : end],
					unfrag: b[:off], nextAt: nextAt, next: fh[0], v6: true,
				}
				return f, true, f.check(header.IPv6MaximumPayloadSize - (off - header.IPv6MinimumSize))
			}
			return f, false, true
		}
	}
	return f, false, false
}

func (f *fragment) check(maxPayload int) bool {
	if len(f.data) == 0 || (f.more && len(f.data)%8 != 0) {
		return false
	}
	return f.off+len(f.data) <= maxPayload
}

// add files f and returns the reassembled packet once the datagram is
// complete (with fragDone), fragHeld while it is not, or a drop reason.
// The packet is a fresh copy: f's bytes are not retained.
func (r *reassembler) add(f *fragment, now time.Time) ([]byte, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.m[f.key]
	if d != nil && !now.Before(d.expires) {
		r.removeLocked(f.key, d)
		d = nil
	}
	if d == nil {
		if len(r.m) >= fragMaxDatagrams || r.bytes+len(f.data) > fragMaxBytes {
			return nil, reasonFragLimit
		}
		d = &fragDatagram{total: -1, expires: now.Add(fragTimeout), v6: f.v6}
		r.m[f.key] = d
	} else if r.bytes+len(f.data) > fragMaxBytes {
		return nil, reasonFragLimit
	}
	end := f.off + len(f.data)
	if d.total >= 0 && (end > d.total || (!f.more && end != d.total)) ||
		!f.more && d.total < 0 && len(d.parts) > 0 && d.parts[len(d.parts)-1].off+len(d.parts[len(d.parts)-1].data) > end {
		r.removeLocked(f.key, d)
		return nil, reasonFragInvalid
	}
	// Insert in offset order; any overlap other than an exact duplicate
	// drops the datagram.
	i := 0
	for i < len(d.parts) && d.parts[i].off < f.off {
		i++
	}
	if i < len(d.parts) && d.parts[i].off == f.off && bytes.Equal(d.parts[i].data, f.data) {
		return nil, fragHeld
	}
	if (i > 0 && d.parts[i-1].off+len(d.parts[i-1].data) > f.off) || (i < len(d.parts) && end > d.parts[i].off) {
		r.removeLocked(f.key, d)
		return nil, reasonFragInvalid
	}
	d.parts = append(d.parts, fragPart{})
	copy(d.parts[i+1:], d.parts[i:])
	d.parts[i] = fragPart{off: f.off, data: bytes.Clone(f.data)}
	d.have += len(f.data)
	r.bytes += len(f.data)
	if !f.more {
		d.total = end
	}
	if f.off == 0 {
		d.unfrag, d.nextAt, d.next = bytes.Clone(f.unfrag), f.nextAt, f.next
		r.bytes += len(d.unfrag)
	}
	if d.total < 0 || d.have != d.total || d.unfrag == nil {
		return nil, fragHeld
	}
	r.removeLocked(f.key, d)
	pkt, ok := d.build()
	if !ok {
		return nil, reasonFragChecksum
	}
	return pkt, fragDone
}

func (r *reassembler) removeLocked(k fragKey, d *fragDatagram) {
	delete(r.m, k)
	r.bytes -= d.size()
}

// expire drops the datagrams not completed in time and returns how many
// fragments they held.
func (r *reassembler) expire(now time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for k, d := range r.m {
		if !now.Before(d.expires) {
			n += len(d.parts)
			r.removeLocked(k, d)
		}
	}
	return n
}

// build joins the parts behind the first fragment's header, fixes the
// header up as an unfragmented packet and verifies the transport
// checksum over the whole datagram.
func (d *fragDatagram) build() ([]byte, bool) {
	hl := len(d.unfrag)
	if !d.v6 && hl+d.total > maxIPv4Total {
		return nil, false
	}
	b := make([]byte, hl, hl+d.total)
	copy(b, d.unfrag)
	for _, p := range d.parts {
		b = append(b, p.data...)
	}
	payload := b[hl:]
	if !d.v6 {
		h := header.IPv4(b)
		h.SetTotalLength(uint16(len(b)))
		h.SetFlagsFragmentOffset(0, 0)
		h.SetChecksum(0)
		h.SetChecksum(^h.CalculateChecksum())
		return b, l4sum.Valid(tcpip.TransportProtocolNumber(h.Protocol()), h.SourceAddress(), h.DestinationAddress(), payload, false)
	}
	b[d.nextAt] = d.next
	h := header.IPv6(b)
	h.SetPayloadLength(uint16(len(b) - header.IPv6MinimumSize))
	// Destination options may follow the fragment header; the transport
	// header comes after them.
	proto := d.next
	for proto == uint8(header.IPv6DestinationOptionsExtHdrIdentifier) || proto == uint8(header.IPv6RoutingExtHdrIdentifier) {
		if len(payload) < 2 {
			return nil, false
		}
		n := (int(payload[1]) + 1) * 8
		if n > len(payload) {
			return nil, false
		}
		proto, payload = payload[0], payload[n:]
	}
	return b, l4sum.Valid(tcpip.TransportProtocolNumber(proto), h.SourceAddress(), h.DestinationAddress(), payload, true)
}

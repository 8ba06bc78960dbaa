// Package craft builds IP packets byte by byte for tests: TCP SYNs and
// UDP datagrams over IPv4 and IPv6 with right or wrong checksums, and
// their fragments, for the suites that must send what no well-behaved
// stack would (fragments with a corrupted transport checksum, spoofed
// sources).
package craft

import (
	"encoding/binary"
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// Packet describes one datagram to build.
type Packet struct {
	Src, Dst netip.AddrPort
	// Proto is header.TCPProtocolNumber (a SYN carrying Payload, unless
	// Flags say otherwise) or header.UDPProtocolNumber.
	Proto tcpip.TransportProtocolNumber
	// Seq and Ack are the TCP sequence and acknowledgment numbers; Flags
	// the TCP flags (zero means SYN).
	Seq, Ack uint32
	Flags    header.TCPFlags
	Payload  []byte
	// BadChecksum flips bits of the transport checksum.
	BadChecksum bool
	// ID is the IPv4 identification or IPv6 fragment identification.
	ID uint32
}

// Segment returns the transport segment (TCP or UDP header and payload)
// with its checksum.
func (p Packet) Segment() []byte {
	var seg []byte
	switch p.Proto {
	case header.TCPProtocolNumber:
		seg = make([]byte, header.TCPMinimumSize+len(p.Payload))
		flags := p.Flags
		if flags == 0 {
			flags = header.TCPFlagSyn
		}
		header.TCP(seg).Encode(&header.TCPFields{
			SrcPort: p.Src.Port(), DstPort: p.Dst.Port(), SeqNum: p.Seq, AckNum: p.Ack,
			DataOffset: header.TCPMinimumSize, Flags: flags, WindowSize: 65535,
		})
		copy(seg[header.TCPMinimumSize:], p.Payload)
	case header.UDPProtocolNumber:
		seg = make([]byte, header.UDPMinimumSize+len(p.Payload))
		header.UDP(seg).Encode(&header.UDPFields{SrcPort: p.Src.Port(), DstPort: p.Dst.Port(), Length: uint16(len(seg))})
		copy(seg[header.UDPMinimumSize:], p.Payload)
	default:
		panic("craft: protocol must be TCP or UDP")
	}
	src, dst := addr(p.Src.Addr()), addr(p.Dst.Addr())
	sum := ^checksum.Checksum(seg, header.PseudoHeaderChecksum(p.Proto, src, dst, uint16(len(seg))))
	if p.BadChecksum {
		sum ^= 0x5a5a
	}
	off := 16 // TCP checksum
	if p.Proto == header.UDPProtocolNumber {
		off = 6
	}
	binary.BigEndian.PutUint16(seg[off:], sum)
	return seg
}

func addr(a netip.Addr) tcpip.Address { return tcpip.AddrFromSlice(a.AsSlice()) }

// Whole returns the unfragmented IP packet.
func (p Packet) Whole() []byte { return p.Fragments(0)[0] }

// Fragments returns the packet cut into IP fragments carrying at most
// size bytes of the transport segment each (size is rounded down to a
// multiple of 8; 0 means one unfragmented packet).
func (p Packet) Fragments(size int) [][]byte {
	seg := p.Segment()
	if size <= 0 {
		return [][]byte{p.ip(seg, 0, false, false)}
	}
	size &^= 7
	var out [][]byte
	for off := 0; off < len(seg); off += size {
		end := min(off+size, len(seg))
		out = append(out, p.ip(seg[off:end], off, end < len(seg), true))
	}
	return out
}

func (p Packet) ip(data []byte, off int, more, frag bool) []byte {
	src, dst := addr(p.Src.Addr()), addr(p.Dst.Addr())
	if p.Src.Addr().Is4() {
		b := make([]byte, header.IPv4MinimumSize+len(data))
		var flags uint8
		if more {
			flags = header.IPv4FlagMoreFragments
		}
		header.IPv4(b).Encode(&header.IPv4Fields{
			TotalLength: uint16(len(b)), ID: uint16(p.ID), Flags: flags, FragmentOffset: uint16(off),
			TTL: 64, Protocol: uint8(p.Proto), SrcAddr: src, DstAddr: dst,
		})
		header.IPv4(b).SetChecksum(^header.IPv4(b).CalculateChecksum())
		copy(b[header.IPv4MinimumSize:], data)
		return b
	}
	hl := header.IPv6MinimumSize
	if frag {
		hl += header.IPv6FragmentExtHdrLength
	}
	b := make([]byte, hl+len(data))
	next := uint8(p.Proto)
	if frag {
		next = uint8(header.IPv6FragmentExtHdrIdentifier)
		fh := b[header.IPv6MinimumSize:hl]
		fh[0] = uint8(p.Proto)
		fo := uint16(off)
		if more {
			fo |= 1
		}
		binary.BigEndian.PutUint16(fh[2:], fo)
		binary.BigEndian.PutUint32(fh[4:], p.ID)
	}
	header.IPv6(b).Encode(&header.IPv6Fields{
		PayloadLength: uint16(len(b) - header.IPv6MinimumSize), TransportProtocol: tcpip.TransportProtocolNumber(next),
		HopLimit: 64, SrcAddr: src, DstAddr: dst,
	})
	copy(b[hl:], data)
	return b
}

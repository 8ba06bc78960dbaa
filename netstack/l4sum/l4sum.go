// Package l4sum verifies the transport checksum of an IP datagram's
// payload (TCP, UDP, ICMPv4, ICMPv6).
//
// It exists on its own so that link devices (tunnel/tun, which verifies
// what it hands gVisor because it advertises RX checksum offload) and the
// stack's packet guard (which verifies datagrams it reassembled from
// fragments) check checksums the same way without importing each other.
package l4sum

import (
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// Valid reports whether payload, the whole transport segment of a
// datagram from src to dst, has a correct checksum for proto. A segment
// too short for its header is invalid. IPv4 UDP without a checksum (0) is
// valid, as RFC 768 allows; IPv6 UDP must carry one (RFC 8200, 8.1).
// Protocols it does not know are reported valid: the stack drops them.
func Valid(proto tcpip.TransportProtocolNumber, src, dst tcpip.Address, payload []byte, v6 bool) bool {
	var initial uint16
	switch proto {
	case header.TCPProtocolNumber:
		if len(payload) < header.TCPMinimumSize {
			return false
		}
		initial = header.PseudoHeaderChecksum(proto, src, dst, uint16(len(payload)))
	case header.UDPProtocolNumber:
		if len(payload) < header.UDPMinimumSize {
			return false
		}
		if !v6 && header.UDP(payload).Checksum() == 0 {
			return true
		}
		initial = header.PseudoHeaderChecksum(proto, src, dst, uint16(len(payload)))
	case header.ICMPv4ProtocolNumber:
		if len(payload) < header.ICMPv4MinimumSize {
			return false
		}
	case header.ICMPv6ProtocolNumber:
		if len(payload) < header.ICMPv6MinimumSize {
			return false
		}
		initial = header.PseudoHeaderChecksum(proto, src, dst, uint16(len(payload)))
	default:
		return true
	}
	return checksum.Checksum(payload, initial) == 0xffff
}

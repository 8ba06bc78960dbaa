package tun

import (
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// checksumsValid verifies the IP header checksum and the transport
// checksum of one packet read from the TUN.
//
// The link advertises CapabilityRXChecksumOffload because gVisor's GRO
// hands merged packets up with the first segment's checksum, which the
// stack would otherwise reject as malformed; with the capability the stack
// verifies nothing, so this is where packets are verified instead, when
// the kernel does not vouch for them (validate).
//
// It returns the network protocol and false for anything that is not a
// well-formed IPv4 or IPv6 packet with valid checksums. IPv4 fragments and
// IPv6 packets with extension headers are passed with only the IP header
// checked: their transport checksum covers bytes not in this packet.
func checksumsValid(b []byte) (tcpip.NetworkProtocolNumber, bool) {
	if len(b) == 0 {
		return 0, false
	}
	switch header.IPVersion(b) {
	case header.IPv4Version:
		ip := header.IPv4(b)
		if !ip.IsValid(len(b)) || !ip.IsChecksumValid() {
			return header.IPv4ProtocolNumber, false
		}
		if ip.More() || ip.FragmentOffset() != 0 {
			return header.IPv4ProtocolNumber, true
		}
		payload := b[ip.HeaderLength():ip.TotalLength()]
		proto := tcpip.TransportProtocolNumber(ip.Protocol())
		return header.IPv4ProtocolNumber, transportValid(proto, ip.SourceAddress(), ip.DestinationAddress(), payload, false)
	case header.IPv6Version:
		ip := header.IPv6(b)
		if !ip.IsValid(len(b)) {
			return header.IPv6ProtocolNumber, false
		}
		payload := b[header.IPv6MinimumSize : header.IPv6MinimumSize+int(ip.PayloadLength())]
		proto := tcpip.TransportProtocolNumber(ip.NextHeader())
		switch proto {
		case header.TCPProtocolNumber, header.UDPProtocolNumber, header.ICMPv6ProtocolNumber:
			return header.IPv6ProtocolNumber, transportValid(proto, ip.SourceAddress(), ip.DestinationAddress(), payload, true)
		}
		return header.IPv6ProtocolNumber, true
	}
	return 0, false
}

func transportValid(proto tcpip.TransportProtocolNumber, src, dst tcpip.Address, payload []byte, v6 bool) bool {
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
			return true // IPv4 UDP without checksum
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
		return true // the stack drops protocols it does not know
	}
	return checksum.Checksum(payload, initial) == 0xffff
}

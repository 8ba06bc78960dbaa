package tun

import (
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"

	"github.com/interdict/interdict/netstack/l4sum"
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
// checked: their transport checksum covers bytes not in this packet, and
// netstack's packet guard verifies it once it reassembled the datagram.
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
		return header.IPv4ProtocolNumber, l4sum.Valid(proto, ip.SourceAddress(), ip.DestinationAddress(), payload, false)
	case header.IPv6Version:
		ip := header.IPv6(b)
		if !ip.IsValid(len(b)) {
			return header.IPv6ProtocolNumber, false
		}
		payload := b[header.IPv6MinimumSize : header.IPv6MinimumSize+int(ip.PayloadLength())]
		proto := tcpip.TransportProtocolNumber(ip.NextHeader())
		switch proto {
		case header.TCPProtocolNumber, header.UDPProtocolNumber, header.ICMPv6ProtocolNumber:
			return header.IPv6ProtocolNumber, l4sum.Valid(proto, ip.SourceAddress(), ip.DestinationAddress(), payload, true)
		}
		return header.IPv6ProtocolNumber, true
	}
	return 0, false
}

package netstack

import (
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// handleICMPv4 answers echo requests for any address behind the
// appliance. gVisor answers IPv6 echo for promiscuous (temporary)
// addresses itself but not IPv4 echo, so ping through the appliance
// needs this. Other ICMP never gets here from clients: the guard drops
// it and counts it.
func (s *Stack) handleICMPv4(_ stack.TransportEndpointID, pkt *stack.PacketBuffer) bool {
	if pkt.NICID != clientNIC {
		return false
	}
	ih := header.IPv4(pkt.NetworkHeader().Slice())
	th := pkt.TransportHeader().Slice()
	if len(ih) < header.IPv4MinimumSize || len(th) < header.ICMPv4MinimumSize || header.ICMPv4(th).Type() != header.ICMPv4Echo {
		return false
	}
	if !s.echoLimit.Allow() {
		s.m.icmpDropped.Inc()
		return true
	}
	data := pkt.Data().AsRange().ToSlice()
	b := make([]byte, header.IPv4MinimumSize+len(th)+len(data))
	h := header.IPv4(b)
	h.Encode(&header.IPv4Fields{
		TotalLength: uint16(len(b)), TTL: 64, Protocol: uint8(header.ICMPv4ProtocolNumber),
		SrcAddr: ih.DestinationAddress(), DstAddr: ih.SourceAddress(),
	})
	h.SetChecksum(^h.CalculateChecksum())
	icmp := header.ICMPv4(b[header.IPv4MinimumSize:])
	copy(icmp, th)
	copy(icmp[len(th):], data)
	icmp.SetType(header.ICMPv4EchoReply)
	icmp.SetCode(0)
	icmp.SetChecksum(0)
	icmp.SetChecksum(^checksum.Checksum(icmp, 0))
	_ = s.gs.WriteRawPacket(clientNIC, header.IPv4ProtocolNumber, buffer.MakeWithData(b))
	return true
}

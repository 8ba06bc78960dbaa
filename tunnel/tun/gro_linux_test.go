//go:build linux

package tun

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"

	"github.com/interdict/interdict/tests/craft"
)

// TestTCPNoPayload: the segments the reader keeps out of GRO are exactly
// the TCP segments without payload, IPv4 and IPv6.
func TestTCPNoPayload(t *testing.T) {
	v4 := [2]netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:80")}
	v6 := [2]netip.AddrPort{netip.MustParseAddrPort("[fd00::1]:40000"), netip.MustParseAddrPort("[fd00::2]:80")}
	pkt := func(a [2]netip.AddrPort, proto tcpip.TransportProtocolNumber, flags header.TCPFlags, payload string) []byte {
		return craft.Packet{Src: a[0], Dst: a[1], Proto: proto, Seq: 1, Ack: 1, Flags: flags, Payload: []byte(payload)}.Whole()
	}
	ack4 := pkt(v4, header.TCPProtocolNumber, header.TCPFlagAck, "")
	for _, c := range []struct {
		name  string
		proto tcpip.NetworkProtocolNumber
		b     []byte
		want  bool
	}{
		{"ipv4 ack", header.IPv4ProtocolNumber, ack4, true},
		{"ipv4 fin", header.IPv4ProtocolNumber, pkt(v4, header.TCPProtocolNumber, header.TCPFlagAck|header.TCPFlagFin, ""), true},
		{"ipv4 one byte", header.IPv4ProtocolNumber, pkt(v4, header.TCPProtocolNumber, header.TCPFlagAck|header.TCPFlagPsh, "x"), false},
		{"ipv4 udp", header.IPv4ProtocolNumber, pkt(v4, header.UDPProtocolNumber, 0, ""), false},
		{"ipv4 truncated", header.IPv4ProtocolNumber, ack4[:header.IPv4MinimumSize+10], false},
		{"ipv6 ack", header.IPv6ProtocolNumber, pkt(v6, header.TCPProtocolNumber, header.TCPFlagAck, ""), true},
		{"ipv6 one byte", header.IPv6ProtocolNumber, pkt(v6, header.TCPProtocolNumber, header.TCPFlagAck, "x"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, tcpNoPayload(c.proto, c.b))
		})
	}
}

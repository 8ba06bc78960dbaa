//go:build linux

package tun

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// tcp4 builds an IPv4 TCP packet with payload bytes of data. With full
// the TCP checksum is complete; otherwise it holds only the pseudo-header
// sum, as the kernel leaves it for CHECKSUM_PARTIAL.
func tcp4(payload int, full bool) []byte {
	b := make([]byte, header.IPv4MinimumSize+header.TCPMinimumSize+payload)
	for i := header.IPv4MinimumSize + header.TCPMinimumSize; i < len(b); i++ {
		b[i] = byte(i)
	}
	src, dst := tcpip.AddrFrom4([4]byte{10, 0, 0, 1}), tcpip.AddrFrom4([4]byte{10, 0, 0, 2})
	ip := header.IPv4(b)
	ip.Encode(&header.IPv4Fields{
		TotalLength: uint16(len(b)), TTL: 64, Protocol: uint8(header.TCPProtocolNumber),
		SrcAddr: src, DstAddr: dst,
	})
	ip.SetChecksum(^ip.CalculateChecksum())
	tcp := header.TCP(b[header.IPv4MinimumSize:])
	tcp.Encode(&header.TCPFields{SrcPort: 40000, DstPort: 80, SeqNum: 1, AckNum: 1,
		DataOffset: header.TCPMinimumSize, Flags: header.TCPFlagAck, WindowSize: 1000})
	sum := header.PseudoHeaderChecksum(header.TCPProtocolNumber, src, dst, uint16(len(tcp)))
	if full {
		tcp.SetChecksum(^checksum.Checksum(tcp, sum))
	} else {
		tcp.SetChecksum(sum)
	}
	return b
}

func vnet(flags, gso uint8) *[virtioNetHdrLen]byte {
	return &[virtioNetHdrLen]byte{flags, gso}
}

func TestValidate(t *testing.T) {
	const partial = unix.VIRTIO_NET_HDR_F_NEEDS_CSUM
	badIPSum := tcp4(100, true)
	badIPSum[10] ^= 0xff
	badTCPSum := tcp4(100, true)
	badTCPSum[len(badTCPSum)-1] ^= 0xff
	cases := []struct {
		name string
		hdr  *[virtioNetHdrLen]byte
		pkt  []byte
		ok   bool
	}{
		{"plain packet with valid checksums", vnet(0, unix.VIRTIO_NET_HDR_GSO_NONE), tcp4(100, true), true},
		{"plain packet with bad TCP checksum", vnet(0, unix.VIRTIO_NET_HDR_GSO_NONE), badTCPSum, false},
		{"partial checksum is trusted", vnet(partial, unix.VIRTIO_NET_HDR_GSO_NONE), tcp4(100, false), true},
		{"data-valid checksum is trusted", vnet(unix.VIRTIO_NET_HDR_F_DATA_VALID, unix.VIRTIO_NET_HDR_GSO_NONE), badTCPSum, true},
		{"partial checksum with bad IP header checksum", vnet(partial, unix.VIRTIO_NET_HDR_GSO_NONE), badIPSum, false},
		{"TCPv4 super-packet", vnet(partial, unix.VIRTIO_NET_HDR_GSO_TCPV4), tcp4(60000, false), true},
		{"TCPv4 super-packet with ECN", vnet(partial, unix.VIRTIO_NET_HDR_GSO_TCPV4|unix.VIRTIO_NET_HDR_GSO_ECN), tcp4(60000, false), true},
		{"super-packet without partial checksum", vnet(0, unix.VIRTIO_NET_HDR_GSO_TCPV4), tcp4(60000, true), false},
		{"TCPv6 super-packet carrying IPv4", vnet(partial, unix.VIRTIO_NET_HDR_GSO_TCPV6), tcp4(60000, false), false},
		{"UDP super-packet is not accepted", vnet(partial, unix.VIRTIO_NET_HDR_GSO_UDP_L4), tcp4(60000, false), false},
		{"truncated IP packet", vnet(partial, unix.VIRTIO_NET_HDR_GSO_NONE), tcp4(100, false)[:30], false},
		{"empty", vnet(partial, unix.VIRTIO_NET_HDR_GSO_NONE), nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, ok := validate(tc.hdr, tc.pkt)
			assert.Equal(t, tc.ok, ok)
		})
	}
}

func FuzzValidate(f *testing.F) {
	f.Add(uint8(unix.VIRTIO_NET_HDR_F_NEEDS_CSUM), uint8(unix.VIRTIO_NET_HDR_GSO_TCPV4), tcp4(3000, false))
	f.Add(uint8(0), uint8(0), tcp4(10, true))
	f.Fuzz(func(t *testing.T, flags, gso uint8, b []byte) {
		proto, ok := validate(vnet(flags, gso), b)
		if ok {
			// Whatever passes is an IP packet of the version claimed.
			switch proto {
			case header.IPv4ProtocolNumber:
				assert.True(t, header.IPv4(b).IsValid(len(b)))
			case header.IPv6ProtocolNumber:
				assert.True(t, header.IPv6(b).IsValid(len(b)))
			default:
				t.Fatalf("accepted protocol %d", proto)
			}
		}
	})
}

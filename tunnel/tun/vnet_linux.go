//go:build linux

package tun

import (
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// validate decides whether one packet read from the TUN may enter the
// stack, given its virtio-net header, and returns its network protocol.
//
// The kernel marks with VIRTIO_NET_HDR_F_NEEDS_CSUM the packets whose
// transport checksum it left for the device to fill in (CHECKSUM_PARTIAL:
// sent from this host, or forwarded from a veth or bridge peer that sent
// them so); such a checksum field holds only the pseudo-header sum, and
// the data never crossed a wire, so there is nothing to verify. TCP
// super-packets (TSO) always carry that flag and are passed whole: gVisor
// takes segments larger than the MTU (its own GRO makes them), which
// spares splitting them here and merging them again, and gets one ACK per
// super-packet instead of one per two segments. DATA_VALID (checksum
// verified by a NIC) is honoured the same way. Anything else arrived with
// the checksum its sender wrote and is verified in full (checksumsValid).
// The IP header is checked in every case; it is 20 bytes.
func validate(hdr *[virtioNetHdrLen]byte, b []byte) (tcpip.NetworkProtocolNumber, bool) {
	flags, gso := hdr[0], hdr[1]&^unix.VIRTIO_NET_HDR_GSO_ECN
	trusted := flags&(unix.VIRTIO_NET_HDR_F_NEEDS_CSUM|unix.VIRTIO_NET_HDR_F_DATA_VALID) != 0
	var want tcpip.NetworkProtocolNumber
	switch gso {
	case unix.VIRTIO_NET_HDR_GSO_NONE:
		if !trusted {
			return checksumsValid(b)
		}
	case unix.VIRTIO_NET_HDR_GSO_TCPV4:
		want = header.IPv4ProtocolNumber
	case unix.VIRTIO_NET_HDR_GSO_TCPV6:
		want = header.IPv6ProtocolNumber
	default:
		// UDP segmentation is not enabled (tunOffloads); nothing else
		// can be handed to the stack unsplit.
		return 0, false
	}
	proto, ok := headerValid(b)
	if want != 0 && (proto != want || !trusted) {
		return proto, false
	}
	return proto, ok
}

// headerValid checks only the IP header: version, lengths and, for IPv4,
// the header checksum.
func headerValid(b []byte) (tcpip.NetworkProtocolNumber, bool) {
	if len(b) == 0 {
		return 0, false
	}
	switch header.IPVersion(b) {
	case header.IPv4Version:
		ip := header.IPv4(b)
		return header.IPv4ProtocolNumber, ip.IsValid(len(b)) && ip.IsChecksumValid()
	case header.IPv6Version:
		return header.IPv6ProtocolNumber, header.IPv6(b).IsValid(len(b))
	}
	return 0, false
}

package netstack

import (
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// Closing a SYN cookie listener that still has segments in its queue
// resets their clients: gVisor hands each queued segment on by looking
// up the listener's own (just unregistered) ID rather than the
// segment's 4-tuple, finds nothing, and answers RST. That reset clients
// whose connection the listener had already created (their data queued
// behind the handshake) and refused clients whose SYN was queued
// (TestConcurrentFlows under -race on a loaded machine: the listener's
// queue ran 4 s behind, and the drain ended while it was still full).
// The queue cannot be read from outside, so the drain sends a sentinel
// SYN through it: queues are first in, first out, so once the listener
// has answered the sentinel every segment queued before it was handled.
// What arrives after the sentinel and before the close is answered with
// RSTs that Guard drops (quietPort): a dropped SYN is retransmitted to
// the forwarder, dropped data to the connection it belongs to.

// The sentinel's addresses: documentation prefixes (RFC 5737, RFC 3849)
// that no client uses; its answer is dropped by the guard on its way
// out, so nothing is sent to them.
var (
	probeSrc4, probeDst4 = netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	probeSrc6, probeDst6 = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
)

// listenerProbe is one sentinel SYN in flight.
type listenerProbe struct {
	src  netip.AddrPort
	once sync.Once
	done chan struct{}
}

func (p *listenerProbe) answered() { p.once.Do(func() { close(p.done) }) }

// probeListener sends the listener of key a sentinel SYN and waits for
// its answer, until deadline. It reports whether the answer came; a
// listener whose accept queue is full drops the SYN, and the caller
// then closes it without that proof.
func (s *Stack) probeListener(key listenerKey, deadline time.Time) bool {
	src, dst := probeSrc4, probeDst4
	if key.v6 {
		src, dst = probeSrc6, probeDst6
	}
	p := &listenerProbe{
		src:  netip.AddrPortFrom(src, uint16(32768+rand.IntN(28232))),
		done: make(chan struct{}),
	}
	s.guard.probe.Store(p)
	defer s.guard.probe.Store(nil)
	pkt, proto := sentinelSYN(p.src, netip.AddrPortFrom(dst, key.port))
	s.guard.Endpoint.DeliverNetworkPacket(proto, pkt)
	pkt.DecRef()
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
	case <-s.ctx.Done():
	}
	return false
}

// sentinelSYN builds a TCP SYN from src to dst, checksums included.
func sentinelSYN(src, dst netip.AddrPort) (*stack.PacketBuffer, tcpip.NetworkProtocolNumber) {
	const tcpLen = header.TCPMinimumSize
	var b []byte
	var l4 header.TCP
	saddr, daddr := tcpip.AddrFromSlice(src.Addr().AsSlice()), tcpip.AddrFromSlice(dst.Addr().AsSlice())
	proto := header.IPv4ProtocolNumber
	if src.Addr().Is4() {
		b = make([]byte, header.IPv4MinimumSize+tcpLen)
		ip := header.IPv4(b)
		ip.Encode(&header.IPv4Fields{
			TotalLength: uint16(len(b)), TTL: 64, Protocol: uint8(header.TCPProtocolNumber),
			SrcAddr: saddr, DstAddr: daddr,
		})
		ip.SetChecksum(^ip.CalculateChecksum())
		l4 = header.TCP(b[header.IPv4MinimumSize:])
	} else {
		proto = header.IPv6ProtocolNumber
		b = make([]byte, header.IPv6MinimumSize+tcpLen)
		header.IPv6(b).Encode(&header.IPv6Fields{
			PayloadLength: tcpLen, TransportProtocol: header.TCPProtocolNumber, HopLimit: 64,
			SrcAddr: saddr, DstAddr: daddr,
		})
		l4 = header.TCP(b[header.IPv6MinimumSize:])
	}
	l4.Encode(&header.TCPFields{
		SrcPort: src.Port(), DstPort: dst.Port(), SeqNum: rand.Uint32(),
		DataOffset: tcpLen, Flags: header.TCPFlagSyn, WindowSize: 65535,
	})
	xsum := header.PseudoHeaderChecksum(header.TCPProtocolNumber, saddr, daddr, tcpLen)
	l4.SetChecksum(^checksum.Checksum(l4, xsum))
	return stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(b)}), proto
}

package pipe

import (
	"sync"
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// DefaultMTU is the MTU of a pipe when New is given 0. 1500 keeps segment
// sizes close to a real Ethernet or TUN link, so tests exercise
// segmentation as production does.
const DefaultMTU = 1500

// Endpoint is one end of a pipe. It carries bare IP packets (no link
// header), like a TUN device.
type Endpoint struct {
	peer *Endpoint

	mu         sync.RWMutex
	dispatcher stack.NetworkDispatcher
	mtu        uint32
	closed     bool
	onClose    func()

	delivered atomic.Uint64
	dropped   atomic.Uint64
}

var _ stack.LinkEndpoint = (*Endpoint)(nil)

// New returns the two connected ends of a pipe with the given MTU (0 means
// DefaultMTU).
func New(mtu uint32) (*Endpoint, *Endpoint) {
	if mtu == 0 {
		mtu = DefaultMTU
	}
	a := &Endpoint{mtu: mtu}
	b := &Endpoint{mtu: mtu}
	a.peer, b.peer = b, a
	return a, b
}

// Delivered reports how many packets this end handed to its peer.
func (e *Endpoint) Delivered() uint64 { return e.delivered.Load() }

// Dropped reports how many packets this end discarded because the peer was
// not attached or was closed.
func (e *Endpoint) Dropped() uint64 { return e.dropped.Load() }

// WritePackets implements stack.LinkEndpoint.WritePackets. Each packet is
// re-created on the peer's side from its bytes (sharing the underlying
// chunks, not copying them), delivered, and the new buffer's reference
// released here; the caller keeps ownership of pkts, as the stack
// requires.
func (e *Endpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	p := e.peer
	p.mu.RLock()
	d := p.dispatcher
	closed := p.closed
	p.mu.RUnlock()
	n := pkts.Len()
	if d == nil || closed {
		e.dropped.Add(uint64(n))
		return n, nil
	}
	for _, pkt := range pkts.AsSlice() {
		np := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: pkt.ToBuffer()})
		proto := pkt.NetworkProtocolNumber
		if proto == 0 {
			proto = protocolOf(np)
		}
		d.DeliverNetworkPacket(proto, np)
		np.DecRef()
		e.delivered.Add(1)
	}
	return n, nil
}

// protocolOf reads the IP version nibble for packets the stack wrote
// without a network protocol number (raw writes).
func protocolOf(pkt *stack.PacketBuffer) tcpip.NetworkProtocolNumber {
	v, ok := pkt.Data().PullUp(1)
	if !ok {
		return 0
	}
	switch header.IPVersion(v) {
	case header.IPv4Version:
		return header.IPv4ProtocolNumber
	case header.IPv6Version:
		return header.IPv6ProtocolNumber
	}
	return 0
}

// Attach implements stack.LinkEndpoint.Attach.
func (e *Endpoint) Attach(d stack.NetworkDispatcher) {
	e.mu.Lock()
	e.dispatcher = d
	e.mu.Unlock()
}

// IsAttached implements stack.LinkEndpoint.IsAttached.
func (e *Endpoint) IsAttached() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.dispatcher != nil
}

// Wait implements stack.LinkEndpoint.Wait. Delivery is synchronous, so
// there is nothing in flight to wait for.
func (*Endpoint) Wait() {}

// MTU implements stack.LinkEndpoint.MTU.
func (e *Endpoint) MTU() uint32 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.mtu
}

// SetMTU implements stack.LinkEndpoint.SetMTU.
func (e *Endpoint) SetMTU(mtu uint32) {
	e.mu.Lock()
	e.mtu = mtu
	e.mu.Unlock()
}

// Capabilities implements stack.LinkEndpoint.Capabilities. None: packets
// are checksummed by the sender and verified by the receiver, as on a
// wire.
func (*Endpoint) Capabilities() stack.LinkEndpointCapabilities { return 0 }

// MaxHeaderLength implements stack.LinkEndpoint.MaxHeaderLength.
func (*Endpoint) MaxHeaderLength() uint16 { return 0 }

// LinkAddress implements stack.LinkEndpoint.LinkAddress.
func (*Endpoint) LinkAddress() tcpip.LinkAddress { return "" }

// SetLinkAddress implements stack.LinkEndpoint.SetLinkAddress.
func (*Endpoint) SetLinkAddress(tcpip.LinkAddress) {}

// ARPHardwareType implements stack.LinkEndpoint.ARPHardwareType.
func (*Endpoint) ARPHardwareType() header.ARPHardwareType { return header.ARPHardwareNone }

// AddHeader implements stack.LinkEndpoint.AddHeader.
func (*Endpoint) AddHeader(*stack.PacketBuffer) {}

// ParseHeader implements stack.LinkEndpoint.ParseHeader.
func (*Endpoint) ParseHeader(*stack.PacketBuffer) bool { return true }

// Close implements stack.LinkEndpoint.Close. Later writes towards this
// end are dropped and counted by the peer.
func (e *Endpoint) Close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.closed = true
	e.dispatcher = nil
	f := e.onClose
	e.mu.Unlock()
	if f != nil {
		f()
	}
}

// SetOnCloseAction implements stack.LinkEndpoint.SetOnCloseAction.
func (e *Endpoint) SetOnCloseAction(f func()) {
	e.mu.Lock()
	e.onClose = f
	e.mu.Unlock()
}

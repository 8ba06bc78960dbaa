package tun

import (
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// The stack.LinkEndpoint methods that do not depend on the platform; the
// read and write paths, Attach and Close live in tun_linux.go and
// tun_other.go.

// Name is the interface name the kernel gave the device.
func (d *Device) Name() string { return d.name }

// SetInboundFilter installs f, or removes the filter with nil. f sees
// the bytes of each IP packet read from the device (a TCP super-packet
// whole) and returns false to drop it. The readers call f before they
// allocate anything for a packet, so what it refuses costs only its
// read: under a flood faster than the stack drains the device, every
// microsecond spent on a packet that is dropped anyway lets the kernel's
// ring, which drops whatever arrives while it is full, lose more of the
// real clients' packets.
func (d *Device) SetInboundFilter(f func(pkt []byte) bool) {
	if f == nil {
		d.filter.Store(nil)
		return
	}
	d.filter.Store(&f)
}

// filtered reports whether the inbound filter refuses b.
func (d *Device) filtered(b []byte) bool {
	if f := d.filter.Load(); f != nil && !(*f)(b) {
		d.stats.rxFiltered.Add(1)
		return true
	}
	return false
}

// Stats returns the device's counters.
func (d *Device) Stats() Stats { return d.stats.snapshot() }

// MTU implements stack.LinkEndpoint.MTU.
func (d *Device) MTU() uint32 { return d.mtu.Load() }

// SetMTU implements stack.LinkEndpoint.SetMTU. It changes only what the
// stack sees; read buffers stay sized for the MTU the device was opened
// with, so larger values are ignored.
func (d *Device) SetMTU(mtu uint32) {
	if mtu >= minMTU && mtu <= uint32(d.cfg.MTU) {
		d.mtu.Store(mtu)
	}
}

// MaxHeaderLength implements stack.LinkEndpoint.MaxHeaderLength: a TUN
// carries bare IP packets.
func (d *Device) MaxHeaderLength() uint16 { return 0 }

// LinkAddress implements stack.LinkEndpoint.LinkAddress.
func (d *Device) LinkAddress() tcpip.LinkAddress { return "" }

// SetLinkAddress implements stack.LinkEndpoint.SetLinkAddress; a TUN has
// no link address.
func (d *Device) SetLinkAddress(tcpip.LinkAddress) {}

// Capabilities implements stack.LinkEndpoint.Capabilities. RX checksum
// offload is advertised because gVisor's GRO needs it (merged packets keep
// the first segment's checksum); checksumsValid verifies every packet
// before it is handed to GRO.
func (d *Device) Capabilities() stack.LinkEndpointCapabilities {
	return stack.CapabilityRXChecksumOffload
}

// ARPHardwareType implements stack.LinkEndpoint.ARPHardwareType.
func (d *Device) ARPHardwareType() header.ARPHardwareType { return header.ARPHardwareNone }

// AddHeader implements stack.LinkEndpoint.AddHeader; there is none.
func (d *Device) AddHeader(*stack.PacketBuffer) {}

// ParseHeader implements stack.LinkEndpoint.ParseHeader; there is none.
func (d *Device) ParseHeader(*stack.PacketBuffer) bool { return true }

// SetOnCloseAction implements stack.LinkEndpoint.SetOnCloseAction.
func (d *Device) SetOnCloseAction(f func()) {
	d.mu.Lock()
	d.onClose = f
	d.mu.Unlock()
}

// IsAttached implements stack.LinkEndpoint.IsAttached.
func (d *Device) IsAttached() bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.dispatcher != nil
}

// Wait implements stack.LinkEndpoint.Wait: it returns when every reader
// goroutine has stopped, which happens after Close.
func (d *Device) Wait() { d.readers.Wait() }

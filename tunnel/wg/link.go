package wg

import (
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// The stack.LinkEndpoint methods that are the same for every bare-IP
// link; the data path is in device.go.

// Attach implements stack.LinkEndpoint.Attach; packets decrypted while no
// dispatcher is attached are dropped and counted.
func (d *Device) Attach(dispatcher stack.NetworkDispatcher) {
	d.mu.Lock()
	d.dispatcher = dispatcher
	d.mu.Unlock()
}

// IsAttached implements stack.LinkEndpoint.IsAttached.
func (d *Device) IsAttached() bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.dispatcher != nil
}

// Wait implements stack.LinkEndpoint.Wait: it returns once the device is
// closed and its goroutines have stopped.
func (d *Device) Wait() { <-d.wg.Wait() }

// MTU implements stack.LinkEndpoint.MTU.
func (d *Device) MTU() uint32 { return d.mtu.Load() }

// SetMTU implements stack.LinkEndpoint.SetMTU. Only smaller values than
// the configured MTU are taken: wireguard-go's buffers are sized for it.
func (d *Device) SetMTU(mtu uint32) {
	if mtu >= 1280 && mtu <= d.mtu.Load() {
		d.mtu.Store(mtu)
	}
}

// Capabilities implements stack.LinkEndpoint.Capabilities. None: the
// stack verifies the checksums of what the peers send, as on a wire.
func (*Device) Capabilities() stack.LinkEndpointCapabilities { return 0 }

// MaxHeaderLength implements stack.LinkEndpoint.MaxHeaderLength.
func (*Device) MaxHeaderLength() uint16 { return 0 }

// LinkAddress implements stack.LinkEndpoint.LinkAddress.
func (*Device) LinkAddress() tcpip.LinkAddress { return "" }

// SetLinkAddress implements stack.LinkEndpoint.SetLinkAddress.
func (*Device) SetLinkAddress(tcpip.LinkAddress) {}

// ARPHardwareType implements stack.LinkEndpoint.ARPHardwareType.
func (*Device) ARPHardwareType() header.ARPHardwareType { return header.ARPHardwareNone }

// AddHeader implements stack.LinkEndpoint.AddHeader; there is none.
func (*Device) AddHeader(*stack.PacketBuffer) {}

// ParseHeader implements stack.LinkEndpoint.ParseHeader; there is none.
func (*Device) ParseHeader(*stack.PacketBuffer) bool { return true }

// SetOnCloseAction implements stack.LinkEndpoint.SetOnCloseAction.
func (d *Device) SetOnCloseAction(f func()) {
	d.mu.Lock()
	d.onClose = f
	d.mu.Unlock()
}

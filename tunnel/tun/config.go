package tun

import (
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
)

// Config describes the TUN device to create.
type Config struct {
	// Name is the interface name, e.g. "interdict0". The kernel may
	// substitute a pattern such as "tun%d".
	Name string
	// MTU of the interface. Zero means DefaultMTU.
	MTU int
	// Queues is the number of device queues. More than one opens the
	// device with IFF_MULTI_QUEUE and runs one reader goroutine per queue:
	// with a single reader the prototype did not scale past one core
	// (4 streams were slower than 1). Zero means 1. Ignored where the
	// platform has no multiqueue TUN.
	Queues int
	// TxQueueLen is the interface's transmit queue length. Zero means
	// DefaultTxQueueLen; the kernel default of 500 dropped packets under
	// load in the prototype.
	TxQueueLen int
	// Addresses are assigned to the host side of the interface. They are
	// optional: the appliance accepts every destination routed into the
	// TUN, so routes, not addresses, decide what enters it.
	Addresses []netip.Prefix
}

const (
	// DefaultMTU is the MTU used when Config.MTU is zero.
	DefaultMTU = 1500
	// DefaultTxQueueLen is the transmit queue length used when
	// Config.TxQueueLen is zero.
	DefaultTxQueueLen = 5000
	// MaxQueues bounds Config.Queues; the kernel allows 256 per TUN, a
	// reader goroutine per core is all that helps.
	MaxQueues = 64
	// minMTU is IPv6's minimum link MTU; IPv4's 68 would also do but
	// the stack runs both.
	minMTU = 1280
	// maxMTU is the largest IP packet.
	maxMTU = 65535
)

func (c Config) withDefaults() (Config, error) {
	if c.Name == "" {
		return c, errors.New("tun: empty interface name")
	}
	if len(c.Name) >= 16 {
		return c, fmt.Errorf("tun: interface name %q longer than 15 bytes", c.Name)
	}
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	if c.MTU < minMTU || c.MTU > maxMTU {
		return c, fmt.Errorf("tun %s: mtu %d outside [%d, %d]", c.Name, c.MTU, minMTU, maxMTU)
	}
	if c.Queues == 0 {
		c.Queues = 1
	}
	if c.Queues < 1 || c.Queues > MaxQueues {
		return c, fmt.Errorf("tun %s: queues %d outside [1, %d]", c.Name, c.Queues, MaxQueues)
	}
	if c.TxQueueLen == 0 {
		c.TxQueueLen = DefaultTxQueueLen
	}
	if c.TxQueueLen < 0 {
		return c, fmt.Errorf("tun %s: negative txqueuelen %d", c.Name, c.TxQueueLen)
	}
	for _, p := range c.Addresses {
		if !p.IsValid() {
			return c, fmt.Errorf("tun %s: invalid address %v", c.Name, p)
		}
	}
	return c, nil
}

// Stats are the device's packet counters since Open.
type Stats struct {
	RxPackets, RxBytes uint64 // packets read from the TUN (a TSO super-packet counts once)
	TxPackets, TxBytes uint64 // packets written to the TUN (a GSO super-packet counts once)
	RxDropped          uint64 // packets read but not delivered: bad checksum, not IP, no stack attached
	RxFiltered         uint64 // packets the inbound filter refused (SetInboundFilter)
	RxErrors           uint64 // failed reads (each may lose one kernel super-packet)
	TxErrors           uint64 // failed writes; the packet is dropped, TCP retransmits
}

type counters struct {
	rxPackets, rxBytes, txPackets, txBytes atomic.Uint64
	rxDropped, rxErrors, txErrors          atomic.Uint64
	rxFiltered                             atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		RxPackets: c.rxPackets.Load(), RxBytes: c.rxBytes.Load(),
		TxPackets: c.txPackets.Load(), TxBytes: c.txBytes.Load(),
		RxDropped: c.rxDropped.Load(), RxErrors: c.rxErrors.Load(), TxErrors: c.txErrors.Load(),
		RxFiltered: c.rxFiltered.Load(),
	}
}

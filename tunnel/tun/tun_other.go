//go:build !linux

package tun

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	wgtun "golang.zx2c4.com/wireguard/tun"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// Device is a TUN device bridged into gVisor through wireguard-go's plain
// tun, one packet per read and write, without offloads: the GSO and
// multiqueue path exists on Linux only. Addresses and the transmit queue
// length are left to the operating system's tools here.
type Device struct {
	cfg   Config
	name  string
	dev   wgtun.Device
	mtu   atomic.Uint32
	stats counters

	mu         sync.RWMutex
	dispatcher stack.NetworkDispatcher
	started    bool
	onClose    func()
	closeOnce  sync.Once
	closed     atomic.Bool
	readers    sync.WaitGroup
	writeMu    sync.Mutex
	filter     atomic.Pointer[func([]byte) bool]
}

var _ stack.LinkEndpoint = (*Device)(nil)

// offset leaves room in front of each packet for the platform's header
// (4 bytes on darwin's utun).
const offset = 16

// Open creates the TUN device with wireguard-go's CreateTUN.
func Open(cfg Config) (*Device, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	dev, err := wgtun.CreateTUN(cfg.Name, cfg.MTU)
	if err != nil {
		return nil, fmt.Errorf("tun %s: %w", cfg.Name, err)
	}
	name, err := dev.Name()
	if err != nil {
		dev.Close()
		return nil, fmt.Errorf("tun %s: %w", cfg.Name, err)
	}
	d := &Device{cfg: cfg, name: name, dev: dev}
	d.mtu.Store(uint32(cfg.MTU))
	return d, nil
}

// Queues is always 1 here.
func (d *Device) Queues() int { return 1 }

// Attach implements stack.LinkEndpoint.Attach.
func (d *Device) Attach(dispatcher stack.NetworkDispatcher) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dispatcher = dispatcher
	if dispatcher == nil || d.started || d.closed.Load() {
		return
	}
	d.started = true
	d.readers.Add(1)
	go d.readLoop()
}

// Close implements stack.LinkEndpoint.Close; safe to call more than once.
func (d *Device) Close() {
	// The stack's close action removes the NIC, which calls Close again:
	// run it outside closeOnce, and only once.
	d.mu.Lock()
	f := d.onClose
	d.onClose = nil
	d.mu.Unlock()
	if f != nil {
		f()
	}
	d.closeOnce.Do(func() {
		d.closed.Store(true)
		d.dev.Close()
		d.readers.Wait()
	})
}

func (d *Device) readLoop() {
	defer d.readers.Done()
	batch := d.dev.BatchSize()
	bufs := make([][]byte, batch)
	sizes := make([]int, batch)
	for i := range bufs {
		bufs[i] = make([]byte, offset+d.cfg.MTU)
	}
	for {
		n, err := d.dev.Read(bufs, sizes, offset)
		if err != nil {
			if d.closed.Load() || errors.Is(err, os.ErrClosed) {
				return
			}
			d.stats.rxErrors.Add(1)
			continue
		}
		d.mu.RLock()
		disp := d.dispatcher
		d.mu.RUnlock()
		for i := 0; i < n; i++ {
			b := bufs[i][offset : offset+sizes[i]]
			d.stats.rxPackets.Add(1)
			d.stats.rxBytes.Add(uint64(len(b)))
			proto, ok := checksumsValid(b)
			if !ok || disp == nil {
				d.stats.rxDropped.Add(1)
				continue
			}
			if d.filtered(b) {
				continue
			}
			pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(b)})
			pkt.RXChecksumValidated = true
			disp.DeliverNetworkPacket(proto, pkt)
			pkt.DecRef()
		}
	}
}

// WritePackets implements stack.LinkWriter.WritePackets.
func (d *Device) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	if d.closed.Load() {
		return 0, &tcpip.ErrClosedForSend{}
	}
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	n := 0
	for _, pkt := range pkts.AsSlice() {
		buf := make([]byte, offset, offset+pkt.Size())
		for _, s := range pkt.AsSlices() {
			buf = append(buf, s...)
		}
		if _, err := d.dev.Write([][]byte{buf}, offset); err != nil {
			if d.closed.Load() {
				if n == 0 {
					return 0, &tcpip.ErrClosedForSend{}
				}
				break
			}
			d.stats.txErrors.Add(1)
		} else {
			d.stats.txPackets.Add(1)
			d.stats.txBytes.Add(uint64(len(buf) - offset))
		}
		n++
	}
	return n, nil
}

//go:build linux

package tun

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/stack/gro"
)

// Device is a Linux TUN device bridged into gVisor. It implements
// stack.LinkEndpoint and stack.GSOEndpoint (host GSO).
type Device struct {
	cfg   Config
	name  string
	mtu   atomic.Uint32
	queue []*queue

	mu         sync.RWMutex
	dispatcher stack.NetworkDispatcher
	started    bool
	onClose    func()

	closeOnce sync.Once
	closed    atomic.Bool
	readers   sync.WaitGroup
	stats     counters
	filter    atomic.Pointer[func([]byte) bool]
}

// queue is one file descriptor of a (possibly multiqueue) TUN. Reads and
// writes carry a virtio-net header and go through the runtime poller.
type queue struct {
	file *os.File
	raw  syscall.RawConn
}

var (
	_ stack.LinkEndpoint = (*Device)(nil)
	_ stack.GSOEndpoint  = (*Device)(nil)
)

// gsoMaxSize bounds gVisor's TCP segments so that the IP packet, with the
// largest IPv6 and TCP headers, still fits the 16-bit length fields.
const gsoMaxSize = maxMTU - header.IPv6MinimumSize - header.TCPHeaderMaximumSize

// virtioNetHdrLen is sizeof(struct virtio_net_hdr), the header the kernel
// puts in front of every packet on an IFF_VNET_HDR TUN, both ways.
const virtioNetHdrLen = 10

// tunOffloads are the offloads the kernel may use towards us: checksum
// left partial (TUN_F_CSUM) and TCP super-packets (TSO). UDP segmentation
// (USO) is not enabled: a UDP super-packet would have to be split here,
// while a TCP one is handed to gVisor whole.
const tunOffloads = unix.TUN_F_CSUM | unix.TUN_F_TSO4 | unix.TUN_F_TSO6

// Open creates the TUN device, sets its MTU, transmit queue length and
// addresses, and brings it up. It needs CAP_NET_ADMIN. The device
// disappears when the Device is closed.
func Open(cfg Config) (*Device, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	d := &Device{cfg: cfg}
	d.mtu.Store(uint32(cfg.MTU))
	for i := 0; i < cfg.Queues; i++ {
		q, name, err := openQueue(cfg.Name, cfg.Queues > 1)
		if err != nil {
			d.closeQueues()
			return nil, fmt.Errorf("tun %s: queue %d: %w", cfg.Name, i, err)
		}
		d.queue = append(d.queue, q)
		if i == 0 {
			// The kernel may have expanded a pattern such as "tun%d";
			// later queues must attach to the same interface.
			d.name, cfg.Name = name, name
		}
	}
	if err := configureLink(d.name, cfg); err != nil {
		d.closeQueues()
		return nil, fmt.Errorf("tun %s: %w", d.name, err)
	}
	return d, nil
}

func openQueue(name string, multi bool) (*queue, string, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, "", fmt.Errorf("open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, "", err
	}
	flags := uint16(unix.IFF_TUN | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	if multi {
		flags |= unix.IFF_MULTI_QUEUE
	}
	ifr.SetUint16(flags)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, "", fmt.Errorf("TUNSETIFF: %w", err)
	}
	if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, tunOffloads); err != nil {
		// Without offloads every packet would be MTU-sized and carry a
		// full checksum: correct, but several times slower.
		unix.Close(fd)
		return nil, "", fmt.Errorf("TUNSETOFFLOAD: %w", err)
	}
	// Non-blocking before os.NewFile, so reads and writes park in the
	// runtime poller instead of blocking a thread; File.Fd() would make
	// the fd blocking again, which is why all I/O goes through raw.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, "", fmt.Errorf("set non-blocking: %w", err)
	}
	got := ifr.Name()
	q := &queue{file: os.NewFile(uintptr(fd), "/dev/net/tun")}
	if q.raw, err = q.file.SyscallConn(); err != nil {
		q.file.Close()
		return nil, "", err
	}
	return q, got, nil
}

func configureLink(name string, cfg Config) error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("ioctl socket: %w", err)
	}
	defer unix.Close(s)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	ifr.SetUint32(uint32(cfg.MTU))
	if err := unix.IoctlIfreq(s, unix.SIOCSIFMTU, ifr); err != nil {
		return fmt.Errorf("set mtu %d: %w", cfg.MTU, err)
	}
	ifr.SetUint32(uint32(cfg.TxQueueLen))
	if err := unix.IoctlIfreq(s, unix.SIOCSIFTXQLEN, ifr); err != nil {
		return fmt.Errorf("set txqueuelen %d: %w", cfg.TxQueueLen, err)
	}
	if len(cfg.Addresses) > 0 {
		index, err := ifIndex(s, name)
		if err != nil {
			return err
		}
		for _, p := range cfg.Addresses {
			if err := addAddress(index, p); err != nil {
				return fmt.Errorf("add address %v: %w", p, err)
			}
		}
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("get flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("set up: %w", err)
	}
	return nil
}

func ifIndex(s int, name string) (int, error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, err
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFINDEX, ifr); err != nil {
		return 0, fmt.Errorf("get index: %w", err)
	}
	return int(ifr.Uint32()), nil
}

// Queues is the number of device queues (reader goroutines).
func (d *Device) Queues() int { return len(d.queue) }

// GSOMaxSize implements stack.GSOEndpoint.GSOMaxSize.
func (d *Device) GSOMaxSize() uint32 { return gsoMaxSize }

// SupportedGSO implements stack.GSOEndpoint.SupportedGSO: segments are
// handed to the kernel with a virtio-net header, which segments them.
func (d *Device) SupportedGSO() stack.SupportedGSO { return stack.HostGSOSupported }

// Attach implements stack.LinkEndpoint.Attach. The first non-nil
// dispatcher starts one reader goroutine per queue; nil detaches, and
// packets read meanwhile are dropped.
func (d *Device) Attach(dispatcher stack.NetworkDispatcher) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dispatcher = dispatcher
	if dispatcher == nil || d.started || d.closed.Load() {
		return
	}
	d.started = true
	for _, q := range d.queue {
		d.readers.Add(1)
		go d.readLoop(q)
	}
}

// Close implements stack.LinkEndpoint.Close. It closes every queue, which
// removes the interface, and waits for the readers. It is safe to call
// more than once and from the stack and the owner both.
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
		d.closeQueues()
		d.readers.Wait()
	})
}

func (d *Device) closeQueues() {
	for _, q := range d.queue {
		q.file.Close()
	}
}

// rxBufSize is the read buffer: the largest IP packet (a TCP
// super-packet) fits, and it is gVisor's largest pooled chunk.
const rxBufSize = 64 << 10

// rxCopyMax is the largest packet copied out of the read buffer into a
// right-sized one. Smaller packets would otherwise pin a 64 KiB chunk each
// while they sit in a socket's receive queue; copying 16 KiB costs less
// than the read that produced it, and above it a handed-over chunk wastes
// at most 4x.
const rxCopyMax = 16 << 10

// rxBatch bounds the reads done before GRO is flushed: enough for GRO to
// merge the MTU-sized packets of a busy flow, few enough that the first
// packet is not held back long.
const rxBatch = 32

func (d *Device) readLoop(q *queue) {
	defer d.readers.Done()
	r := &rxLoop{d: d}
	r.iov[0] = unix.Iovec{Base: &r.hdr[0]}
	r.iov[0].SetLen(len(r.hdr))
	r.g.Init(true)
	r.step = r.readBatches
	defer r.release()
	for {
		r.failed = false
		err := q.raw.Read(r.step)
		if d.closed.Load() || errors.Is(err, os.ErrClosed) {
			return
		}
		if err != nil || r.failed {
			d.stats.rxErrors.Add(1)
		}
	}
}

// rxLoop is one queue's reader. All its reads happen inside one
// RawConn.Read: the callback reads until EAGAIN, flushes GRO and returns
// false, and the runtime poller parks the goroutine until the queue is
// readable again. Ending a batch outside the callback cost two more
// readv calls per batch, both EAGAIN: the one that ended the batch and
// the one the next Read makes before it parks (it must, since entering
// Read resets the poller's readiness). At tests/bench's connection rate
// a batch is one or two packets, and 2.7 of the 7.7 readv calls per
// connection were such EAGAINs (strace -c). The state lives here, not on
// the stack of a closure, so a read allocates nothing.
type rxLoop struct {
	d     *Device
	hdr   [virtioNetHdrLen]byte
	iov   [2]unix.Iovec
	spare *buffer.View
	g     gro.GRO
	// n counts the packets read since GRO was last flushed; disp is the
	// dispatcher of that batch (nil drops).
	n    int
	disp stack.NetworkDispatcher
	// failed is a read that failed or came up short.
	failed bool
	step   func(fd uintptr) bool
}

func (r *rxLoop) release() {
	if r.n > 0 && r.disp != nil {
		r.g.Flush()
	}
	if r.spare != nil {
		r.spare.Release()
	}
}

// flush ends a batch: what GRO holds goes to the stack.
func (r *rxLoop) flush() {
	if r.n > 0 && r.disp != nil {
		r.g.Flush()
	}
	r.n = 0
}

// readBatches is the RawConn.Read callback: it reports true only when
// the device is closing (or a read failed, for readLoop to count), false
// to wait for the queue to become readable.
func (r *rxLoop) readBatches(fd uintptr) bool {
	d := r.d
	for {
		if d.closed.Load() {
			r.flush()
			return true
		}
		if r.n == 0 {
			d.mu.RLock()
			r.disp = d.dispatcher
			d.mu.RUnlock()
			r.g.Dispatcher = nil
			if r.disp != nil {
				r.g.Dispatcher = fixHeader{r.disp}
			}
		}
		if r.spare == nil {
			r.spare = buffer.NewViewSize(rxBufSize)
		}
		buf := r.spare.AsSlice()
		r.iov[1] = unix.Iovec{Base: &buf[0]}
		r.iov[1].SetLen(len(buf))
		// RawSyscall (see txWrite.writev for why).
		m, _, errno := unix.RawSyscall(unix.SYS_READV, fd, uintptr(unsafe.Pointer(&r.iov[0])), uintptr(len(r.iov)))
		switch {
		case errno == unix.EAGAIN:
			r.flush()
			return false
		case errno == unix.EINTR:
			continue
		case errno != 0 || int(m) < len(r.hdr):
			// A failed or short read: counted, and the batch so far is
			// delivered; readLoop reads on.
			r.flush()
			r.failed = true
			return true
		}
		n := int(m) - len(r.hdr)
		r.n++
		r.deliver(buf[:n])
		if r.n == rxBatch {
			r.flush()
		}
	}
}

// deliver hands one packet read into the spare buffer to GRO or the
// stack.
func (r *rxLoop) deliver(b []byte) {
	d := r.d
	n := len(b)
	d.stats.rxPackets.Add(1)
	d.stats.rxBytes.Add(uint64(n))
	proto, ok := validate(&r.hdr, b)
	if !ok || r.disp == nil {
		d.stats.rxDropped.Add(1)
		return // the buffer is reused for the next read
	}
	if d.filtered(b) {
		return
	}
	var v *buffer.View
	if n <= rxCopyMax {
		v = buffer.NewViewWithData(b)
	} else {
		v, r.spare = r.spare, nil
		v.CapLength(n)
	}
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithView(v)})
	pkt.NetworkProtocolNumber = proto
	pkt.RXChecksumValidated = true
	g := &r.g
	if bypassGRO(proto, b) {
		g.Dispatcher.DeliverNetworkPacket(proto, pkt)
	} else if tcpNoPayload(proto, b) {
		// After what GRO holds, so the flow's order is kept.
		g.Flush()
		g.Dispatcher.DeliverNetworkPacket(proto, pkt)
	} else {
		g.Enqueue(pkt)
	}
	pkt.DecRef() // GRO holds its own reference while merging
}

// bypassGRO reports an IPv6 packet with extension headers, which GRO
// could not merge anyway (it delivers such packets at once) and whose
// parsing in gVisor's GRO leaks a reference to the packet's buffer (the
// extension-header iterator's copy of the payload is never released;
// TestTUNEcho's leak check caught it once IPv6 fragments went through).
func bypassGRO(proto tcpip.NetworkProtocolNumber, b []byte) bool {
	if proto != header.IPv6ProtocolNumber || len(b) < header.IPv6MinimumSize {
		return false
	}
	// The next header field itself, on purpose: any extension header bypasses.
	next := tcpip.TransportProtocolNumber(header.IPv6(b).NextHeader())
	return next != header.TCPProtocolNumber && next != header.UDPProtocolNumber && next != header.ICMPv6ProtocolNumber
}

// tcpNoPayload reports a TCP segment without payload (an ACK, FIN or
// RST), which GRO must not merge with the data segment behind it: a
// client's handshake-completing ACK and its first data, read in one
// batch, were merged into one segment, and a gVisor listener answering
// with SYN cookies dropped that segment's data, so the client
// retransmitted it after its 200 ms RTO (the 2-in-10 connects of
// tests/bench/synflood.sh that took 200 ms to exchange a byte). There is
// nothing to merge in an empty segment anyway.
func tcpNoPayload(proto tcpip.NetworkProtocolNumber, b []byte) bool {
	var l4 []byte
	switch proto {
	case header.IPv4ProtocolNumber:
		if len(b) < header.IPv4MinimumSize {
			return false
		}
		ip := header.IPv4(b)
		ihl, total := int(ip.HeaderLength()), int(ip.TotalLength())
		if ip.Protocol() != uint8(header.TCPProtocolNumber) || ihl < header.IPv4MinimumSize || total > len(b) || ihl > total {
			return false
		}
		l4 = b[ihl:total]
	case header.IPv6ProtocolNumber:
		if len(b) < header.IPv6MinimumSize {
			return false
		}
		ip := header.IPv6(b)
		end := header.IPv6MinimumSize + int(ip.PayloadLength())
		if tcpip.TransportProtocolNumber(ip.NextHeader()) != header.TCPProtocolNumber || end > len(b) {
			return false
		}
		l4 = b[header.IPv6MinimumSize:end]
	default:
		return false
	}
	if len(l4) < header.TCPMinimumSize {
		return false
	}
	return len(l4) == int(header.TCP(l4).DataOffset())
}

// fixHeader sits between gVisor's GRO and the stack. GRO grows a merged
// IPv4 packet's total length without updating its header checksum (it
// relies on RX checksum offload), and a nested endpoint that checks the
// header, such as netstack's packet guard, would drop every merged
// packet as malformed. Recomputing 20 bytes per delivered packet is
// cheaper than finding out which were merged.
type fixHeader struct{ stack.NetworkDispatcher }

func (f fixHeader) DeliverNetworkPacket(proto tcpip.NetworkProtocolNumber, pkt *stack.PacketBuffer) {
	if proto == header.IPv4ProtocolNumber {
		if b, ok := pkt.Data().PullUp(header.IPv4MinimumSize); ok {
			ip := header.IPv4(b)
			if hl := int(ip.HeaderLength()); hl == header.IPv4MinimumSize {
				ip.SetChecksum(0)
				ip.SetChecksum(^ip.CalculateChecksum())
			} else if h2, ok := pkt.Data().PullUp(hl); ok && hl >= header.IPv4MinimumSize {
				ip = header.IPv4(h2)
				ip.SetChecksum(0)
				ip.SetChecksum(^ip.CalculateChecksum())
			}
		}
	}
	f.NetworkDispatcher.DeliverNetworkPacket(proto, pkt)
}

// WritePackets implements stack.LinkWriter.WritePackets. The caller keeps
// its references to the packets; nothing here retains them.
func (d *Device) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	if d.closed.Load() {
		return 0, &tcpip.ErrClosedForSend{}
	}
	n := 0
	for _, pkt := range pkts.AsSlice() {
		if err := d.writePacket(pkt); err != nil {
			if d.closed.Load() {
				if n == 0 {
					return 0, &tcpip.ErrClosedForSend{}
				}
				break
			}
			// A NIC drops what it cannot send; TCP retransmits.
			d.stats.txErrors.Add(1)
		}
		n++
	}
	return n, nil
}

// txWrite is the state of one packet write. The writev runs in a
// RawConn.Write callback, and a closure over locals moved the header, the
// iovec array and the errno to the heap: four allocations per packet,
// 20 per connection of tests/bench's connect loop. Pooled, a write
// allocates nothing.
type txWrite struct {
	hdr [virtioNetHdrLen]byte
	// iov is backed by iovStore unless the packet has more pieces (a
	// segment merged from many small writes).
	iov      []unix.Iovec
	iovStore [8]unix.Iovec
	errno    syscall.Errno
	fn       func(fd uintptr) bool
}

var txWrites = sync.Pool{New: func() any {
	w := &txWrite{}
	w.fn = w.writev
	return w
}}

// writev is RawConn.Write's callback. The queue is non-blocking, so the
// call never waits: it runs the kernel's receive path for the packet (the
// client's TCP stack, inline) and returns. Through Syscall, a write that
// took more than one sysmon tick (20 us) had its P handed to another
// thread, and sysmon, seeing such hand-offs, kept polling every 20 us:
// 4.5-8.6% of the appliance's CPU in tests/bench's connect loop was sysmon
// sleeping and waking, 1.7-2.8% with RawSyscall (perf, alternating runs).
// The hand-off buys nothing for work that keeps the core busy anyway.
// gVisor's fdbased link writes the same way.
func (w *txWrite) writev(fd uintptr) bool {
	_, _, w.errno = unix.RawSyscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&w.iov[0])), uintptr(len(w.iov)))
	return w.errno != unix.EAGAIN
}

// writePacket writes one packet with its virtio-net header in a single
// writev, without copying it. A 64 KiB gVisor segment sent with GSO_NONE
// would be dropped as larger than the MTU; the header built here asks the
// kernel to segment it and to fill in the TCP checksum (CHECKSUM_PARTIAL).
func (d *Device) writePacket(pkt *stack.PacketBuffer) error {
	w := txWrites.Get().(*txWrite)
	defer func() {
		// The iovecs point into the packet: no pooled object keeps it.
		clear(w.iovStore[:])
		w.iov = nil
		txWrites.Put(w)
	}()
	w.hdr = [virtioNetHdrLen]byte{}
	hdr := w.hdr[:]
	if gso := pkt.GSOOptions; gso.Type == stack.GSOTCPv4 || gso.Type == stack.GSOTCPv6 {
		if gso.NeedsCsum {
			hdr[0] = unix.VIRTIO_NET_HDR_F_NEEDS_CSUM
			binary.NativeEndian.PutUint16(hdr[6:], uint16(len(pkt.NetworkHeader().Slice())))
			binary.NativeEndian.PutUint16(hdr[8:], gso.CsumOffset)
		}
		if pkt.Data().Size() > int(gso.MSS) {
			hdr[1] = unix.VIRTIO_NET_HDR_GSO_TCPV4
			if gso.Type == stack.GSOTCPv6 {
				hdr[1] = unix.VIRTIO_NET_HDR_GSO_TCPV6
			}
			binary.NativeEndian.PutUint16(hdr[2:], uint16(pkt.HeaderSize()))
			binary.NativeEndian.PutUint16(hdr[4:], gso.MSS)
		}
	}
	w.iov = append(w.iovStore[:0], unix.Iovec{Base: &w.hdr[0]})
	w.iov[0].SetLen(len(w.hdr))
	size := 0
	for _, s := range pkt.AsSlices() {
		if len(s) == 0 {
			continue
		}
		v := unix.Iovec{Base: &s[0]}
		v.SetLen(len(s))
		w.iov = append(w.iov, v)
		size += len(s)
	}
	// Packets of one flow carry the same hash, so they stay on one queue
	// and in order.
	q := d.queue[int(pkt.Hash%uint32(len(d.queue)))]
	if err := q.raw.Write(w.fn); err != nil {
		return err
	}
	if w.errno != 0 {
		return w.errno
	}
	d.stats.txPackets.Add(1)
	d.stats.txBytes.Add(uint64(size))
	return nil
}

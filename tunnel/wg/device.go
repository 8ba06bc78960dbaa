package wg

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	wgtun "golang.zx2c4.com/wireguard/tun"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// DefaultMTU is the overlay MTU: 1500 on the path, less the outer IPv6
// (40) and UDP (8) headers and WireGuard's 32 bytes of header and tag.
// It is wg-quick's default too, so the two sides agree without a word.
const DefaultMTU = device.DefaultMTU

// DefaultListenPort is WireGuard's customary port.
const DefaultListenPort = 51820

// outQueue bounds the packets the stack has written and wireguard-go has
// not yet read: two of wireguard-go's batches. A full queue blocks the
// stack's writer, so a fast sender is paced by encryption instead of
// losing packets to a drop the stack would have to retransmit.
const outQueue = 2 * conn.IdealBatchSize

// Config configures Open.
type Config struct {
	// PrivateKey is the device's key. Required.
	PrivateKey Key
	// ListenPort is the UDP port, on every address of both families; 0
	// picks a free one (ListenPort reports it).
	ListenPort int
	// ListenAddr, when valid, listens on this one address instead (the
	// demo and the tests use 127.0.0.1), without UDP GSO/GRO.
	ListenAddr netip.Addr
	// MTU is the overlay MTU; 0 is DefaultMTU.
	MTU int
	// Log receives wireguard-go's errors (warn) and its verbose lines
	// (debug). Nil discards them.
	Log *slog.Logger
}

// Peer is a peer's configuration.
type Peer struct {
	PublicKey Key
	// PresharedKey adds a symmetric key to the handshake; zero is none.
	PresharedKey Key
	// AllowedIPs are the inner source addresses the peer may send from
	// (and the destinations routed to it).
	AllowedIPs []netip.Prefix
	// Endpoint is where to reach the peer before it has written; zero
	// waits for the peer (a hub learns each runner's address from its
	// handshake, and follows it when it roams).
	Endpoint netip.AddrPort
	// PersistentKeepalive in seconds; 0 is off.
	PersistentKeepalive int
}

// PeerStatus is what the device knows of a peer now.
type PeerStatus struct {
	PublicKey     Key
	Endpoint      string // "" until the peer has written
	LastHandshake time.Time
	RxBytes       uint64
	TxBytes       uint64
	AllowedIPs    []netip.Prefix
}

// Device is a WireGuard device bridged into gVisor. It implements
// stack.LinkEndpoint.
type Device struct {
	wg   *device.Device
	side *tunSide
	mtu  atomic.Uint32
	port uint16

	mu         sync.RWMutex
	dispatcher stack.NetworkDispatcher
	onClose    func()

	closeOnce sync.Once
	stats     counters
}

var _ stack.LinkEndpoint = (*Device)(nil)

// Open creates the device, sets its key, opens the UDP socket and brings
// it up. It needs no privileges for ports above 1023.
func Open(cfg Config) (*Device, error) {
	if cfg.PrivateKey.IsZero() {
		return nil, errors.New("wireguard: no private key")
	}
	if cfg.ListenPort < 0 || cfg.ListenPort > 65535 {
		return nil, fmt.Errorf("wireguard: listen port %d outside [0, 65535]", cfg.ListenPort)
	}
	if cfg.MTU == 0 {
		cfg.MTU = DefaultMTU
	}
	if cfg.MTU < 1280 || cfg.MTU > device.MaxContentSize {
		return nil, fmt.Errorf("wireguard: mtu %d outside [1280, %d]", cfg.MTU, device.MaxContentSize)
	}
	d := &Device{}
	d.mtu.Store(uint32(cfg.MTU))
	d.side = &tunSide{d: d, out: make(chan *stack.PacketBuffer, outQueue), done: make(chan struct{}), events: make(chan wgtun.Event)}
	var bind conn.Bind
	if cfg.ListenAddr.IsValid() {
		bind = &addrBind{addr: cfg.ListenAddr}
	} else {
		bind = conn.NewDefaultBind()
	}
	d.wg = device.NewDevice(d.side, &countingBind{Bind: bind, c: &d.stats}, newLogger(cfg.Log, &d.stats))
	set := fmt.Sprintf("private_key=%s\nlisten_port=%d\n", cfg.PrivateKey.hex(), cfg.ListenPort)
	if err := d.wg.IpcSet(set); err != nil {
		d.wg.Close()
		return nil, fmt.Errorf("wireguard: configure: %w", err)
	}
	if err := d.wg.Up(); err != nil {
		d.wg.Close()
		return nil, fmt.Errorf("wireguard: up (UDP port %d): %w", cfg.ListenPort, err)
	}
	port, err := d.readPort()
	if err != nil {
		d.wg.Close()
		return nil, err
	}
	d.port = port
	return d, nil
}

// readPort asks the device which port it bound (an ephemeral one when 0
// was asked).
func (d *Device) readPort() (uint16, error) {
	s, err := d.wg.IpcGet()
	if err != nil {
		return 0, fmt.Errorf("wireguard: read config: %w", err)
	}
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(line, "listen_port="); ok {
			p, err := strconv.ParseUint(v, 10, 16)
			if err != nil {
				return 0, fmt.Errorf("wireguard: listen_port %q: %w", v, err)
			}
			return uint16(p), nil
		}
	}
	return 0, errors.New("wireguard: the device reports no listen port")
}

// ListenPort is the UDP port the device listens on.
func (d *Device) ListenPort() uint16 { return d.port }

// AddPeer adds a peer, or replaces the configuration of a peer with the
// same public key (its allowed IPs are replaced, not merged). The peer
// may handshake as soon as AddPeer returns.
func (d *Device) AddPeer(p Peer) error {
	if p.PublicKey.IsZero() {
		return errors.New("wireguard: peer without a public key")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "public_key=%s\nreplace_allowed_ips=true\n", p.PublicKey.hex())
	if !p.PresharedKey.IsZero() {
		fmt.Fprintf(&b, "preshared_key=%s\n", p.PresharedKey.hex())
	}
	if p.Endpoint.IsValid() {
		fmt.Fprintf(&b, "endpoint=%s\n", p.Endpoint)
	}
	if p.PersistentKeepalive > 0 {
		fmt.Fprintf(&b, "persistent_keepalive_interval=%d\n", p.PersistentKeepalive)
	}
	for _, a := range p.AllowedIPs {
		fmt.Fprintf(&b, "allowed_ip=%s\n", a.Masked())
	}
	if err := d.wg.IpcSet(b.String()); err != nil {
		// The error names a field, never the key material.
		return fmt.Errorf("wireguard: add peer %s: %w", p.PublicKey.Short(), err)
	}
	return nil
}

// RemovePeer removes a peer: from now on its packets do not decrypt and
// nothing is sent to it. Removing an unknown peer is not an error.
func (d *Device) RemovePeer(pub Key) error {
	if err := d.wg.IpcSet(fmt.Sprintf("public_key=%s\nremove=true\n", pub.hex())); err != nil {
		return fmt.Errorf("wireguard: remove peer %s: %w", pub.Short(), err)
	}
	return nil
}

// Peers returns the status of every peer. It reads the whole device
// configuration: for the admin API and tests, not for a hot path.
func (d *Device) Peers() ([]PeerStatus, error) {
	s, err := d.wg.IpcGet()
	if err != nil {
		return nil, fmt.Errorf("wireguard: read peers: %w", err)
	}
	var (
		out []PeerStatus
		cur *PeerStatus
		sec int64
	)
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch k {
		case "public_key":
			var pub Key
			if b, err := hex.DecodeString(v); err != nil || len(b) != KeyLen {
				return nil, fmt.Errorf("wireguard: read peers: bad public key")
			} else {
				copy(pub[:], b)
			}
			out = append(out, PeerStatus{PublicKey: pub})
			cur = &out[len(out)-1]
		case "endpoint":
			if cur != nil {
				cur.Endpoint = v
			}
		case "last_handshake_time_sec":
			sec, _ = strconv.ParseInt(v, 10, 64)
		case "last_handshake_time_nsec":
			nsec, _ := strconv.ParseInt(v, 10, 64)
			if cur != nil && (sec != 0 || nsec != 0) {
				cur.LastHandshake = time.Unix(sec, nsec)
			}
		case "rx_bytes":
			if cur != nil {
				cur.RxBytes, _ = strconv.ParseUint(v, 10, 64)
			}
		case "tx_bytes":
			if cur != nil {
				cur.TxBytes, _ = strconv.ParseUint(v, 10, 64)
			}
		case "allowed_ip":
			if p, err := netip.ParsePrefix(v); err == nil && cur != nil {
				cur.AllowedIPs = append(cur.AllowedIPs, p)
			}
		}
		// private_key and preshared_key lines are skipped: secrets never
		// leave the device through this call.
	}
	return out, nil
}

// Stats returns the device's counters.
func (d *Device) Stats() Stats { return d.stats.snapshot() }

// Close implements stack.LinkEndpoint.Close: it closes the UDP socket and
// the device and releases every queued packet. It is safe to call more
// than once and from the stack and the owner both.
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
		d.wg.Close() // closes the tun side, which releases the queue
		<-d.wg.Wait()
	})
}

// WritePackets implements stack.LinkWriter.WritePackets: each packet is
// queued with a reference for wireguard-go's reader, which copies it into
// its message buffer and releases it. The caller keeps its own reference.
func (d *Device) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	s := d.side
	s.writers.RLock()
	defer s.writers.RUnlock()
	n := 0
	for _, pkt := range pkts.AsSlice() {
		// done is checked first: once Close has drained the queue, a
		// select with both cases ready could still queue (and leak) one.
		select {
		case <-s.done:
			if n == 0 {
				return 0, &tcpip.ErrClosedForSend{}
			}
			return n, nil
		default:
		}
		pkt.IncRef()
		select {
		case s.out <- pkt:
			n++
		case <-s.done:
			pkt.DecRef()
			if n == 0 {
				return 0, &tcpip.ErrClosedForSend{}
			}
			return n, nil
		}
	}
	return n, nil
}

// deliver hands one decrypted packet to the stack. wireguard-go reuses
// b once Write returns, so it is copied into a pooled chunk.
func (d *Device) deliver(disp stack.NetworkDispatcher, b []byte) {
	var proto tcpip.NetworkProtocolNumber
	switch header.IPVersion(b) {
	case header.IPv4Version:
		proto = header.IPv4ProtocolNumber
	case header.IPv6Version:
		proto = header.IPv6ProtocolNumber
	default:
		d.stats.rxDropped.Add(1)
		return
	}
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(b)})
	disp.DeliverNetworkPacket(proto, pkt)
	pkt.DecRef()
	d.stats.rxPackets.Add(1)
	d.stats.rxBytes.Add(uint64(len(b)))
}

// tunSide is the device's wgtun.Device: wireguard-go reads the stack's
// packets from it and writes decrypted packets to it. It is a separate
// type because wgtun.Device and stack.LinkEndpoint both have Close and
// MTU, with different signatures.
type tunSide struct {
	d      *Device
	out    chan *stack.PacketBuffer
	done   chan struct{}
	events chan wgtun.Event
	// writers is held (read) by WritePackets while it may queue, and
	// (write) by Close between closing done and draining out, so no
	// packet is queued after the drain and leaked.
	writers   sync.RWMutex
	closeOnce sync.Once
}

var _ wgtun.Device = (*tunSide)(nil)

// File implements wgtun.Device; there is no file.
func (*tunSide) File() *os.File { return nil }

// Read implements wgtun.Device.Read: it waits for one packet from the
// stack, then takes what else is queued, up to len(bufs), copying each
// into bufs[i][offset:] (where wireguard-go encrypts it in place).
func (s *tunSide) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	var pkt *stack.PacketBuffer
	select {
	case pkt = <-s.out:
	case <-s.done:
		return 0, os.ErrClosed
	}
	n := 0
	for {
		if size, ok := copyPacket(bufs[n][offset:], pkt); ok {
			sizes[n] = size
			n++
			s.d.stats.txPackets.Add(1)
			s.d.stats.txBytes.Add(uint64(size))
		} else {
			s.d.stats.txDropped.Add(1)
		}
		pkt.DecRef()
		if n == len(bufs) {
			return n, nil
		}
		select {
		case pkt = <-s.out:
		default:
			return n, nil
		}
	}
}

// copyPacket copies the whole packet into dst without allocating; false
// if it does not fit (larger than the MTU wireguard-go's buffers hold).
func copyPacket(dst []byte, pkt *stack.PacketBuffer) (int, bool) {
	size := pkt.Size()
	if size > len(dst) {
		return 0, false
	}
	vl, off := pkt.AsViewList()
	n := 0
	for v := vl.Front(); v != nil && n < size; v = v.Next() {
		b := v.AsSlice()
		if off >= len(b) {
			off -= len(b)
			continue
		}
		n += copy(dst[n:size], b[off:])
		off = 0
	}
	return n, n == size
}

// Write implements wgtun.Device.Write: decrypted packets from the peers,
// whose inner source address wireguard-go has already checked against
// the sending peer's allowed IPs.
func (s *tunSide) Write(bufs [][]byte, offset int) (int, error) {
	d := s.d
	d.mu.RLock()
	disp := d.dispatcher
	d.mu.RUnlock()
	for _, b := range bufs {
		if disp == nil || len(b) <= offset {
			d.stats.rxDropped.Add(1)
			continue
		}
		d.deliver(disp, b[offset:])
	}
	return len(bufs), nil
}

// MTU implements wgtun.Device.MTU.
func (s *tunSide) MTU() (int, error) { return int(s.d.mtu.Load()), nil }

// Name implements wgtun.Device.Name.
func (*tunSide) Name() (string, error) { return "wg", nil }

// Events implements wgtun.Device.Events. The device is brought up by
// Open, not by an event; the channel closes with the device.
func (s *tunSide) Events() <-chan wgtun.Event { return s.events }

// BatchSize implements wgtun.Device.BatchSize.
func (*tunSide) BatchSize() int { return conn.IdealBatchSize }

// Close implements wgtun.Device.Close (wireguard-go calls it when the
// device closes): Read returns os.ErrClosed, writers stop queueing and
// every queued packet is released.
func (s *tunSide) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		s.writers.Lock()
		for {
			select {
			case pkt := <-s.out:
				pkt.DecRef()
				continue
			default:
			}
			break
		}
		s.writers.Unlock()
		close(s.events)
	})
	return nil
}

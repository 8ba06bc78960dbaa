package netstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// NIC ids inside the gVisor stack.
const (
	clientNIC   tcpip.NICID = 1
	upstreamNIC tcpip.NICID = 2
)

// Stack is the appliance's userspace network stack: it terminates every
// TCP flow and UDP session arriving on the client-facing link, asks the
// Handler about it, dials upstream and relays the bytes through the
// flow's FlowHandler.
type Stack struct {
	cfg   config
	gs    *stack.Stack
	guard *Guard
	flows *FlowTable
	m     *metrics
	log   *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc

	// mu guards closed against wg.Add: every goroutine of the stack
	// (forwarder handlers, relays, sessions, sweeper) enters through
	// enter() so Close can wait for all of them.
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup

	syn *synState
	// validating mirrors syn.mode == ValidateFirst for the packet path,
	// draining whether cookie listeners are being drained (synflood.go).
	validating, draining atomic.Bool

	udp *udpTable

	bufPool    sync.Pool
	udpBufPool sync.Pool
	nextID     atomic.Uint64

	transparent *TransparentDialer
	// echoLimit bounds the echo replies the appliance synthesises, so it
	// cannot be used as a reflector at link speed.
	echoLimit *rate.Limiter
}

// New builds a stack. WithLink is required; everything else has a
// default (PassAll handler, DirectDialer or the transparent dialer,
// DefaultLimits, no metrics export, slog.Default()).
func New(opts ...Option) (*Stack, error) {
	cfg := config{limits: DefaultLimits, nicName: "nic0"}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.link == nil {
		return nil, errors.New("netstack: New: no link (use WithLink)")
	}
	if cfg.handler == nil {
		cfg.handler = PassAll{}
	}
	if cfg.log == nil {
		cfg.log = slog.Default()
	}
	m, err := newMetrics(cfg.reg)
	if err != nil {
		return nil, err
	}

	s := &Stack{
		cfg:       cfg,
		flows:     newFlowTable(cfg.limits.MaxFlows),
		m:         m,
		log:       cfg.log,
		syn:       newSYNState(cfg.limits),
		echoLimit: rate.NewLimiter(1000, 100),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	size := cfg.limits.RelayBuffer
	s.bufPool.New = func() any { b := make([]byte, size); return &b }
	s.udpBufPool.New = func() any { b := make([]byte, udpMaxDatagram); return &b }
	s.udp = newUDPTable(cfg.limits.MaxUDPSessions)

	s.gs = stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6},
		// ICMP echo for any address behind the appliance is answered by
		// gVisor itself (promiscuous NIC, temporary addresses).
		HandleLocal: false,
	})
	if err := s.configure(); err != nil {
		s.teardown()
		s.cancel()
		return nil, err
	}
	if cfg.reg != nil {
		// gVisor's forwarder counts the SYNs it ignores at MaxSYNInFlight.
		tcpStats := s.gs.Stats().TCP
		for _, c := range []struct {
			name, help string
			stat       *tcpip.StatCounter
		}{
			{"syn_dropped_in_flight_total", "SYNs ignored because MaxSYNInFlight handshakes were in flight.", tcpStats.ForwardMaxInFlightDrop},
			{"syn_cookies_sent_total", "SYN-ACKs sent with a SYN cookie (SYN pressure: validate_first).", tcpStats.ListenOverflowSynCookieSent},
			{"syn_cookies_valid_total", "Handshakes completed with a valid SYN cookie.", tcpStats.ListenOverflowSynCookieRcvd},
			{"syn_cookies_invalid_total", "ACKs with an invalid SYN cookie.", tcpStats.ListenOverflowInvalidSynCookieRcvd},
		} {
			stat := c.stat
			err := cfg.reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
				Namespace: "interdict", Subsystem: "netstack", Name: c.name, Help: c.help,
			}, func() float64 { return float64(stat.Value()) }))
			if err != nil {
				s.teardown()
				s.cancel()
				return nil, fmt.Errorf("netstack metrics: %w", err)
			}
		}
	}
	if !s.enter() {
		return nil, errors.New("netstack: closed during New")
	}
	go s.sweeper()
	return s, nil
}

func (s *Stack) configure() error {
	l := s.cfg.limits
	rcvInit := min(tcpInitialReceiveBuffer, l.TCPReceiveBuffer)
	tcpOpts := []tcpip.SettableTransportProtocolOption{
		// Listeners exist only while the stack validates clients first
		// (synflood.go), and then they must hold no state per SYN.
		func() *tcpip.TCPAlwaysUseSynCookies { o := tcpip.TCPAlwaysUseSynCookies(true); return &o }(),
		&tcpip.TCPSendBufferSizeRangeOption{Min: 4096, Default: l.TCPSendBuffer, Max: l.TCPSendBuffer},
		&tcpip.TCPReceiveBufferSizeRangeOption{Min: 4096, Default: rcvInit, Max: l.TCPReceiveBuffer},
		// Receive buffers start at rcvInit and grow towards the maximum
		// only for flows whose reader keeps up (gvLeg.read reports each
		// read), as Linux's tcp_rmem autotuning does.
		func() *tcpip.TCPModerateReceiveBufferOption {
			o := tcpip.TCPModerateReceiveBufferOption(true)
			return &o
		}(),
		// See DefaultLimits.TimeWait: a long TIME_WAIT on the client leg
		// silently eats reconnects on the same 4-tuple.
		func() *tcpip.TCPTimeWaitTimeoutOption { o := tcpip.TCPTimeWaitTimeoutOption(l.TimeWait); return &o }(),
		func() *tcpip.TCPSACKEnabled { o := tcpip.TCPSACKEnabled(true); return &o }(),
		// No RACK, so no tail loss probes: a client leg sends its last
		// byte and its FIN back to back, and the probe timer (2 x SRTT,
		// about 2 ms here) fired whenever the relay was a little late
		// reading the client's ACK: 10% of the connections of
		// tests/bench's connect loop retransmitted their FIN, the client
		// answered each with a duplicate ACK, and the timer goroutine
		// held the endpoint lock while writing to the TUN, which made
		// gVisor's packet processor spin (1.7 million requeues in 6 s).
		// Loss on the client link is recovered by SACK and the RTO.
		func() *tcpip.TCPRecovery { o := tcpip.TCPRecovery(0); return &o }(),
	}
	for _, o := range tcpOpts {
		if err := s.gs.SetTransportProtocolOption(tcp.ProtocolNumber, o); err != nil {
			return fmt.Errorf("netstack: set TCP option %T: %s", o, err)
		}
	}

	// Forwarders before the NIC: a SYN that arrives between NIC creation
	// and handler installation would be answered with RST.
	fwd := tcp.NewForwarder(s.gs, rcvInit, l.MaxSYNInFlight, s.handleTCP)
	s.gs.SetTransportProtocolHandler(tcp.ProtocolNumber, func(id stack.TransportEndpointID, pkt *stack.PacketBuffer) bool {
		if pkt.NICID != clientNIC {
			return false
		}
		return fwd.HandlePacket(id, pkt)
	})
	s.gs.SetTransportProtocolHandler(udp.ProtocolNumber, s.handleUDP)
	s.gs.SetTransportProtocolHandler(icmp.ProtocolNumber4, s.handleICMPv4)

	s.guard = NewGuard(s.cfg.link, l.MaxGuardEntries)
	s.guard.setMetrics(s.m)
	s.guard.onSYN = s.onSYN
	s.guard.filterSYNs()
	if err := s.addNIC(clientNIC, s.guard, s.cfg.nicName); err != nil {
		return err
	}
	routes := []tcpip.Route{
		{Destination: header.IPv4EmptySubnet, NIC: clientNIC},
		{Destination: header.IPv6EmptySubnet, NIC: clientNIC},
	}
	if s.cfg.upstream != nil {
		if err := s.addNIC(upstreamNIC, s.cfg.upstream, s.cfg.nicName+"-up"); err != nil {
			return err
		}
		// Endpoints bound to a NIC only use that NIC's routes, so both
		// default routes coexist: client legs answer on the client NIC,
		// transparent dials leave through the upstream NIC.
		routes = append(routes,
			tcpip.Route{Destination: header.IPv4EmptySubnet, NIC: upstreamNIC},
			tcpip.Route{Destination: header.IPv6EmptySubnet, NIC: upstreamNIC})
		s.transparent = &TransparentDialer{s: s}
		if s.cfg.dialer == nil {
			s.cfg.dialer = s.transparent
		}
	}
	s.gs.SetRouteTable(routes)
	if s.cfg.dialer == nil {
		s.cfg.dialer = &DirectDialer{}
	}
	return nil
}

func (s *Stack) addNIC(id tcpip.NICID, ep stack.LinkEndpoint, name string) error {
	if err := s.gs.CreateNICWithOptions(id, ep, stack.NICOptions{Name: name}); err != nil {
		return fmt.Errorf("netstack: create NIC %s: %s", name, err)
	}
	// Promiscuous: accept packets for every destination (the appliance
	// impersonates all servers). Spoofing: send from those addresses.
	if err := s.gs.SetPromiscuousMode(id, true); err != nil {
		return fmt.Errorf("netstack: NIC %s promiscuous: %s", name, err)
	}
	if err := s.gs.SetSpoofing(id, true); err != nil {
		return fmt.Errorf("netstack: NIC %s spoofing: %s", name, err)
	}
	return nil
}

// enter registers a goroutine of the stack; false once Close has begun.
func (s *Stack) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

func (s *Stack) leave() { s.wg.Done() }

// Guard returns the packet guard in front of the client-facing link.
func (s *Stack) Guard() *Guard { return s.guard }

// Flows returns the flow table.
func (s *Stack) Flows() *FlowTable { return s.flows }

// GVisor returns the underlying gVisor stack, for link-level wiring and
// tests. Do not install transport handlers on it.
func (s *Stack) GVisor() *stack.Stack { return s.gs }

// Transparent returns the dialer through the upstream NIC, or nil if the
// stack has no upstream link.
func (s *Stack) Transparent() *TransparentDialer { return s.transparent }

// Close ends every flow (reason "shutdown"), waits for every goroutine of
// the stack and tears the gVisor stack and its links down.
func (s *Stack) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.flows.Range(func(f *Flow) bool { f.stop(Continue, "shutdown"); return true })
	s.wg.Wait()
	s.teardown()
	return nil
}

// teardown stops the gVisor stack and closes its links. gVisor's Wait
// waits for each link's goroutines before it closes the link, and a link
// whose readers block in read (TUN, fdbased) stops only when closed, so
// Close used to hang unless the owner closed the link inside Wait. Here
// the transport endpoints are aborted and waited for first, so their last
// RST or FIN reaches the link; then every NIC is removed, which closes its
// link; then the links and the stack are waited for.
func (s *Stack) teardown() {
	s.gs.Close()
	for _, e := range s.gs.RegisteredEndpoints() {
		e.Wait()
	}
	for _, e := range s.gs.CleanupEndpoints() {
		e.Wait()
	}
	for id := range s.gs.NICInfo() {
		_ = s.gs.RemoveNIC(id)
	}
	// Removed NICs are no longer waited for by gVisor.
	for _, l := range []stack.LinkEndpoint{s.guard, s.cfg.upstream} {
		if l != nil {
			l.Wait()
		}
	}
	s.gs.Wait()
}

// sweeper ends idle flows and expires guard entries. Its period is a
// quarter of the shortest idle timeout, bounded to [100ms, 5s], so a
// flow outlives its timeout by at most 25%.
func (s *Stack) sweeper() {
	defer s.leave()
	l := s.cfg.limits
	period := min(l.IdleTimeout, l.UDPIdleTimeout, l.DNSIdleTimeout) / 4
	period = max(100*time.Millisecond, min(period, 5*time.Second))
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			s.guard.Sweep(now)
			s.flows.Range(func(f *Flow) bool {
				idle := l.IdleTimeout
				if f.tuple.Proto == UDP {
					idle = l.UDPIdleTimeout
					if f.tuple.Dst.Port() == 53 {
						idle = l.DNSIdleTimeout
					}
				}
				if now.Sub(time.Unix(0, f.lastActive.Load())) > idle {
					f.stop(Continue, "idle")
				}
				return true
			})
		}
	}
}

func (s *Stack) getBuf() *[]byte  { return s.bufPool.Get().(*[]byte) }
func (s *Stack) putBuf(b *[]byte) { s.bufPool.Put(b) }

func (s *Stack) getUDPBuf() *[]byte  { return s.udpBufPool.Get().(*[]byte) }
func (s *Stack) putUDPBuf(b *[]byte) { s.udpBufPool.Put(b) }

func (s *Stack) newInfo(proto Proto, t FiveTuple) *FlowInfo {
	info := &FlowInfo{
		ID:    s.nextID.Add(1),
		Proto: proto,
		Src:   t.Src,
		Dst:   t.Dst,
		NIC:   s.cfg.nicName,
		Start: time.Now(),
	}
	if s.cfg.identity != nil {
		info.Identity = s.cfg.identity(t.Src.Addr())
	}
	return info
}

func addrPort(a tcpip.Address, port uint16) netip.AddrPort {
	ip, _ := netip.AddrFromSlice(a.AsSlice())
	return netip.AddrPortFrom(ip.Unmap(), port)
}

func tupleOf(proto Proto, id stack.TransportEndpointID) FiveTuple {
	return FiveTuple{Proto: proto, Src: addrPort(id.RemoteAddress, id.RemotePort), Dst: addrPort(id.LocalAddress, id.LocalPort)}
}

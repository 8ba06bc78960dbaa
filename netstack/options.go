package netstack

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// Option configures New. Options validate their argument and return an
// error rather than panicking.
type Option func(*config) error

// Limits bounds every table, buffer and timer of the data path. The zero
// value of a field means its default (DefaultLimits).
type Limits struct {
	// MaxSYNInFlight bounds handshakes the forwarder is deciding about
	// (NewFlow + upstream dial) at once; further SYNs are ignored and the
	// client retransmits.
	MaxSYNInFlight int
	// MaxSYNPerSource bounds in-flight handshakes per client address, so
	// one scanning client cannot use up MaxSYNInFlight.
	MaxSYNPerSource int
	// MaxSYNPerPrefix bounds in-flight handshakes per source /24 (IPv6
	// /64); reaching it also switches the stack to validating clients
	// first (synflood.go).
	MaxSYNPerPrefix int
	// SYNPressure is the number of handshakes in flight at which the
	// stack stops dialling upstream before the client's handshake and
	// validates clients with SYN cookies first (synflood.go). It is also
	// the most spoofed SYNs dialled upstream before the switch.
	SYNPressure int
	// ValidateAlways completes every client's handshake before the
	// upstream is dialled, not only under SYN pressure: no SYN that never
	// completes a handshake (a spoofed one) reaches the server, at the
	// cost of a refused upstream showing as a reset after the client's
	// connect instead of a refused connect (synflood.go). Under pressure
	// the stack still switches to SYN cookies.
	ValidateAlways bool
	// SYNCookieRate bounds the SYNs a second answered with a SYN cookie
	// while validating first; the rest are dropped by the packet guard.
	// Half of it is kept for sources that completed a handshake in the
	// last 10 minutes, a quarter for retransmitted SYNs (synflood.go).
	SYNCookieRate int
	// MaxFlows bounds the flow table (TCP and UDP together).
	MaxFlows int
	// MaxUDPSessions bounds live UDP sessions.
	MaxUDPSessions int
	// MaxGuardEntries bounds the block list and blackhole table each.
	MaxGuardEntries int
	// DialTimeout bounds the upstream dial done before the client's
	// handshake completes.
	DialTimeout time.Duration
	// HandshakeTimeout bounds how long the stack waits for a client to
	// complete its handshake (half-open state) after its SYN was answered.
	HandshakeTimeout time.Duration
	// IdleTimeout ends a TCP flow with no bytes either way for this long.
	IdleTimeout time.Duration
	// UDPIdleTimeout ends a UDP session with no datagram for this long.
	UDPIdleTimeout time.Duration
	// DNSIdleTimeout replaces UDPIdleTimeout for sessions to port 53: a
	// DNS exchange is one datagram each way, and a resolver opens one
	// session per query.
	DNSIdleTimeout time.Duration
	// BlackholeTTL is how long a dropped flow's packets stay dropped.
	BlackholeTTL time.Duration
	// TimeWait is gVisor's TIME_WAIT duration for the client legs.
	TimeWait time.Duration
	// RelayBuffer is the size of one read in the relay, per direction.
	RelayBuffer int
	// HoldLimit bounds the bytes a flow handler keeps unsent with Hold,
	// per direction of a flow.
	HoldLimit int
	// HoldFailOpen forwards the held bytes of a direction that reached
	// HoldLimit (or ended) without a decision and keeps inspecting; by
	// default such a flow is rejected, since its bytes were never decided.
	HoldFailOpen bool
	// TCPSendBuffer sizes gVisor's per-endpoint send buffers.
	TCPSendBuffer int
	// TCPReceiveBuffer is the largest per-endpoint receive buffer. Each
	// starts at 256 KiB (or this, if smaller) and grows by receive-buffer
	// moderation only while the relay drains it at the rate it arrives.
	TCPReceiveBuffer int
}

// DefaultLimits are the limits New uses for fields left zero.
var DefaultLimits = Limits{
	MaxSYNInFlight:  1024,
	MaxSYNPerSource: 64,
	MaxSYNPerPrefix: 256,
	// A legitimate handshake is in flight for one dial and one RTT
	// (about a millisecond here), a spoofed one for HandshakeTimeout:
	// 64 in flight is 64,000 legitimate connects/s, or 16 spoofed SYNs/s.
	SYNPressure: 64,
	// Answering a SYN with a cookie cost about 18 us of CPU here
	// (tests/bench/synflood.sh, perf): 20,000 a second is a third of a
	// core, which leaves the rest for the packets of established flows.
	SYNCookieRate:   20000,
	MaxFlows:        65536,
	MaxUDPSessions:  16384,
	MaxGuardEntries: 65536,
	DialTimeout:     5 * time.Second,
	// gVisor retransmits a SYN-ACK with a doubling RTO from 1 s until the
	// RTO passes 60 s: 127 s in SYN-RCVD for a client that never answers,
	// which is what a spoofed SYN is; 1,200 spoofed SYNs held every
	// in-flight slot for that long. 4 s still answers a client whose
	// first two SYN-ACKs were lost (sent at 0, 1 and 3 s).
	HandshakeTimeout: 4 * time.Second,
	IdleTimeout:      5 * time.Minute,
	UDPIdleTimeout:   60 * time.Second,
	DNSIdleTimeout:   5 * time.Second,
	BlackholeTTL:     2 * time.Minute,
	// gVisor's default TIME_WAIT is 60 s. The client leg enters TIME_WAIT
	// whenever gVisor closes first, and a new SYN on the same 4-tuple is
	// then silently dropped (only listeners see such SYNs); the prototype
	// fell to 4-341 connects/s with 60 s and reached 4,253/s with 100 ms
	// (ARCHITECTURE.md, "Connection rate").
	TimeWait: 100 * time.Millisecond,
	// 32 KiB per read per direction: two pooled buffers per active flow,
	// none held by an idle flow (reads borrow a buffer only once data is
	// ready).
	RelayBuffer: 32 << 10,
	// A ClientHello with post-quantum key shares is 1.5-2 KiB, a request
	// head with cookies a few KiB; browsers cap heads near 16 KiB
	// (identity's own bound). 64 KiB leaves room, and is what one held
	// direction may cost beyond its read buffer.
	HoldLimit: 64 << 10,
	// gVisor defaults to 1 MiB send and ~1 MiB receive buffers. A fixed
	// 256 KiB receive buffer capped one stream through the TUN at 4.2
	// Gbit/s, 1 MiB at 5.5 and 4 MiB at 7.1 (tests/bench/throughput.sh,
	// medians of 3): the window, not the CPU, was the limit, and every
	// read of a full buffer cost an extra window-update ACK. So receive
	// buffers start at 256 KiB and grow with moderation up to 4 MiB
	// (8.1 Gbit/s), like Linux's tcp_rmem: only flows whose relay keeps
	// up with a fast sender grow; idle flows hold no buffer at all. The
	// send buffer stays small: it fills only as fast as the upstream leg
	// delivers, and 10k flows x 4 MiB would be 40 GiB of worst case.
	TCPSendBuffer:    256 << 10,
	TCPReceiveBuffer: 4 << 20,
}

func (l *Limits) fill() {
	d := DefaultLimits
	setI := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setD := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	setI(&l.MaxSYNInFlight, d.MaxSYNInFlight)
	setI(&l.MaxSYNPerSource, d.MaxSYNPerSource)
	setI(&l.MaxSYNPerPrefix, d.MaxSYNPerPrefix)
	setI(&l.SYNPressure, d.SYNPressure)
	setI(&l.SYNCookieRate, d.SYNCookieRate)
	setI(&l.MaxFlows, d.MaxFlows)
	setI(&l.MaxUDPSessions, d.MaxUDPSessions)
	setI(&l.MaxGuardEntries, d.MaxGuardEntries)
	setD(&l.DialTimeout, d.DialTimeout)
	setD(&l.HandshakeTimeout, d.HandshakeTimeout)
	setD(&l.IdleTimeout, d.IdleTimeout)
	setD(&l.UDPIdleTimeout, d.UDPIdleTimeout)
	setD(&l.DNSIdleTimeout, d.DNSIdleTimeout)
	setD(&l.BlackholeTTL, d.BlackholeTTL)
	setD(&l.TimeWait, d.TimeWait)
	setI(&l.RelayBuffer, d.RelayBuffer)
	setI(&l.HoldLimit, d.HoldLimit)
	setI(&l.TCPSendBuffer, d.TCPSendBuffer)
	setI(&l.TCPReceiveBuffer, d.TCPReceiveBuffer)
}

func (l *Limits) validate() error {
	for name, v := range map[string]int{
		"MaxSYNInFlight": l.MaxSYNInFlight, "MaxSYNPerSource": l.MaxSYNPerSource, "MaxFlows": l.MaxFlows,
		"MaxSYNPerPrefix": l.MaxSYNPerPrefix, "SYNPressure": l.SYNPressure, "SYNCookieRate": l.SYNCookieRate,
		"MaxUDPSessions": l.MaxUDPSessions, "MaxGuardEntries": l.MaxGuardEntries, "RelayBuffer": l.RelayBuffer,
		"HoldLimit":     l.HoldLimit,
		"TCPSendBuffer": l.TCPSendBuffer, "TCPReceiveBuffer": l.TCPReceiveBuffer,
	} {
		if v < 0 {
			return fmt.Errorf("netstack: limit %s = %d: must not be negative", name, v)
		}
	}
	if l.RelayBuffer < 1024 {
		return fmt.Errorf("netstack: limit RelayBuffer = %d: below 1024", l.RelayBuffer)
	}
	if l.TCPSendBuffer < 4096 || l.TCPReceiveBuffer < 4096 {
		return fmt.Errorf("netstack: TCP buffers %d/%d: below 4096", l.TCPSendBuffer, l.TCPReceiveBuffer)
	}
	return nil
}

type config struct {
	link     stack.LinkEndpoint
	upstream stack.LinkEndpoint
	nicName  string
	handler  Handler
	dialer   Dialer
	limits   Limits
	reg      prometheus.Registerer
	log      *slog.Logger
	identity func(src netip.Addr) Identity
	synHook  func(SYNModeChange)
}

// WithLink sets the client-facing link (TUN, WireGuard bridge, pipe). It
// carries bare IP packets. Required.
func WithLink(ep stack.LinkEndpoint) Option {
	return func(c *config) error {
		if ep == nil {
			return errors.New("netstack: WithLink: nil link endpoint")
		}
		c.link = ep
		return nil
	}
}

// WithNICName names the client-facing NIC (FlowInfo.NIC, EVE in_iface).
func WithNICName(name string) Option {
	return func(c *config) error { c.nicName = name; return nil }
}

// WithUpstreamLink attaches a second NIC for the upstream leg. When no
// dialer is given, the stack then dials upstream through this NIC with
// the client's source address (Stack.TransparentDialer).
func WithUpstreamLink(ep stack.LinkEndpoint) Option {
	return func(c *config) error {
		if ep == nil {
			return errors.New("netstack: WithUpstreamLink: nil link endpoint")
		}
		c.upstream = ep
		return nil
	}
}

// WithHandler sets the flow handler (policy and inspection). Default:
// PassAll.
func WithHandler(h Handler) Option {
	return func(c *config) error {
		if h == nil {
			return errors.New("netstack: WithHandler: nil handler")
		}
		c.handler = h
		return nil
	}
}

// WithDialer sets the upstream dialer. Default: the transparent dialer if
// an upstream link is set, else DirectDialer.
func WithDialer(d Dialer) Option {
	return func(c *config) error {
		if d == nil {
			return errors.New("netstack: WithDialer: nil dialer")
		}
		c.dialer = d
		return nil
	}
}

// WithLimits sets the bounds; zero fields keep their defaults.
func WithLimits(l Limits) Option {
	return func(c *config) error {
		l.fill()
		if err := l.validate(); err != nil {
			return err
		}
		c.limits = l
		return nil
	}
}

// WithMetrics registers the stack's metrics on reg. Without it metrics are
// kept but not exported.
func WithMetrics(reg prometheus.Registerer) Option {
	return func(c *config) error {
		if reg == nil {
			return errors.New("netstack: WithMetrics: nil registerer")
		}
		c.reg = reg
		return nil
	}
}

// WithLogger sets the logger. Default: slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("netstack: WithLogger: nil logger")
		}
		c.log = l
		return nil
	}
}

// WithIdentity sets the function that finds the identity of a client
// address (FlowInfo.Identity): a WireGuard peer by its allowed IPs or a
// configured source prefix. It runs once per new flow and must return a
// nil interface, not a typed nil, when no identity holds the address.
func WithIdentity(f func(src netip.Addr) Identity) Option {
	return func(c *config) error { c.identity = f; return nil }
}

// tcpInitialReceiveBuffer is where every receive buffer starts before
// moderation grows it (Limits.TCPReceiveBuffer).
const tcpInitialReceiveBuffer = 256 << 10

// WithSYNModeHook sets a function called on every switch between
// DialFirst and ValidateFirst (the appliance writes it to EVE). It runs
// on the goroutine that noticed the change and must not block.
func WithSYNModeHook(f func(SYNModeChange)) Option {
	return func(c *config) error { c.synHook = f; return nil }
}

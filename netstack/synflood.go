package netstack

import (
	"fmt"
	"hash/maphash"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// SYN-flood resilience.
//
// Normally the stack dials upstream first and completes the client's
// handshake only then, so a refused or unreachable upstream is mirrored
// to the client. But every SYN then costs an upstream connection and a
// slot held while the SYN-ACK is retransmitted: a spoofed SYN flood
// both starves legitimate clients and is amplified onto the protected
// server. So when the handshakes in flight reach Limits.SYNPressure, or
// a source prefix reaches its bound, the stack switches to validating
// clients first: each destination port that receives SYNs gets a gVisor
// listener that answers with SYN cookies (no state per SYN), and only a
// client that completed its handshake is dialled upstream; if that dial
// fails the client is reset. SYNs that still reach the forwarder (queued
// before the switch, or to ports beyond maxCookieListeners) are ignored
// until the mode ends: nothing unvalidated is dialled. The mode ends once the cookies answered no
// longer account for the pressure (synCalmPeriods in a row).
//
// A flood faster than the stack can answer with cookies would still
// overflow the link's queue, and then the ACKs and data of validated
// clients are lost with the SYNs. So the guard admits at most
// Limits.SYNCookieRate new SYNs a second to the cookie listeners and
// drops the rest before gVisor sees them (a few microseconds each);
// spoofed sources and real clients are alike in a first SYN, but only a
// real client retransmits it, so a SYN whose 4-tuple was refused in the
// last synRetransWindow is a retransmission, admitted by a bucket of its
// own. A real client then connects at its first SYN retransmission (1 s
// on Linux) at worst.
//
// That second is what a flood costs every connect it catches: against
// hping3's 150,000 spoofed SYNs a second the first SYN of a real client
// met the first-SYN bucket 7% of the time, and 2-11% of the connects of
// tests/bench/synflood.sh took over a second or failed. A source that
// completed a handshake (in either mode) has shown that it receives
// what is sent to it, which a spoofed source cannot, so it is
// remembered for knownSourceTTL and its SYNs take a bucket of their
// own: first SYNs from unknown sources cannot drain it. Only a sender
// that forges the address of a known client gets in there, and then it
// competes with known clients alone, within the same total rate.
//
// The trade-off, during pressure only: a refused upstream shows as a
// reset after the handshake instead of a refused connect; a client that
// never sends data still costs one upstream dial after its handshake;
// and a SYN cookie cannot carry the window scale, so those connections
// are limited to a 64 KiB window (gVisor's cookies keep MSS and
// timestamps). Up to Limits.SYNPressure spoofed SYNs are dialled before
// the switch (SYNPressure - 1, precisely). Limits.ValidateAlways trades
// the mirrored refusal for none: every client completes a (stateful,
// full-window) handshake before the dial, in normal operation too, and
// the switch to cookies under pressure stays as it is.

// SYNMode is how the stack answers new TCP connections.
type SYNMode int

const (
	// DialFirst: dial upstream, then complete the client's handshake.
	DialFirst SYNMode = iota
	// ValidateFirst: SYN cookies first, then dial the validated client.
	ValidateFirst
)

func (m SYNMode) String() string {
	if m == ValidateFirst {
		return "validate_first"
	}
	return "dial_first"
}

// SYNModeChange reports a switch of SYNMode, for the appliance's EVE
// log (WithSYNModeHook).
type SYNModeChange struct {
	Mode   SYNMode
	Reason string
	At     time.Time
	// InFlight is the number of handshakes in flight at the switch.
	InFlight int
}

const (
	// synCheckPeriod is how often the pressure is re-evaluated while
	// validating first.
	synCheckPeriod = 500 * time.Millisecond
	// synCalmPeriods is how many calm checks in a row end the mode: a
	// flood with pauses shorter than this does not flip it back and
	// forth.
	synCalmPeriods = 4
	// maxCookieListeners bounds the listening endpoints of the mode: a
	// flood spread over every port gets cookies on the first 1024; new
	// connections to the others wait until the mode ends.
	maxCookieListeners = 1024
	// cookieBacklog is each cookie listener's accept queue; gVisor drops
	// the validating ACK when it is full and the client retransmits it.
	cookieBacklog = 1024
	// synDrainPeriod and synDrainMax bound the drain of an ended mode's
	// listeners (drainListeners): they stay open, with new SYNs kept from
	// them, while the ACKs answering cookies sent just before still
	// arrive and until each listener has handled its queue; closing a
	// listener earlier reset the clients in its queue. SYNs dropped
	// meanwhile are retransmitted to the forwarder. A normal build drains
	// in one period; under -race on a loaded 2-core machine a listener's
	// queue ran up to 5 s behind (a burst's handshakes, then each
	// client's first window of data waiting to be redirected).
	synDrainPeriod = time.Second
	synDrainMax    = 15 * time.Second
	// cookieListenerAccount is a cookie listener's receive buffer: see
	// cookieListener. Below 2^31, the size of gVisor's account.
	cookieListenerAccount = 1 << 30
)

const (
	// knownSourceTTL is how long a source that completed a handshake
	// keeps its SYNs in the known sources' bucket: long enough to span
	// a flood, short enough that an address given to someone else
	// loses it soon.
	knownSourceTTL = 10 * time.Minute
	// knownSourceSlots is the size of the table of known sources (512
	// KiB). Two sources hashed to one slot evict each other; the one
	// evicted goes back to the unknown sources' buckets until its next
	// handshake.
	knownSourceSlots = 1 << 16
)

// synRetransWindow is how old a refused SYN may be for its 4-tuple's
// next SYN to count as a retransmission: Linux retransmits at 1, 3 and
// 7 s. The lower bound keeps a sender that repeats each SYN at once from
// passing as a client that waited for its retransmission timer.
const (
	synRetransMin    = 500 * time.Millisecond
	synRetransWindow = 8 * time.Second
	// recentSYNSlots is the size of the table of refused SYNs (8 MiB).
	// With one slot per 4-tuple, 186,000 spoofed SYNs/s overwrote a real
	// SYN's entry before its 1 s retransmission 17% of the time (3.4% of
	// the connects of tests/bench/synflood.sh failed); hence two.
	recentSYNSlots = 1 << 20
)

// recentSYNs remembers refused SYNs, without locks: a slot holds 40 bits
// of the 4-tuple's hash and the time in 10 ms ticks (24 bits, 46 hours
// before it wraps; ages are computed modulo).
type recentSYNs struct {
	seed  maphash.Seed
	slots []atomic.Uint64
}

func newRecentSYNs() *recentSYNs {
	return &recentSYNs{seed: maphash.MakeSeed(), slots: make([]atomic.Uint64, recentSYNSlots)}
}

func (r *recentSYNs) hash(p *parsed) uint64 {
	var h maphash.Hash
	h.SetSeed(r.seed)
	a, b := p.src.As16(), p.dst.As16()
	_, _ = h.Write(a[:])
	_, _ = h.Write(b[:])
	_ = h.WriteByte(byte(p.sport >> 8))
	_ = h.WriteByte(byte(p.sport))
	_ = h.WriteByte(byte(p.dport >> 8))
	_ = h.WriteByte(byte(p.dport))
	return h.Sum64()
}

const tickMask = 1<<24 - 1

// retransmission reports whether p's 4-tuple was refused between
// synRetransMin and synRetransWindow ago; otherwise it records p as
// refused now. A 4-tuple has two candidate slots and is recorded in the
// one holding the older entry, so a flood must overwrite both to make a
// real client's retransmission look like a first SYN.
func (r *recentSYNs) retransmission(p *parsed, now time.Time) bool {
	h := r.hash(p)
	tick := ticks(now)
	tag := h >> 24 << 24
	slots := [2]*atomic.Uint64{&r.slots[h&(recentSYNSlots-1)], &r.slots[(h>>20)&(recentSYNSlots-1)]}
	var oldest *atomic.Uint64
	oldestAge := uint64(0)
	for _, slot := range slots {
		v := slot.Load()
		age := (tick - v) & tickMask
		if v&^tickMask == tag {
			d := time.Duration(age) * 10 * time.Millisecond
			if d >= synRetransMin && d <= synRetransWindow {
				slot.Store(0)
				return true
			}
			if d < synRetransMin {
				return false // a repeat, not a retransmission: keep the first time
			}
		}
		if v == 0 || oldest == nil || age > oldestAge {
			oldest, oldestAge = slot, age
			if v == 0 {
				oldestAge = tickMask + 1
			}
		}
	}
	oldest.Store(tag | tick)
	return false
}

// knownSources remembers the source addresses that completed a
// handshake, without locks: a slot holds 40 bits of the address's hash
// and the time in 10 ms ticks, as recentSYNs does. Only completed
// handshakes write to it, so a flood of spoofed sources cannot evict
// a known one.
type knownSources struct {
	seed  maphash.Seed
	slots []atomic.Uint64
}

func newKnownSources() *knownSources {
	return &knownSources{seed: maphash.MakeSeed(), slots: make([]atomic.Uint64, knownSourceSlots)}
}

func (k *knownSources) slot(a netip.Addr) (*atomic.Uint64, uint64) {
	b := a.As16()
	h := maphash.Bytes(k.seed, b[:])
	return &k.slots[h&(knownSourceSlots-1)], h >> 24 << 24
}

func ticks(now time.Time) uint64 {
	return uint64(now.UnixNano()/int64(10*time.Millisecond)) & tickMask
}

// add records that a completed a handshake now.
func (k *knownSources) add(a netip.Addr, now time.Time) {
	slot, tag := k.slot(a)
	slot.Store(tag | ticks(now))
}

// known reports whether a completed a handshake in the last
// knownSourceTTL.
func (k *knownSources) known(a netip.Addr, now time.Time) bool {
	slot, tag := k.slot(a)
	v := slot.Load()
	if v == 0 || v&^tickMask != tag {
		return false
	}
	age := (ticks(now) - v) & tickMask
	return time.Duration(age)*10*time.Millisecond <= knownSourceTTL
}

type listenerKey struct {
	v6   bool
	port uint16
}

// synState counts the handshakes the forwarder is deciding about, per
// source and per source prefix, and holds the mode.
type synState struct {
	mu        sync.Mutex
	inFlight  int
	perSrc    map[netip.Addr]int
	perPrefix map[netip.Prefix]int
	mode      SYNMode
	// listeners are the cookie listeners, by network and port; lmu
	// guards the map for the packet path, which reads it for every SYN.
	// draining are the listeners of a mode that just ended, closed after
	// synDrainPeriod.
	lmu       sync.RWMutex
	listeners map[listenerKey]tcpip.Endpoint
	draining  map[listenerKey]tcpip.Endpoint
	// forwarding holds the 4-tuples (FiveTuple) the forwarder is deciding
	// about.
	forwarding sync.Map
	// knownSYNs, firstSYNs and retransSYNs bound the SYNs let through
	// to the cookie listeners; known tells the sources that completed a
	// handshake, recent tells retransmissions from first SYNs.
	knownSYNs, firstSYNs, retransSYNs *rate.Limiter
	known                             *knownSources
	recent                            *recentSYNs
	// cookiesSent and cookiesOK are gVisor's counters at the last check.
	cookiesSent, cookiesOK uint64
	calm                   int
	// freed is closed (and replaced) by synRelease while validated
	// clients wait for a slot (waiting > 0): see synAcquireValidated.
	freed   chan struct{}
	waiting int
}

// drainingPort reports whether p is bound for a listener being drained.
func (s *Stack) drainingPort(p *parsed) bool {
	st := s.syn
	st.lmu.RLock()
	defer st.lmu.RUnlock()
	_, ok := st.draining[listenerKey{v6: p.dst.Is6(), port: p.dport}]
	return ok
}

func newSYNState(l Limits) *synState {
	// Half the rate for known sources, a quarter each for first SYNs
	// and retransmissions from unknown ones: together they stay within
	// SYNCookieRate, and a flood of first SYNs can take neither the
	// known clients' budget nor that of the real clients'
	// retransmissions.
	r := rate.Limit(l.SYNCookieRate) / 4
	burst := max(1, l.SYNCookieRate/40)
	return &synState{
		perSrc:      make(map[netip.Addr]int),
		perPrefix:   make(map[netip.Prefix]int),
		listeners:   make(map[listenerKey]tcpip.Endpoint),
		draining:    make(map[listenerKey]tcpip.Endpoint),
		knownSYNs:   rate.NewLimiter(2*r, 2*burst),
		firstSYNs:   rate.NewLimiter(r, burst),
		retransSYNs: rate.NewLimiter(r, burst),
		known:       newKnownSources(),
		recent:      newRecentSYNs(),
		freed:       make(chan struct{}),
	}
}

// admitSYN decides, while validating first, whether a SYN goes on to
// the cookie listeners (see the comment at the top of this file).
func (s *Stack) admitSYN(p *parsed, now time.Time) bool {
	st := s.syn
	if st.known.known(p.src, now) {
		if st.knownSYNs.AllowN(now, 1) {
			return true
		}
	} else if st.recent.retransmission(p, now) {
		if st.retransSYNs.AllowN(now, 1) {
			return true
		}
	} else if st.firstSYNs.AllowN(now, 1) {
		return true
	}
	s.m.synCookieRate.Inc()
	return false
}

// synPrefix is the source prefix a bound applies to: /24 for IPv4, /64
// for IPv6 (one site's LAN; a spoofer varies the host bits freely).
func synPrefix(a netip.Addr) netip.Prefix {
	bits := 24
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// synAcquire admits one handshake from src, or returns the label of the
// bound it hit.
func (s *Stack) synAcquire(src netip.Addr) (reason string, ok bool) {
	l := s.cfg.limits
	pfx := synPrefix(src)
	st := s.syn
	st.mu.Lock()
	switch {
	case st.perSrc[src] >= l.MaxSYNPerSource:
		st.mu.Unlock()
		return "per_source", false
	case st.perPrefix[pfx] >= l.MaxSYNPerPrefix:
		st.mu.Unlock()
		s.enterValidateFirst(fmt.Sprintf("source prefix %s reached %d handshakes in flight", pfx, l.MaxSYNPerPrefix))
		return "per_prefix", false
	}
	st.perSrc[src]++
	st.perPrefix[pfx]++
	st.inFlight++
	n := st.inFlight
	st.mu.Unlock()
	if n >= l.SYNPressure {
		s.enterValidateFirst(fmt.Sprintf("%d handshakes in flight (threshold %d)", n, l.SYNPressure))
	}
	return "", true
}

// synAcquireValidated is synAcquire for a client a SYN cookie validated.
// Its handshake is complete, so it cannot be dropped to retransmit its
// SYN as a client over a bound is in dial-first mode: refusing it now
// resets a legitimate client (the resets of TestConcurrentFlows under
// SYN pressure: one address opening more connections at once than
// MaxSYNPerSource). So it waits for a slot of its source, up to
// DialTimeout; the bound still caps the upstream dials in flight per
// source, and a spoofed source never gets this far.
func (s *Stack) synAcquireValidated(src netip.Addr) (reason string, ok bool) {
	st := s.syn
	var deadline <-chan time.Time
	for {
		st.mu.Lock()
		freed := st.freed
		st.waiting++
		st.mu.Unlock()
		reason, ok = s.synAcquire(src)
		if !ok && deadline == nil {
			t := time.NewTimer(s.cfg.limits.DialTimeout)
			defer t.Stop()
			deadline = t.C
		}
		expired := false
		if !ok {
			select {
			case <-freed:
			case <-deadline:
				expired = true
			case <-s.ctx.Done():
				expired = true
			}
		}
		st.mu.Lock()
		st.waiting--
		st.mu.Unlock()
		if ok || expired {
			return reason, ok
		}
	}
}

func (s *Stack) synRelease(src netip.Addr) {
	pfx := synPrefix(src)
	st := s.syn
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.waiting > 0 {
		close(st.freed)
		st.freed = make(chan struct{})
	}
	st.inFlight--
	if n := st.perSrc[src]; n <= 1 {
		delete(st.perSrc, src)
	} else {
		st.perSrc[src] = n - 1
	}
	if n := st.perPrefix[pfx]; n <= 1 {
		delete(st.perPrefix, pfx)
	} else {
		st.perPrefix[pfx] = n - 1
	}
}

// SYNMode returns the current mode.
func (s *Stack) SYNMode() SYNMode {
	s.syn.mu.Lock()
	defer s.syn.mu.Unlock()
	return s.syn.mode
}

func (s *Stack) enterValidateFirst(reason string) {
	st := s.syn
	st.mu.Lock()
	if st.mode == ValidateFirst {
		st.mu.Unlock()
		return
	}
	st.mode = ValidateFirst
	st.calm = 0
	tcpStats := s.gs.Stats().TCP
	st.cookiesSent, st.cookiesOK = tcpStats.ListenOverflowSynCookieSent.Value(), tcpStats.ListenOverflowSynCookieRcvd.Value()
	ch := SYNModeChange{Mode: ValidateFirst, Reason: reason, At: time.Now(), InFlight: st.inFlight}
	// Before the unlock: a forwarder goroutine past the threshold that
	// finds the mode already switched returns at once and must then see
	// validating, or it dials (a ninth spoofed dial at a threshold of 8
	// in one -race run of TestSYNFloodValidatesFirst).
	s.validating.Store(true)
	st.mu.Unlock()
	s.modeChanged(ch)
	if s.enter() {
		go s.watchPressure()
	}
}

// watchPressure ends ValidateFirst once the SYNs answered with a cookie
// and never validated would, in DialFirst, hold fewer than half of
// SYNPressure slots: each such SYN held a slot for HandshakeTimeout.
func (s *Stack) watchPressure() {
	defer s.leave()
	t := time.NewTicker(synCheckPeriod)
	defer t.Stop()
	l := s.cfg.limits
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		tcpStats := s.gs.Stats().TCP
		sent, ok := tcpStats.ListenOverflowSynCookieSent.Value(), tcpStats.ListenOverflowSynCookieRcvd.Value()
		st := s.syn
		st.mu.Lock()
		unanswered := float64(sent-st.cookiesSent) - float64(ok-st.cookiesOK)
		st.cookiesSent, st.cookiesOK = sent, ok
		wouldHold := unanswered / synCheckPeriod.Seconds() * l.HandshakeTimeout.Seconds()
		if wouldHold < float64(l.SYNPressure)/2 && st.inFlight < l.SYNPressure/2 {
			st.calm++
		} else {
			st.calm = 0
		}
		if st.calm < synCalmPeriods {
			st.mu.Unlock()
			continue
		}
		st.mode = DialFirst
		st.lmu.Lock()
		for k, ep := range st.listeners {
			st.draining[k] = ep
		}
		st.listeners = make(map[listenerKey]tcpip.Endpoint)
		st.lmu.Unlock()
		ch := SYNModeChange{Mode: DialFirst, Reason: fmt.Sprintf("calm for %v", synCalmPeriods*synCheckPeriod), At: time.Now(), InFlight: st.inFlight}
		st.mu.Unlock()
		s.draining.Store(true)
		s.validating.Store(false)
		s.modeChanged(ch)
		s.closeDrained()
		return
	}
}

// closeDrained closes the listeners of an ended mode once drainListeners
// found them idle. They close while their ports are still kept from new
// SYNs: a SYN that meets a closing listener is answered with RST.
// Closing also resets what is still in a listener's accept queue, so
// the queue is taken here first, whether or not its accept loop was
// scheduled in time.
func (s *Stack) closeDrained() {
	st := s.syn
	st.lmu.RLock()
	keys := make([]listenerKey, 0, len(st.draining))
	for k := range st.draining {
		keys = append(keys, k)
	}
	st.lmu.RUnlock()
	if busy := s.drainListeners(keys); busy > 0 && s.ctx.Err() == nil {
		s.log.Warn("SYN cookie listeners still busy after the drain; closing them may reset clients whose handshakes they have not handled yet",
			"listeners", busy, "waited", synDrainMax)
	}
	st.lmu.Lock()
	defer st.lmu.Unlock()
	for k, ep := range st.draining {
		s.acceptQueued(ep)
		s.guard.quietPort.Store(uint32(k.port) + 1)
		ep.Close()
	}
	s.guard.quietPort.Store(0)
	st.draining = make(map[listenerKey]tcpip.Endpoint)
	s.draining.Store(false)
}

// drainListeners waits, up to synDrainMax, until the listeners of keys
// have handled every handshake sent to them, and returns how many did
// not answer their last probe. Each round waits a synDrainPeriod for
// the ACKs answering cookies sent so far, until a period passes with no
// cookie sent or validated; then it probes every listener
// (listener_probe.go), which proves that all queued before was handled.
// Handling a queued SYN sends a cookie whose ACK comes after the probe,
// so a round whose probes saw cookies sent or validated (other than the
// probes' own) is followed by another.
func (s *Stack) drainListeners(keys []listenerKey) (busy int) {
	tcpStats := s.gs.Stats().TCP
	activity := func() uint64 {
		return tcpStats.ListenOverflowSynCookieSent.Value() + tcpStats.ListenOverflowSynCookieRcvd.Value()
	}
	deadline := time.Now().Add(synDrainMax)
	last := activity()
	for {
		select {
		case <-time.After(synDrainPeriod):
		case <-s.ctx.Done():
			return len(keys)
		}
		now := activity()
		inTime := time.Now().Before(deadline)
		if now != last && inTime {
			last = now
			continue
		}
		answered := 0
		for _, k := range keys {
			if s.probeListener(k, deadline) {
				answered++
			}
		}
		busy = len(keys) - answered
		now = activity()
		if now-last <= uint64(answered) || !time.Now().Before(deadline) || !inTime {
			return busy
		}
		last = now
	}
}

func (s *Stack) modeChanged(ch SYNModeChange) {
	s.m.synMode.Set(float64(ch.Mode))
	s.m.synModeChanges.WithLabelValues(ch.Mode.String()).Inc()
	if ch.Mode == ValidateFirst {
		s.log.Warn("SYN pressure: validating clients with SYN cookies before dialling upstream",
			"reason", ch.Reason, "in_flight", ch.InFlight)
	} else {
		s.log.Info("SYN pressure over: dialling upstream before accepting again", "reason", ch.Reason)
	}
	if s.cfg.synHook != nil {
		s.cfg.synHook(ch)
	}
}

// cookieListener makes sure a SYN to p's destination port meets a SYN
// cookie listener while the stack validates first. It runs on the
// packet path, before gVisor demultiplexes the SYN.
func (s *Stack) cookieListener(p *parsed) {
	key := listenerKey{v6: p.dst.Is6(), port: p.dport}
	st := s.syn
	st.lmu.RLock()
	_, ok := st.listeners[key]
	st.lmu.RUnlock()
	if ok {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.mode != ValidateFirst {
		return
	}
	st.lmu.Lock()
	defer st.lmu.Unlock()
	if _, ok := st.listeners[key]; ok || len(st.listeners) >= maxCookieListeners {
		return
	}
	if ep, ok := st.draining[key]; ok {
		// The mode came back before the last one's listener closed.
		delete(st.draining, key)
		st.listeners[key] = ep
		return
	}
	netProto := header.IPv4ProtocolNumber
	if key.v6 {
		netProto = header.IPv6ProtocolNumber
	}
	wq := new(waiter.Queue)
	ep, err := s.gs.NewEndpoint(tcp.ProtocolNumber, netProto, wq)
	if err != nil {
		s.log.Error("SYN cookie listener", "port", key.port, "err", err)
		return
	}
	// SO_REUSEPORT: the port is already reserved, per 4-tuple, by the
	// client legs of live flows to it.
	ep.SocketOptions().SetReusePort(true)
	// gVisor charges every segment queued to a listener to its receive
	// buffer and drops segments with data while it is over. A client's
	// first data often reaches the listener before the ACK that creates
	// its connection was processed; the listener then hands the segment
	// to the new connection, but never takes its size off its own
	// account (gVisor's segment changes owner without a refund). So the
	// account only grows, and once it passed the default 256 KiB every
	// such first data segment was dropped and resent by the client after
	// 200 ms (the 200 ms exchanges of tests/bench/synflood.sh, even with
	// a flood of 1,000 SYNs a second). With 4 MiB, 1% of the exchanges
	// of a 30 s flood still took 200 ms. The account is only a number
	// (a listener holds no data), so it gets cookieListenerAccount,
	// which a million such segments would not fill.
	ep.SocketOptions().SetReceiveBufferSize(cookieListenerAccount, true)
	if err := ep.Bind(tcpip.FullAddress{NIC: clientNIC, Port: key.port}); err != nil {
		ep.Close()
		s.log.Error("SYN cookie listener: bind", "port", key.port, "err", err)
		return
	}
	if err := ep.Listen(cookieBacklog); err != nil {
		ep.Close()
		s.log.Error("SYN cookie listener: listen", "port", key.port, "err", err)
		return
	}
	if !s.enter() {
		ep.Close()
		return
	}
	st.listeners[key] = ep
	go s.acceptLoop(ep, wq)
}

// acceptLoop takes the validated clients of one cookie listener until it
// is closed.
func (s *Stack) acceptLoop(ln tcpip.Endpoint, wq *waiter.Queue) {
	defer s.leave()
	entry, ch := waiter.NewChannelEntry(waiter.ReadableEvents | waiter.EventHUp | waiter.EventErr)
	wq.EventRegister(&entry)
	defer wq.EventUnregister(&entry)
	for {
		if !s.acceptQueued(ln) {
			return
		}
		select {
		case <-ch:
		case <-s.ctx.Done():
			ln.Close()
			return
		}
	}
}

// acceptQueued hands every connection in ln's accept queue to
// handleValidated; false once ln is closed or the stack is closing.
func (s *Stack) acceptQueued(ln tcpip.Endpoint) bool {
	for {
		ep, epWQ, err := ln.Accept(nil)
		if _, wouldBlock := err.(*tcpip.ErrWouldBlock); wouldBlock {
			return true
		}
		if err != nil {
			return false
		}
		if !s.enter() {
			ep.Abort()
			return false
		}
		go func() {
			defer s.leave()
			s.handleValidated(ep, epWQ)
		}()
	}
}

package netstack

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// handleTCP decides about one SYN: policy first, then the upstream dial,
// and only then the client's handshake, so a refused upstream is mirrored
// to the client as RST. With Limits.ValidateAlways the handshake comes
// before the dial, and a refused upstream resets the connected client.
// The request is completed exactly once.
func (s *Stack) handleTCP(req *tcp.ForwarderRequest) {
	_ = preGrowStack()
	if !s.enter() {
		req.Complete(false)
		return
	}
	defer s.leave()

	completed := false
	complete := func(rst bool) {
		if !completed {
			completed = true
			req.Complete(rst)
		}
	}
	defer complete(false)

	t := normTuple(tupleOf(TCP, req.ID()))
	if reason, ok := s.synAcquire(t.Src.Addr()); !ok {
		s.m.synDropped.WithLabelValues(reason).Inc()
		return // silence: the client retransmits the SYN
	}
	// While the forwarder decides, a retransmission of this SYN must not
	// meet a cookie listener (onSYN): two handshakes for one 4-tuple
	// reset the client's connection when the second SYN-ACK arrives.
	s.syn.forwarding.Store(t, struct{}{})
	held := true
	release := func() {
		if held {
			held = false
			s.syn.forwarding.Delete(t)
			s.synRelease(t.Src.Addr())
		}
	}
	defer release()

	if s.validating.Load() {
		// The SYN reached the forwarder before the switch to
		// ValidateFirst (or its port has no cookie listener): no dial for
		// an unvalidated client. A real one retransmits its SYN, which
		// meets the cookie listener.
		s.m.synDropped.WithLabelValues("validating").Inc()
		return
	}
	info, fh, v := s.admitTCP(t)
	if v.Terminal() {
		// Drop: the guard now blackholes the tuple, the client hears
		// nothing.
		complete(v != Drop)
		return
	}
	var up net.Conn
	if !s.cfg.limits.ValidateAlways {
		var ok bool
		if up, ok = s.dialTCP(info, t, fh); !ok {
			complete(true)
			return
		}
	}

	var wq waiter.Queue
	stop := s.boundHandshake(&wq)
	ep, terr := req.CreateEndpoint(&wq)
	stop()
	if terr != nil {
		// The client went away during the dial, or the handshake failed.
		complete(false)
		if up != nil {
			_ = up.Close()
		}
		s.m.tcp.handshakeFailed()
		fh.Close(FlowStats{Verdict: Continue, Reason: "handshake", End: time.Now()})
		return
	}
	complete(false)
	s.syn.known.add(t.Src.Addr(), time.Now())
	if up == nil {
		// ValidateAlways: the client has shown it receives what is sent
		// to its address; only now is the server asked. The slot stays
		// held through the dial, which bounds dials in flight per source
		// as in dial-first.
		var ok bool
		if up, ok = s.dialTCP(info, t, fh); !ok {
			release()
			ep.Abort()
			return
		}
	}
	release()
	s.relayTCP(info, t, fh, v, ep, &wq, up)
}

// handleValidated takes a client whose handshake a SYN cookie listener
// completed (ValidateFirst): policy, then the upstream dial; a refused
// upstream resets the client.
func (s *Stack) handleValidated(ep tcpip.Endpoint, wq *waiter.Queue) {
	_ = preGrowStack()
	id := ep.Info().(*stack.TransportEndpointInfo).ID
	t := normTuple(tupleOf(TCP, id))
	s.syn.known.add(t.Src.Addr(), time.Now())
	reason, ok := s.synAcquireValidated(t.Src.Addr())
	if !ok {
		s.m.synDropped.WithLabelValues(reason).Inc()
		ep.Abort()
		return
	}
	info, fh, v := s.admitTCP(t)
	if v.Terminal() {
		s.synRelease(t.Src.Addr())
		// Drop: the guard drops the RST, the client hears nothing.
		ep.Abort()
		return
	}
	up, ok := s.dialTCP(info, t, fh)
	s.synRelease(t.Src.Addr())
	if !ok {
		ep.Abort()
		return
	}
	s.relayTCP(info, t, fh, v, ep, wq, up)
}

// admitTCP asks the handler about a new flow. A terminal verdict is
// accounted (and Drop blackholes the tuple) before it is returned; the
// caller only answers the client.
func (s *Stack) admitTCP(t FiveTuple) (*FlowInfo, FlowHandler, Verdict) {
	info := s.newInfo(TCP, t)
	fh, v := s.cfg.handler.NewFlow(info)
	if v.Terminal() {
		if v == Drop {
			_ = s.guard.Blackhole(t, time.Now().Add(s.cfg.limits.BlackholeTTL))
		}
		s.m.tcp.endedWith(v)
		if fh != nil {
			fh.Close(FlowStats{Verdict: v, Reason: "verdict", End: time.Now()})
		}
		return info, fh, v
	}
	if fh == nil {
		fh, v = passFlow{}, Pass
	}
	return info, fh, v
}

// dialTCP dials upstream; on failure it accounts the flow and closes fh.
func (s *Stack) dialTCP(info *FlowInfo, t FiveTuple, fh FlowHandler) (net.Conn, bool) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.limits.DialTimeout)
	up, err := s.cfg.dialer.Dial(ctx, "tcp", t.Src, t.Dst)
	cancel()
	if err != nil {
		s.m.tcp.dialFailed()
		s.log.Debug("upstream dial failed", "flow", info.ID, "tuple", t, "err", err)
		fh.Close(FlowStats{Verdict: Continue, Reason: "dial", End: time.Now()})
		return nil, false
	}
	return up, true
}

// relayTCP publishes the flow of an established client leg and its
// upstream conn and relays it until it ends.
func (s *Stack) relayTCP(info *FlowInfo, t FiveTuple, fh FlowHandler, v Verdict, ep tcpip.Endpoint, wq *waiter.Queue, up net.Conn) {
	// Keep-alive probes detect clients that vanished without FIN/RST; the
	// idle timeout is the backstop.
	ep.SocketOptions().SetKeepAlive(true)

	client := newGVLeg(ep, wq)
	f := s.newTCPFlow(info, t, fh, client, upLeg(up))
	f.admitted(v)
	old, ok := s.flows.add(&f.Flow)
	s.supersede(old)
	if !ok {
		s.m.flowsRejected.WithLabelValues("table_full").Inc()
		client.abort()
		f.upstream.close()
		client.release()
		fh.Close(FlowStats{Verdict: Continue, Reason: "table_full", End: time.Now()})
		return
	}
	s.m.tcp.active.Inc()
	f.run()
}

// boundHandshake makes CreateEndpoint give up on a client that has not
// completed its handshake within Limits.HandshakeTimeout, or when the
// stack closes. gVisor's forwarder blocks in CreateEndpoint until the
// handshake's endpoint signals writability, and then closes it unless it
// is connected, so a notification on its queue is the way to end the
// wait. The notification repeats until stop is called, in case the first
// one came before gVisor registered its waiter.
func (s *Stack) boundHandshake(wq *waiter.Queue) (stop func()) {
	var (
		mu      sync.Mutex
		stopped bool
		t       *time.Timer
	)
	notify := func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		wq.Notify(waiter.WritableEvents)
		t.Reset(250 * time.Millisecond)
	}
	mu.Lock()
	t = time.AfterFunc(s.cfg.limits.HandshakeTimeout, notify)
	mu.Unlock()
	stopCtx := context.AfterFunc(s.ctx, notify)
	return func() {
		mu.Lock()
		stopped = true
		t.Stop()
		mu.Unlock()
		stopCtx()
	}
}

// reopenTimeWait lets a new SYN reopen a 4-tuple whose client leg is in
// TIME_WAIT, as Linux does. gVisor hands such a SYN to the TIME_WAIT
// endpoint, which passes it on only to a listening endpoint; the
// forwarder is none, so the SYN was dropped and the client retried a
// second later, and again until TIME_WAIT ended. The client leg is in
// TIME_WAIT whenever the appliance closed first (the server closed
// first), and a client that runs short of ports picks a port it has just
// released: in tests/bench/throughput.sh's connect loop hundreds of
// connections a second waited the full second. The SYN's sequence
// number is not compared with the old connection's (gVisor does not
// expose it); an old duplicate SYN is implausible on a link that ends in
// this host. Aborting sends an RST for the old connection, which the
// client's new socket (in SYN-SENT) ignores as it does not acknowledge
// its SYN; then the SYN reaches the forwarder like any other.
func (s *Stack) reopenTimeWait(p *parsed) {
	netProto := header.IPv4ProtocolNumber
	if p.dst.Is6() {
		netProto = header.IPv6ProtocolNumber
	}
	id := stack.TransportEndpointID{
		LocalPort: p.dport, LocalAddress: tcpip.AddrFromSlice(p.dst.AsSlice()),
		RemotePort: p.sport, RemoteAddress: tcpip.AddrFromSlice(p.src.AsSlice()),
	}
	ep, ok := s.gs.FindTransportEndpoint(netProto, tcp.ProtocolNumber, id, clientNIC).(*tcp.Endpoint)
	if !ok || ep.EndpointState() != tcp.StateTimeWait {
		return
	}
	s.m.timeWaitReopened.Inc()
	ep.Abort()
}

// onSYN sees every inbound SYN before gVisor demultiplexes it (Guard)
// and reports whether to let it in.
func (s *Stack) onSYN(p *parsed) bool {
	if !s.validating.Load() {
		s.reopenTimeWait(p)
		return !s.draining.Load() || !s.drainingPort(p)
	}
	t := FiveTuple{Proto: TCP, Src: netip.AddrPortFrom(p.src, p.sport), Dst: netip.AddrPortFrom(p.dst, p.dport)}
	if _, ok := s.syn.forwarding.Load(t); ok {
		return false // a retransmission; the forwarder answers it
	}
	if !s.admitSYN(p, time.Now()) {
		return false
	}
	// Only for admitted SYNs: the endpoint lookup cost 8% of the
	// appliance's CPU under a flood when every refused SYN paid it.
	s.reopenTimeWait(p)
	s.cookieListener(p)
	return true
}

package netstack

import (
	"context"
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
// to the client as RST. The request is completed exactly once.
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
	if !s.synAcquire(t.Src.Addr()) {
		s.m.synDropped.WithLabelValues("per_source").Inc()
		return // silence: the client retransmits the SYN
	}
	held := true
	release := func() {
		if held {
			held = false
			s.synRelease(t.Src.Addr())
		}
	}
	defer release()

	info := s.newInfo(TCP, t)
	fh, v := s.cfg.handler.NewFlow(info)
	if v.Terminal() {
		if v == Drop {
			_ = s.guard.Blackhole(t, time.Now().Add(s.cfg.limits.BlackholeTTL))
			complete(false)
		} else {
			complete(true)
		}
		s.m.tcp.endedWith(v)
		if fh != nil {
			fh.Close(FlowStats{Verdict: v, Reason: "verdict", End: time.Now()})
		}
		return
	}
	if fh == nil {
		fh, v = passFlow{}, Pass
	}

	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.limits.DialTimeout)
	up, err := s.cfg.dialer.Dial(ctx, "tcp", t.Src, t.Dst)
	cancel()
	if err != nil {
		s.m.tcp.dialFailed()
		s.log.Debug("upstream dial failed", "flow", info.ID, "tuple", t, "err", err)
		complete(true)
		fh.Close(FlowStats{Verdict: Continue, Reason: "dial", End: time.Now()})
		return
	}

	var wq waiter.Queue
	stop := s.boundHandshake(&wq)
	ep, terr := req.CreateEndpoint(&wq)
	stop()
	if terr != nil {
		// The client went away during the dial, or the handshake failed.
		complete(false)
		_ = up.Close()
		s.m.tcp.handshakeFailed()
		fh.Close(FlowStats{Verdict: Continue, Reason: "handshake", End: time.Now()})
		return
	}
	complete(false)
	release()
	// Keep-alive probes detect clients that vanished without FIN/RST; the
	// idle timeout is the backstop.
	ep.SocketOptions().SetKeepAlive(true)

	client := newGVLeg(ep, &wq)
	f := s.newTCPFlow(info, t, fh, client, upLeg(up))
	if v == Pass {
		f.passed.Store(true)
	}
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

func (s *Stack) synAcquire(src netip.Addr) bool {
	s.synMu.Lock()
	defer s.synMu.Unlock()
	if s.synPerSrc[src] >= s.cfg.limits.MaxSYNPerSource {
		return false
	}
	s.synPerSrc[src]++
	return true
}

func (s *Stack) synRelease(src netip.Addr) {
	s.synMu.Lock()
	defer s.synMu.Unlock()
	if n := s.synPerSrc[src]; n <= 1 {
		delete(s.synPerSrc, src)
	} else {
		s.synPerSrc[src] = n - 1
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

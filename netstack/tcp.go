package netstack

import (
	"context"
	"net/netip"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// handleTCP decides about one SYN: policy first, then the upstream dial,
// and only then the client's handshake, so a refused upstream is mirrored
// to the client as RST. The request is completed exactly once.
func (s *Stack) handleTCP(req *tcp.ForwarderRequest) {
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
	ep, terr := req.CreateEndpoint(&wq)
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
	if !s.flows.add(&f.Flow) {
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

package netstack

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// udpTable counts live sessions and remembers rejected 5-tuples, whose
// next datagrams the stack answers with ICMP port unreachable.
type udpTable struct {
	max  int
	live atomic.Int64

	mu       sync.Mutex
	rejected map[FiveTuple]time.Time
}

func newUDPTable(max int) *udpTable {
	return &udpTable{max: max, rejected: make(map[FiveTuple]time.Time)}
}

// rejectedNow reports whether t was rejected and the rejection holds.
func (u *udpTable) rejectedNow(t FiveTuple, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	until, ok := u.rejected[t]
	if ok && !now.Before(until) {
		delete(u.rejected, t)
		return false
	}
	return ok
}

func (u *udpTable) reject(t FiveTuple, until time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.rejected) >= u.max {
		now := time.Now()
		for k, v := range u.rejected {
			if !now.Before(v) {
				delete(u.rejected, k)
			}
		}
		if len(u.rejected) >= u.max {
			return // bounded; the guard's blackhole still stops the flow
		}
	}
	u.rejected[t] = until
}

// udpMaxDatagram is the read size of a UDP session: the largest UDP
// payload, so no datagram is truncated.
const udpMaxDatagram = 65535

// handleUDP is the stack's default UDP handler: it sees the first
// datagram of every 5-tuple without a session. Returning false makes
// gVisor answer ICMP port unreachable, which is how Reject is mirrored.
// It runs on the link's dispatch goroutine, so NewFlow and the upstream
// dial (no round trip for UDP) are done inline.
func (s *Stack) handleUDP(id stack.TransportEndpointID, pkt *stack.PacketBuffer) bool {
	if pkt.NICID != clientNIC {
		return false
	}
	t := normTuple(tupleOf(UDP, id))
	now := time.Now()
	if s.udp.rejectedNow(t, now) {
		return false
	}
	if !s.enter() {
		return true
	}
	defer s.leave()
	if s.udp.live.Load() >= int64(s.udp.max) {
		s.m.udpRejected.WithLabelValues("limit").Inc()
		return true
	}
	info := s.newInfo(UDP, t)
	fh, v := s.cfg.handler.NewFlow(info)
	if v.Terminal() {
		s.m.udp.endedWith(v)
		if fh != nil {
			fh.Close(FlowStats{Verdict: v, Reason: "verdict", End: now})
		}
		switch v {
		case Drop:
			_ = s.guard.Blackhole(t, now.Add(s.cfg.limits.BlackholeTTL))
			return true
		case RejectDst:
			return true
		}
		s.udp.reject(t, now.Add(s.cfg.limits.UDPIdleTimeout))
		return false
	}
	if fh == nil {
		fh, v = passFlow{}, Pass
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.limits.DialTimeout)
	up, err := s.cfg.dialer.Dial(ctx, "udp", t.Src, t.Dst)
	cancel()
	if err != nil {
		s.m.udp.dialFailed()
		fh.Close(FlowStats{Reason: "dial", End: now})
		return false
	}
	var wq waiter.Queue
	ep, terr := udp.NewForwarderRequest(s.gs, id, pkt).CreateEndpoint(&wq)
	if terr != nil {
		_ = up.Close()
		fh.Close(FlowStats{Reason: "endpoint", End: now})
		return true
	}
	sess := &udpSession{s: s, client: newGVLeg(ep, &wq), up: connLeg{up}}
	// A panicking handler rejects the session (ICMP unreachable for what
	// follows): fail closed.
	sess.inspection = inspection{fh: fh, onPanic: Reject}
	sess.answer, _ = fh.(Answerer)
	sess.info = *info
	sess.tuple = t
	sess.touch(now)
	sess.Flow.stop = sess.stopWith
	sess.admitted(v)
	old, ok := s.flows.add(&sess.Flow)
	s.supersede(old)
	if !ok {
		s.m.flowsRejected.WithLabelValues("table_full").Inc()
		sess.client.close()
		sess.client.release()
		_ = up.Close()
		fh.Close(FlowStats{Reason: "table_full", End: now})
		return true
	}
	s.udp.live.Add(1)
	s.m.udpSessions.Inc()
	s.m.udp.active.Inc()
	sess.pumps.Store(2)
	for _, dir := range []Direction{ToServer, ToClient} {
		if !s.enter() {
			sess.stopWith(Continue, "shutdown")
			sess.pumpDone()
			continue
		}
		go func() {
			defer s.leave()
			sess.pump(dir)
		}()
	}
	return true
}

// udpSession relays one UDP 5-tuple; every datagram passes Chunk.
type udpSession struct {
	Flow
	inspection
	s      *Stack
	client *gvLeg
	up     connLeg
	answer Answerer // nil unless the handler answers datagrams itself

	stopOnce sync.Once
	stopped  atomic.Bool
	reason   string
	pumps    atomic.Int32
}

func (u *udpSession) pump(dir Direction) {
	defer u.pumpDone()
	from, to := leg(u.client), leg(u.up)
	if dir == ToClient {
		from, to = u.up, u.client
	}
	for {
		if err := from.ready(); err != nil {
			return
		}
		bp := u.s.getUDPBuf()
		n, err := from.read(*bp)
		if err != nil {
			u.s.putUDPBuf(bp)
			u.stopWith(Continue, "error")
			return
		}
		b := (*bp)[:n]
		if dir == ToServer && u.answer != nil && !u.passed.Load() && !u.monitored.Load() {
			if ans := u.answer.Answer(b); ans != nil {
				u.s.putUDPBuf(bp)
				// The other pump writes to the client leg too: a
				// reader of its own, and gVisor's endpoint serialises.
				if _, err := u.client.ep.Write(bytes.NewReader(ans), tcpip.WriteOptions{}); err != nil {
					u.stopWith(Continue, "error")
					return
				}
				continue
			}
		}
		v := u.decide(&u.inspection, u.s, dir, b)
		if v == Hold {
			// A datagram cannot wait for the next one: the handler broke
			// its contract, and the session fails closed.
			u.s.m.holdUndecided.WithLabelValues("udp", "reject").Inc()
			u.s.log.Error("flow handler held a UDP datagram; rejecting the session", "flow", u.info.ID, "tuple", u.tuple)
			v = Reject
		}
		if v.Terminal() {
			u.s.putUDPBuf(bp)
			u.stopWith(v, "verdict")
			return
		}
		err = to.write(b)
		if err == nil && v == Monitor {
			u.observe(&u.inspection, u.s, dir, b)
		}
		u.s.putUDPBuf(bp)
		if err != nil {
			// An ICMP unreachable from upstream surfaces here; the session
			// ends and the client's next datagram opens a new one.
			u.stopWith(Continue, "error")
			return
		}
	}
}

// stopWith ends the session. UDP has no resets: Reject makes the next
// datagrams of the 5-tuple answer ICMP port unreachable, Drop blackholes
// them in the guard.
func (u *udpSession) stopWith(v Verdict, reason string) {
	u.stopOnce.Do(func() {
		u.stopped.Store(true)
		u.reason = reason
		now := time.Now()
		switch v {
		case Drop:
			u.verdict.Store(uint32(v))
			_ = u.s.guard.Blackhole(u.tuple, now.Add(u.s.cfg.limits.BlackholeTTL))
		case Reject, RejectBoth:
			u.verdict.Store(uint32(v))
			u.s.udp.reject(u.tuple, now.Add(u.s.cfg.limits.UDPIdleTimeout))
		case RejectDst:
			u.verdict.Store(uint32(v))
		}
		u.client.close()
		u.up.close()
	})
}

func (u *udpSession) pumpDone() {
	if u.pumps.Add(-1) != 0 {
		return
	}
	u.client.release()
	u.s.flows.remove(&u.Flow)
	u.s.udp.live.Add(-1)
	u.s.m.udpSessions.Dec()
	u.s.m.udp.active.Dec()
	v := Verdict(u.verdict.Load())
	u.s.m.udp.endedWith(v)
	u.fh.Close(FlowStats{
		BytesToServer: u.bytesToServer.Load(), BytesToClient: u.bytesToClient.Load(),
		PacketsToServer: u.pktsToServer.Load(), PacketsToClient: u.pktsToClient.Load(),
		Verdict: v, Reason: u.reason, End: time.Now(),
	})
}

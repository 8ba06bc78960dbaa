package netstack

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Flow is one entry of the flow table: a live TCP flow or UDP session.
// Policy can act on it from outside the relay with Reset and Blackhole.
type Flow struct {
	info  FlowInfo
	tuple FiveTuple

	bytesToServer, bytesToClient atomic.Uint64
	pktsToServer, pktsToClient   atomic.Uint64
	verdict                      atomic.Uint32
	lastActive                   atomic.Int64 // unix nanoseconds

	// stop ends the flow with the verdict's actions; set by the relay
	// before the flow is published in the table.
	stop func(v Verdict, reason string)
	// batch, when set, splits stop in steps for ResetAll.
	batch batchStopper
}

// Info returns the flow's description.
func (f *Flow) Info() FlowInfo { return f.info }

// Tuple returns the flow's 5-tuple, oriented from the client.
func (f *Flow) Tuple() FiveTuple { return f.tuple }

// FlowSnapshot is a copy of a flow's counters for the admin API.
type FlowSnapshot struct {
	ID                           uint64
	Tuple                        FiveTuple
	Identity                     string
	BytesToServer, BytesToClient uint64
	Start, LastActive            time.Time
	Verdict                      Verdict
}

// Snapshot copies the flow's counters.
func (f *Flow) Snapshot() FlowSnapshot {
	return FlowSnapshot{
		ID: f.info.ID, Tuple: f.tuple, Identity: IdentityName(f.info.Identity),
		BytesToServer: f.bytesToServer.Load(), BytesToClient: f.bytesToClient.Load(),
		Start: f.info.Start, LastActive: time.Unix(0, f.lastActive.Load()),
		Verdict: Verdict(f.verdict.Load()),
	}
}

func (f *Flow) touch(now time.Time) { f.lastActive.Store(now.UnixNano()) }

// Reset ends the flow as if its handler had returned v (Reject,
// RejectDst, RejectBoth or Drop). Non-terminal verdicts are refused.
func (f *Flow) Reset(v Verdict) error {
	if !v.Terminal() {
		return fmt.Errorf("netstack: reset flow %d (%v) with %v: not a terminal verdict", f.info.ID, f.tuple, v)
	}
	f.stop(v, "policy")
	return nil
}

// batchStopper is stop in steps, each taken for a whole batch of flows
// before the next (ResetAll).
type batchStopper interface {
	// stopClient ends the flow but for its upstream leg, without waking
	// its relay: the client's RST goes out. It reports whether it ended
	// the flow (false when it had ended already).
	stopClient(v Verdict, reason string) bool
	// stopUpstream applies v to the upstream leg.
	stopUpstream(v Verdict)
	// wake wakes the relay to tear down.
	wake()
}

// ResetAll resets flows as Reset(v) does each, in passes over the batch:
// the clients' RSTs, then the upstream legs' aborts, then the wake-up of
// the relays. Resetting and waking each flow in turn woke 2 relay
// goroutines per flow as it went: for 100 flows 200 goroutines queued on
// the scheduler ahead of the resetting goroutine and of the clients the
// RSTs were for (86% of the scheduling delay in the trace of
// BenchmarkIdentityQuarantineLatency100Flows). Every flow is marked
// stopped before its client leg is aborted, and its relay stays asleep
// until its upstream leg is aborted too, so no byte is forwarded in
// between.
func ResetAll(flows []*Flow, v Verdict) error {
	if !v.Terminal() {
		return fmt.Errorf("netstack: reset %d flows with %v: not a terminal verdict", len(flows), v)
	}
	ended := make([]batchStopper, 0, len(flows))
	for _, f := range flows {
		if f.batch == nil {
			f.stop(v, "policy")
		} else if f.batch.stopClient(v, "policy") {
			ended = append(ended, f.batch)
		}
	}
	for _, b := range ended {
		b.stopUpstream(v)
	}
	for _, b := range ended {
		b.wake()
	}
	return nil
}

// Blackhole drops the flow: the client sees silence from now on.
func (f *Flow) Blackhole() { f.stop(Drop, "policy") }

// FlowTable maps 5-tuples to live flows. It is bounded: Add fails when
// it is full.
type FlowTable struct {
	max int
	mu  sync.RWMutex
	m   map[FiveTuple]*Flow
}

func newFlowTable(max int) *FlowTable {
	return &FlowTable{max: max, m: make(map[FiveTuple]*Flow)}
}

// add publishes f. An entry with the same 5-tuple is replaced and
// returned, for the caller to end: gVisor hands a SYN (or a UDP datagram)
// to the forwarder only when no endpoint of its 4-tuple exists, so the
// old flow's client leg is gone and only its relay is still tearing down
// (pumpDone removes the entry last). Refusing the new flow there reset
// clients that reconnected from the same port at once (the -race flake
// of TestSYNReopensTimeWait, and the connect loop of tests/bench when the
// client ran short of ports). ok is false when the table is full.
func (t *FlowTable) add(f *Flow) (old *Flow, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old = t.m[f.tuple]
	if old == nil && len(t.m) >= t.max {
		return nil, false
	}
	t.m[f.tuple] = f
	return old, true
}

// supersede ends old (if not nil), a flow replaced in the table by a new
// one with its 5-tuple. It does not wait: old's relay may be blocked in
// its own teardown (closing an upstream socket), which the new flow must
// not wait for.
func (s *Stack) supersede(old *Flow) {
	if old == nil || !s.enter() {
		return
	}
	go func() {
		defer s.leave()
		old.stop(Continue, "superseded")
	}()
}

func (t *FlowTable) remove(f *Flow) {
	t.mu.Lock()
	if t.m[f.tuple] == f {
		delete(t.m, f.tuple)
	}
	t.mu.Unlock()
}

// Lookup returns the live flow with the given 5-tuple.
func (t *FlowTable) Lookup(k FiveTuple) (*Flow, bool) {
	k = normTuple(k)
	t.mu.RLock()
	f, ok := t.m[k]
	t.mu.RUnlock()
	return f, ok
}

// Len returns the number of live flows.
func (t *FlowTable) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.m)
}

// Range calls fn for each live flow until fn returns false. fn runs
// without the table lock held, on a snapshot of the entries, so it may
// call Reset or Blackhole.
func (t *FlowTable) Range(fn func(*Flow) bool) {
	t.mu.RLock()
	all := make([]*Flow, 0, len(t.m))
	for _, f := range t.m {
		all = append(all, f)
	}
	t.mu.RUnlock()
	for _, f := range all {
		if !fn(f) {
			return
		}
	}
}

// BySource returns the live flows whose client address is src (to reset
// a quarantined identity's flows).
func (t *FlowTable) BySource(src netip.Addr) []*Flow {
	var out []*Flow
	t.Range(func(f *Flow) bool {
		if f.tuple.Src.Addr() == src {
			out = append(out, f)
		}
		return true
	})
	return out
}

// inspection is the handler side of a relayed flow, the same for TCP and
// UDP.
type inspection struct {
	fh     FlowHandler
	passed atomic.Bool // a Pass verdict: the handler is not asked again
	// monitored is a Monitor verdict: the handler sees each later chunk
	// after it was forwarded, and its verdicts are ignored.
	monitored atomic.Bool
	// onPanic is what a panicking handler means for the transport: the
	// flow ends (fail closed) rather than the appliance.
	onPanic Verdict
}

// admitted records the verdict NewFlow gave the flow. Hold there means
// Continue: no chunk exists yet to hold.
func (in *inspection) admitted(v Verdict) {
	switch v {
	case Pass:
		in.passed.Store(true)
	case Monitor:
		in.monitored.Store(true)
	}
}

// decide accounts one chunk read in dir and returns what to do with it:
// Continue and Pass forward it, Hold keeps it unsent, a terminal verdict
// ends the flow without forwarding it, and Monitor forwards it and then
// wants the relay to show it to the handler (observe). It is the one
// place the relay asks the handler before forwarding. An empty b (the
// end of the stream while bytes are held) is not accounted.
func (f *Flow) decide(in *inspection, s *Stack, dir Direction, b []byte) Verdict {
	if len(b) > 0 {
		f.touch(time.Now())
		if dir == ToServer {
			f.bytesToServer.Add(uint64(len(b)))
			f.pktsToServer.Add(1)
		} else {
			f.bytesToClient.Add(uint64(len(b)))
			f.pktsToClient.Add(1)
		}
	}
	if in.monitored.Load() {
		return Monitor
	}
	if in.passed.Load() {
		return Pass
	}
	v := in.call(f, s, dir, b)
	switch v {
	case Pass:
		in.passed.Store(true)
		f.verdict.CompareAndSwap(uint32(Continue), uint32(Pass))
	case Monitor:
		in.monitored.Store(true)
		f.verdict.CompareAndSwap(uint32(Continue), uint32(Pass))
		// The handler has just seen this chunk: the relay must not show
		// it again after forwarding it.
		return Pass
	}
	return v
}

// observe shows a monitored flow's chunk, already forwarded, to the
// handler; what it answers cannot change anything any more.
func (f *Flow) observe(in *inspection, s *Stack, dir Direction, b []byte) {
	_ = in.call(f, s, dir, b)
}

func (in *inspection) call(f *Flow, s *Stack, dir Direction, b []byte) (v Verdict) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("flow handler panicked; ending flow", "flow", f.info.ID, "tuple", f.tuple, "verdict", in.onPanic, "panic", r)
			v = in.onPanic
		}
	}()
	return in.fh.Chunk(dir, b)
}

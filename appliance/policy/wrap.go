package policy

import (
	"sync"
	"sync/atomic"

	"golang.org/x/time/rate"

	"github.com/interdict/interdict/appliance/enforce"
	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/netstack"
)

// Wrap returns a netstack.Handler that applies p in front of inner:
// NewFlow refuses blocked and rate-limited sources before inner (and so
// before any upstream dial); each chunk goes to inner first, then a
// protocol-validation verdict decided by OnResult during that chunk ends
// the flow, and the bytes/s limit delays or ends it.
func Wrap(inner netstack.Handler, p *Policy) netstack.Handler {
	return &handler{inner: inner, p: p}
}

type handler struct {
	inner netstack.Handler
	p     *Policy
}

var _ netstack.Handler = (*handler)(nil)

// NewFlow implements netstack.Handler.
func (h *handler) NewFlow(info *netstack.FlowInfo) (netstack.FlowHandler, netstack.Verdict) {
	p := h.p
	now := p.clock.Now()
	src := info.Src.Addr().Unmap()
	// The guard drops a blocked source's packets; this catches SYNs that
	// were in flight when the block came, and works without a guard.
	if _, ok := p.blocks.lookup(src, now); ok {
		p.m.refused.WithLabelValues("blocked").Inc()
		return nil, netstack.Drop
	}
	if p.sources != nil && !p.sources.allow(src, now) {
		v := p.s.newFlows.verdict
		p.m.rateLimited.WithLabelValues("new_flows", v.String()).Inc()
		return nil, v
	}
	fh, v := h.inner.NewFlow(info)
	if v.Terminal() {
		return fh, v
	}
	bytes, proto := p.s.bytes != nil, p.s.protocol != nil
	if !bytes && !proto {
		return fh, v
	}
	f := &flow{p: p, inner: fh, info: info}
	if fh == nil || v == netstack.Pass {
		if !bytes {
			// Nothing is inspected, so no anomaly can come.
			return fh, v
		}
		f.innerPassed.Store(true)
	}
	if bytes {
		bs := p.s.bytes
		f.lim[netstack.ToServer] = rate.NewLimiter(rate.Limit(bs.limit), bs.burst)
		f.lim[netstack.ToClient] = rate.NewLimiter(rate.Limit(bs.limit), bs.burst)
	}
	if proto && !f.innerPassed.Load() {
		p.live.add(info.ID, f)
		f.registered = true
	}
	// Pass from inner would stop our Chunk calls too; with a bytes limit
	// the flow stays on the slow path and inner is no longer called.
	return f, netstack.Continue
}

// flow is one flow's wrapper.
type flow struct {
	p     *Policy
	inner netstack.FlowHandler
	info  *netstack.FlowInfo
	lim   [2]*rate.Limiter // per direction; nil without a bytes limit

	innerPassed atomic.Bool
	// final is a terminal verdict policy decided (OnResult) for the flow;
	// every later chunk of either direction gets it.
	final      atomic.Uint32
	limited    atomic.Bool
	registered bool
}

// Chunk implements netstack.FlowHandler.
func (f *flow) Chunk(dir netstack.Direction, b []byte) netstack.Verdict {
	if v := netstack.Verdict(f.final.Load()); v.Terminal() {
		return v
	}
	v := netstack.Continue
	if !f.innerPassed.Load() {
		v = f.inner.Chunk(dir, b)
		// OnResult ran inside inner.Chunk: a verdict it decided holds
		// this very chunk.
		if fv := netstack.Verdict(f.final.Load()); fv.Terminal() {
			return fv
		}
		if v.Terminal() {
			return v
		}
		if v == netstack.Pass {
			f.innerPassed.Store(true)
			if f.lim[dir] == nil {
				return netstack.Pass
			}
		}
	}
	if lim := f.lim[dir&1]; lim != nil {
		if tv := f.p.throttle(f, lim, len(b)); tv.Terminal() {
			f.final.Store(uint32(tv))
			f.p.emit(f.dropEvent(dir, len(b), "rate limit "+tv.String()))
			return tv
		}
		if v == netstack.Hold {
			// The inner handler has not decided these bytes yet.
			return v
		}
		return netstack.Continue
	}
	return v
}

// Close implements netstack.FlowHandler.
func (f *flow) Close(st netstack.FlowStats) {
	if f.registered {
		f.p.live.remove(f.info.ID)
	}
	if f.inner != nil {
		f.inner.Close(st)
	}
}

func (f *flow) countLimited(p *Policy, action string) {
	if f.limited.CompareAndSwap(false, true) {
		p.m.rateLimited.WithLabelValues("bytes", action).Inc()
	}
}

// decide records a terminal verdict for the flow; the first one wins.
func (f *flow) decide(v netstack.Verdict) bool {
	return f.final.CompareAndSwap(uint32(netstack.Continue), uint32(v))
}

func (f *flow) meta() inspect.FlowMeta {
	return inspect.FlowMeta{ID: f.info.ID, Proto: inspect.Proto(f.info.Proto), Src: f.info.Src, Dst: f.info.Dst,
		Identity: enforce.IdentityOf(f.info), Start: f.info.Start}
}

func (f *flow) dropEvent(dir netstack.Direction, n int, reason string) *eve.Event {
	m := f.meta()
	ev := eve.NewDrop(f.p.clock.Now(), &m, inspect.Direction(dir), nil, n)
	ev.InIface = f.info.NIC
	ev.Drop.Reason = reason
	return &ev
}

// liveFlows finds a flow's wrapper by flow id for OnResult. It holds only
// flows under protocol validation and is bounded by the flow table.
type liveFlows struct {
	mu sync.RWMutex
	m  map[uint64]*flow
}

func (l *liveFlows) add(id uint64, f *flow) {
	l.mu.Lock()
	l.m[id] = f
	l.mu.Unlock()
}

func (l *liveFlows) remove(id uint64) {
	l.mu.Lock()
	delete(l.m, id)
	l.mu.Unlock()
}

func (l *liveFlows) get(id uint64) *flow {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.m[id]
}

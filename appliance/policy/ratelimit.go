package policy

import (
	"container/list"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/interdict/interdict/netstack"
)

// sourceLimiters is the new-flows-per-second table: one token bucket per
// client address, bounded by max_sources with least-recently-used
// eviction (an evicted source only gets a fresh, full bucket) and idle
// eviction by the sweeper. The list is kept in last-use order, so both
// evictions take entries from its back.
type sourceLimiters struct {
	cfg   *newFlowSettings
	gauge prometheus.Gauge

	mu  sync.Mutex
	m   map[netip.Addr]*list.Element
	lru list.List // of *sourceEntry, most recent first
}

type sourceEntry struct {
	addr netip.Addr
	lim  *rate.Limiter
	last time.Time
}

func newSourceLimiters(cfg *newFlowSettings, gauge prometheus.Gauge) *sourceLimiters {
	return &sourceLimiters{cfg: cfg, gauge: gauge, m: make(map[netip.Addr]*list.Element)}
}

// allow takes one token from src's bucket.
func (s *sourceLimiters) allow(src netip.Addr, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.m[src]
	if ok {
		s.lru.MoveToFront(el)
	} else {
		if len(s.m) >= s.cfg.maxSources {
			back := s.lru.Back()
			delete(s.m, back.Value.(*sourceEntry).addr)
			s.lru.Remove(back)
		}
		el = s.lru.PushFront(&sourceEntry{addr: src, lim: rate.NewLimiter(rate.Limit(s.cfg.limit), s.cfg.burst)})
		s.m[src] = el
		s.gauge.Set(float64(len(s.m)))
	}
	e := el.Value.(*sourceEntry)
	e.last = now
	return e.lim.AllowN(now, 1)
}

// evictIdle drops sources unused for the idle time. A bucket that was
// idle that long has refilled anyway unless idle < burst/rate, which
// only makes the limit more lenient for that source.
func (s *sourceLimiters) evictIdle(now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for el := s.lru.Back(); el != nil; el = s.lru.Back() {
		e := el.Value.(*sourceEntry)
		if now.Sub(e.last) < s.cfg.idle {
			break
		}
		delete(s.m, e.addr)
		s.lru.Remove(el)
		n++
	}
	if n > 0 {
		s.gauge.Set(float64(len(s.m)))
	}
	return n
}

func (s *sourceLimiters) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// throttle applies the bytes/s limit of one direction of a flow to a
// chunk of n bytes. With action delay it waits (on the policy clock) and
// returns Continue; with drop or reject it returns that verdict when the
// bucket cannot pay for the chunk now. first reports whether this flow
// was limited before, so flows are counted once.
func (p *Policy) throttle(f *flow, lim *rate.Limiter, n int) netstack.Verdict {
	bs := p.s.bytes
	now := p.clock.Now()
	if bs.verdict.Terminal() {
		if lim.TokensAt(now) < float64(min(n, bs.burst)) {
			f.countLimited(p, bs.verdict.String())
			return bs.verdict
		}
		for rem := n; rem > 0; rem -= bs.burst {
			lim.ReserveN(now, min(rem, bs.burst))
		}
		return netstack.Continue
	}
	// Reserve in burst-sized pieces (a chunk may exceed the bucket) until
	// the wait reaches max_delay; what is left of the chunk is not
	// charged, so the debt of a too-short max_delay does not grow.
	var d time.Duration
	for rem := n; rem > 0 && d < bs.maxDelay; {
		k := min(rem, bs.burst)
		r := lim.ReserveN(now, k)
		if !r.OK() {
			break
		}
		d = r.DelayFrom(now)
		rem -= k
	}
	d = min(d, bs.maxDelay)
	if d <= 0 {
		return netstack.Continue
	}
	f.countLimited(p, "delay")
	p.m.delaySeconds.Add(d.Seconds())
	select {
	case <-p.clock.After(d):
	case <-p.done:
	}
	return netstack.Continue
}

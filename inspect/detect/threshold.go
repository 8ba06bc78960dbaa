package detect

import (
	"math"
	"net/netip"
	"sync"
	"time"

	"github.com/interdict/interdict/inspect/rules"
)

type thKey struct {
	sid      uint32
	kind     uint8 // 0 threshold, 1 detection_filter, 2 rate_filter
	src, dst netip.Addr
	flow     uint64
}

type thEntry struct {
	start time.Time
	count int
	// changed is when a rate_filter's new action began (zero: not in
	// force).
	changed time.Time
	// next is the match count at which a backoff threshold alerts next.
	next int
}

// thresholdTable holds Suricata's cross-flow counters. It is the only
// mutable part of an Engine, hence its own lock; it is bounded, and when
// full the whole table is forgotten (counting restarts) rather than grown.
type thresholdTable struct {
	mu  sync.Mutex
	m   map[thKey]*thEntry
	max int
}

func newThresholdTable(max int) *thresholdTable {
	return &thresholdTable{m: map[thKey]*thEntry{}, max: max}
}

func trackKey(sid uint32, kind uint8, track string, src, dst netip.Addr, flow uint64) thKey {
	k := thKey{sid: sid, kind: kind}
	switch track {
	case "by_src":
		k.src = src
	case "by_dst":
		k.dst = dst
	case "by_both":
		// One entry per IP pair whatever the direction: Suricata keys
		// by_both with the lower address first.
		if dst.Less(src) {
			src, dst = dst, src
		}
		k.src, k.dst = src, dst
	case "by_flow":
		k.flow = flow
	}
	return k
}

func (t *thresholdTable) entry(k thKey, now time.Time, window time.Duration) *thEntry {
	e := t.m[k]
	if e == nil {
		if len(t.m) >= t.max {
			clear(t.m)
		}
		e = &thEntry{start: now}
		t.m[k] = e
	}
	if now.Sub(e.start) >= window {
		e.start, e.count = now, 0
	}
	return e
}

// threshold applies a threshold: keyword and reports whether this match
// alerts.
func (t *thresholdTable) threshold(th *rules.Threshold, k thKey, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if th.Type == "backoff" {
		return t.backoff(th, k)
	}
	e := t.entry(k, now, time.Duration(th.Seconds)*time.Second)
	e.count++
	switch th.Type {
	case "limit":
		return e.count <= th.Count
	case "threshold":
		if e.count >= th.Count {
			e.count = 0
			return true
		}
		return false
	case "both":
		return e.count == th.Count
	}
	return true
}

// detectionFilter reports whether the rule counts as matching: only after
// Count matches within the window.
func (t *thresholdTable) detectionFilter(df *rules.Threshold, k thKey, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entry(k, now, time.Duration(df.Seconds)*time.Second)
	e.count++
	return e.count > df.Count
}

// rate reports whether a rate_filter's new action applies now. As in
// Suricata (detect-engine-threshold.c): more than Count matches within
// Seconds of the window's first one puts the new action in force, for
// every match until Timeout whole seconds have passed (compared by the
// timestamps' seconds); the match that ends it counts in no window.
func (t *thresholdTable) rate(rf *rules.RateFilter, k thKey, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.m[k]
	if e == nil {
		if len(t.m) >= t.max {
			clear(t.m)
		}
		// The first match only opens the window, whatever Count says.
		t.m[k] = &thEntry{start: now, count: 1}
		return false
	}
	if !e.changed.IsZero() {
		if now.Unix()-e.changed.Unix() > int64(rf.Timeout) {
			e.changed = time.Time{}
			return false
		}
		return true
	}
	if now.After(e.start.Add(time.Duration(rf.Seconds) * time.Second)) {
		e.start, e.count = now, 1
		return false
	}
	e.count++
	if e.count > rf.Count {
		e.changed = now
		return true
	}
	return false
}

// backoff is Suricata's threshold type backoff (per flow, no window):
// the Count-th match alerts, then the Count*Multiplier-th, and so on
// (the first match alerts only when Count is 1). Call with t.mu held.
func (t *thresholdTable) backoff(th *rules.Threshold, k thKey) bool {
	e := t.m[k]
	if e == nil {
		if len(t.m) >= t.max {
			clear(t.m)
		}
		e = &thEntry{count: 1, next: th.Count}
		t.m[k] = e
	} else if e.count < math.MaxUint32 {
		e.count++
	} else {
		return false // Suricata stops counting: silent from there on
	}
	if e.count != e.next {
		return false
	}
	if e.next > math.MaxUint32/th.Multiplier {
		e.next = math.MaxUint32
	} else {
		e.next *= th.Multiplier
	}
	return true
}

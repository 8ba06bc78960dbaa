package detect

import (
	"net/netip"
	"sync"
	"time"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/rules"
)

// Xbits are bits stored per host or per IP pair, shared by every flow of
// the engine (Suricata's xbits with track ip_src, ip_dst or ip_pair). A
// bit is set until its expiry, which each set pushes to now + expire.
// The table is bounded like the threshold table: when full it is
// forgotten rather than grown.

type xbitKey struct {
	name string
	a, b netip.Addr // b is zero for a host bit; a pair is stored ordered
}

type xbitTable struct {
	mu  sync.Mutex
	m   map[xbitKey]time.Time // expiry
	max int
}

type cxbit struct {
	op, name, track string
	expire          time.Duration
}

// compileXbits copies the rule's xbits and makes its reads run after
// rules that only write, as for flowbits.
func (e *Engine) compileXbits(r *rules.Rule, cr *crule) {
	for _, x := range r.Xbits {
		if e.xbits == nil {
			e.xbits = &xbitTable{m: map[xbitKey]time.Time{}, max: e.opts.MaxThresholdEntries}
		}
		cr.xbits = append(cr.xbits, cxbit{op: x.Op, name: x.Name, track: x.Track, expire: time.Duration(x.Expire) * time.Second})
		if x.Op == "isset" || x.Op == "isnotset" {
			cr.reads = true
		}
	}
}

// xbitKeyOf keys bit x for data going from src to dst.
func xbitKeyOf(x *cxbit, src, dst netip.Addr) xbitKey {
	switch x.track {
	case "ip_src":
		return xbitKey{name: x.name, a: src}
	case "ip_dst":
		return xbitKey{name: x.name, a: dst}
	}
	if dst.Less(src) {
		src, dst = dst, src
	}
	return xbitKey{name: x.name, a: src, b: dst}
}

// eachXbit calls fn for each of the rule's xbits with its key for data in
// direction dir and whether it is set now, under the table's lock; fn
// returning false stops.
func (f *Flow) eachXbit(cr *crule, dir inspect.Direction, fn func(x *cxbit, k xbitKey, set bool, now time.Time) bool) {
	src, dst := f.addrs(dir)
	now := f.e.opts.Now()
	t := f.e.xbits
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range cr.xbits {
		x := &cr.xbits[i]
		k := xbitKeyOf(x, src.Addr().Unmap(), dst.Addr().Unmap())
		exp, ok := t.m[k]
		if !fn(x, k, ok && now.Before(exp), now) {
			return
		}
	}
}

// xbitsCond reports whether the rule's isset/isnotset hold for data in
// direction dir.
func (f *Flow) xbitsCond(cr *crule, dir inspect.Direction) bool {
	ok := true
	f.eachXbit(cr, dir, func(x *cxbit, _ xbitKey, set bool, _ time.Time) bool {
		if x.op == "isset" || x.op == "isnotset" {
			ok = set == (x.op == "isset")
		}
		return ok
	})
	return ok
}

// xbitsApply runs the rule's set, unset and toggle.
func (f *Flow) xbitsApply(cr *crule, dir inspect.Direction) {
	t := f.e.xbits
	f.eachXbit(cr, dir, func(x *cxbit, k xbitKey, set bool, now time.Time) bool {
		switch {
		case x.op == "set" || x.op == "toggle" && !set:
			if _, ok := t.m[k]; !ok && len(t.m) >= t.max {
				clear(t.m)
			}
			t.m[k] = now.Add(x.expire)
		case x.op == "unset" || x.op == "toggle" && set:
			delete(t.m, k)
		}
		return true
	})
}

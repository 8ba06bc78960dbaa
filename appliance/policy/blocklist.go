package policy

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/netstack"
)

// Origins of block-list entries, the label values of blocks_total.
const (
	OriginStatic = "static"
	OriginAPI    = "api"
	OriginRule   = "rule"
)

// Entry is one block-list entry.
type Entry struct {
	Prefix netip.Prefix
	// Until is when the entry expires; the zero Time means never.
	Until  time.Time
	Since  time.Time
	Reason string
	Origin string
}

// ErrFull is returned when the block list is at block.max_entries and
// holds no expired entry.
var ErrFull = errors.New("policy: block list full")

// forever is what the guard gets for entries without expiry: the
// guard's entries always carry a time.
var forever = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// blockList maps masked prefixes to entries. Lookups try only the prefix
// lengths in use, so a check costs at most one map lookup per distinct
// length (as the guard's).
type blockList struct {
	max   int
	mu    sync.RWMutex
	m     map[netip.Prefix]*Entry
	lens4 [33]int
	lens6 [129]int
}

func (b *blockList) init(max int) {
	b.max = max
	b.m = make(map[netip.Prefix]*Entry)
}

func (b *blockList) lenCount(p netip.Prefix, d int) {
	if p.Addr().Is4() {
		b.lens4[p.Bits()] += d
	} else {
		b.lens6[p.Bits()] += d
	}
}

func (b *blockList) removeLocked(p netip.Prefix) {
	delete(b.m, p)
	b.lenCount(p, -1)
}

// lookup returns the entry blocking a at now.
func (b *blockList) lookup(a netip.Addr, now time.Time) (Entry, bool) {
	a = a.Unmap().WithZone("")
	b.mu.RLock()
	defer b.mu.RUnlock()
	if len(b.m) == 0 {
		return Entry{}, false
	}
	lens := b.lens6[:]
	if a.Is4() {
		lens = b.lens4[:]
	}
	for bits, c := range lens {
		if c == 0 {
			continue
		}
		pfx, _ := a.Prefix(bits)
		if e, ok := b.m[pfx]; ok && (e.Until.IsZero() || now.Before(e.Until)) {
			return *e, true
		}
	}
	return Entry{}, false
}

// blockCause is the flow and rule behind a rule block.
type blockCause struct {
	flowID   uint64
	identity *inspect.Identity
	sid      uint32
}

// Block denies every packet and new flow from prefix for d (0: until
// Unblock) and resets the prefix's live flows. Blocking a prefix that is
// blocked already never shortens its block: the later expiry wins. This
// is the admin API's entry point; reason is logged and recorded. It
// returns the entry in force afterwards (an earlier, longer block keeps
// its reason and expiry) and how many live flows were reset.
func (p *Policy) Block(prefix netip.Prefix, d time.Duration, reason string) (Entry, int, error) {
	if d < 0 {
		return Entry{}, 0, fmt.Errorf("policy: block %s: negative duration %s", prefix, d)
	}
	if reason == "" {
		reason = "api"
	}
	e, err := p.block(prefix, d, reason, OriginAPI, blockCause{})
	if err != nil {
		return Entry{}, 0, err
	}
	return e, p.resetFlows(e.Prefix), nil
}

// block adds or extends an entry and tells the guard (and the fleet,
// with a shared store), and returns the entry in force. It does not
// reset flows: callers do, synchronously or not.
func (p *Policy) block(prefix netip.Prefix, d time.Duration, reason, origin string, cause blockCause) (Entry, error) {
	// The decision and its write are one step for the shared store's
	// watch (shared.go).
	defer p.lockKey(normPrefix(prefix))()
	now := p.clock.Now()
	var until time.Time
	if d > 0 {
		until = now.Add(d)
	}
	e, changed, err := p.put(Entry{Prefix: prefix, Until: until, Since: now, Reason: reason, Origin: origin}, cause)
	if err == nil && changed {
		p.share(e)
	}
	return e, err
}

// put adds or extends the entry (its Since is kept when it extends one)
// and tells the guard; it returns the entry in force and whether it
// changed.
func (p *Policy) put(in Entry, cause blockCause) (Entry, bool, error) {
	prefix, until, now := in.Prefix, in.Until, p.clock.Now()
	if !prefix.IsValid() {
		return Entry{}, false, fmt.Errorf("policy: block %v: invalid prefix", prefix)
	}
	prefix = normPrefix(prefix)

	p.attachMu.Lock()
	defer p.attachMu.Unlock()
	b := &p.blocks
	b.mu.Lock()
	old, exists := b.m[prefix]
	if exists && !old.Until.IsZero() && !now.Before(old.Until) {
		// Expired but not swept yet: a new block, not an extension.
		b.removeLocked(prefix)
		exists = false
	}
	if exists && (old.Until.IsZero() || (!until.IsZero() && !until.After(old.Until))) {
		kept := *old
		b.mu.Unlock()
		return kept, false, nil // already blocked at least as long
	}
	var expired []Entry
	if !exists && len(b.m) >= b.max {
		if expired = p.sweepLocked(now); len(expired) == 0 {
			b.mu.Unlock()
			return Entry{}, false, fmt.Errorf("block %s: %w (%d entries)", prefix, ErrFull, b.max)
		}
	}
	e := &Entry{Prefix: prefix, Until: until, Since: in.Since, Reason: in.Reason, Origin: in.Origin}
	if exists {
		e.Since = old.Since
	}
	b.m[prefix] = e
	if !exists {
		b.lenCount(prefix, 1)
	}
	n := len(b.m)
	b.mu.Unlock()
	p.recordExpired(expired)
	if len(expired) > 0 {
		// Not under attachMu: the watch holds a key while it takes it.
		p.async(func() { p.unshareExpired(expired) })
	}

	if p.guard != nil {
		if err := p.guard.Block(prefix, p.guardUntil(until)); err != nil {
			// Keep the list and the guard in agreement: an entry the
			// guard cannot hold is not in force.
			b.mu.Lock()
			if exists {
				b.m[prefix] = old
			} else if b.m[prefix] == e {
				b.removeLocked(prefix)
			}
			n = len(b.m)
			b.mu.Unlock()
			p.m.blocked.Set(float64(n))
			return Entry{}, false, fmt.Errorf("policy: block %s: %w", prefix, err)
		}
	}
	p.m.blocked.Set(float64(n))
	p.m.blocks.WithLabelValues(e.Origin).Inc()
	p.record("block", *e, "", cause)
	return *e, true, nil
}

// guardUntil converts an expiry on the policy clock to the wall clock
// the guard compares with. The policy's sweep is what unblocks; the
// guard's own expiry is the backstop should the sweep be late.
func (p *Policy) guardUntil(until time.Time) time.Time {
	if until.IsZero() {
		return forever
	}
	return time.Now().Add(until.Sub(p.clock.Now()))
}

// normPrefix is the form the list keeps a prefix in: IPv4 unmapped, no
// zone, masked.
func normPrefix(prefix netip.Prefix) netip.Prefix {
	if a := prefix.Addr(); a.Is4In6() && prefix.Bits() >= 96 {
		prefix = netip.PrefixFrom(a.Unmap(), prefix.Bits()-96)
	}
	return netip.PrefixFrom(prefix.Addr().WithZone(""), prefix.Bits()).Masked()
}

// Unblock removes prefix from the block list (and the guard, and the
// fleet's list) and reports whether it was there. Admin API.
func (p *Policy) Unblock(prefix netip.Prefix) bool {
	defer p.lockKey(normPrefix(prefix))()
	e, ok := p.unblock(prefix, "api")
	if ok && e.Origin != OriginStatic {
		p.unshare(e)
	}
	return ok
}

// unblock removes prefix from the list and the guard; cause is api or
// cluster (another appliance's unblock).
func (p *Policy) unblock(prefix netip.Prefix, cause string) (Entry, bool) {
	prefix = prefix.Masked()
	p.attachMu.Lock()
	defer p.attachMu.Unlock()
	b := &p.blocks
	b.mu.Lock()
	e, ok := b.m[prefix]
	if ok {
		b.removeLocked(prefix)
	}
	n := len(b.m)
	b.mu.Unlock()
	if !ok {
		return Entry{}, false
	}
	if p.guard != nil {
		p.guard.Unblock(prefix)
	}
	p.m.blocked.Set(float64(n))
	p.m.unblocks.WithLabelValues(cause).Inc()
	p.record("unblock", *e, cause, blockCause{})
	return *e, true
}

// List returns the block list sorted by prefix, expired entries not yet
// swept included. Admin API.
func (p *Policy) List() []Entry {
	b := &p.blocks
	b.mu.RLock()
	out := make([]Entry, 0, len(b.m))
	for _, e := range b.m {
		out = append(out, *e)
	}
	b.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		a, c := out[i].Prefix, out[j].Prefix
		if cmp := a.Addr().Compare(c.Addr()); cmp != 0 {
			return cmp < 0
		}
		return a.Bits() < c.Bits()
	})
	return out
}

// Blocked returns the entry that blocks addr now, if any.
func (p *Policy) Blocked(addr netip.Addr) (Entry, bool) {
	return p.blocks.lookup(addr, p.clock.Now())
}

// Sweep removes expired entries from the list and the guard, records an
// unblock for each, and returns how many it removed. The background
// sweeper calls it every Options.SweepEvery.
func (p *Policy) Sweep() int {
	now := p.clock.Now()
	p.attachMu.Lock()
	p.blocks.mu.Lock()
	gone := p.sweepLocked(now)
	left := len(p.blocks.m)
	p.blocks.mu.Unlock()
	if len(gone) > 0 {
		p.m.blocked.Set(float64(left))
	}
	p.recordExpired(gone)
	p.attachMu.Unlock()
	p.unshareExpired(gone)
	return len(gone)
}

// sweepLocked removes expired entries from the list and the guard and
// returns them; the caller holds attachMu and the list's lock, and
// records them (recordExpired) after releasing the list's lock, so a
// slow sink never stalls NewFlow's lookups.
func (p *Policy) sweepLocked(now time.Time) []Entry {
	var gone []Entry
	for pfx, e := range p.blocks.m {
		if e.Until.IsZero() || now.Before(e.Until) {
			continue
		}
		p.blocks.removeLocked(pfx)
		if p.guard != nil {
			p.guard.Unblock(pfx)
		}
		gone = append(gone, *e)
	}
	return gone
}

func (p *Policy) recordExpired(gone []Entry) {
	for _, e := range gone {
		p.m.unblocks.WithLabelValues("expired").Inc()
		p.record("unblock", e, "expired", blockCause{})
	}
}

// unshareExpired removes expired entries from the fleet's list, each
// under its key's lock and only if no block of the prefix was made or
// applied since: a fresh block another hub wrote is not deleted by this
// hub's late sweep of the old one.
func (p *Policy) unshareExpired(gone []Entry) {
	for _, e := range gone {
		unlock := p.lockKey(e.Prefix)
		p.blocks.mu.Lock()
		_, again := p.blocks.m[e.Prefix]
		p.blocks.mu.Unlock()
		if !again {
			p.unshare(e)
		}
		unlock()
	}
}

// resetFlows ends the live flows whose client lies in prefix.
func (p *Policy) resetFlows(prefix netip.Prefix) int {
	p.attachMu.Lock()
	flows := p.flowTab
	p.attachMu.Unlock()
	if flows == nil {
		return 0
	}
	n := 0
	flows.Range(func(f *netstack.Flow) bool {
		if prefix.Contains(f.Tuple().Src.Addr().Unmap()) {
			if err := f.Reset(p.s.resetWith); err == nil {
				n++
			}
		}
		return true
	})
	p.m.resets.Add(float64(n))
	return n
}

// record logs a block-list change and writes its interruption record.
func (p *Policy) record(action string, e Entry, cause string, c blockCause) {
	ts := p.clock.Now()
	attrs := []any{"prefix", e.Prefix.String(), "origin", e.Origin, "reason", e.Reason}
	ev := &eve.Event{Timestamp: eve.Time{Time: ts}, EventType: eve.TypeInterruption, FlowID: c.flowID,
		Interruption: &eve.Interruption{Action: action, Prefix: e.Prefix.String(), Origin: e.Origin, Reason: e.Reason, Cause: cause, SignatureID: c.sid}}
	if e.Prefix.IsSingleIP() {
		ev.SrcIP = e.Prefix.Addr().String()
	}
	if c.identity != nil {
		ev.Identity = c.identity
		attrs = append(attrs, "identity", c.identity.Name)
	}
	if action != "unblock" && !e.Until.IsZero() {
		ev.Interruption.Until = &eve.Time{Time: e.Until}
		attrs = append(attrs, "until", e.Until)
	}
	if cause != "" {
		attrs = append(attrs, "cause", cause)
	}
	if c.sid != 0 {
		attrs = append(attrs, "sid", c.sid, "flow", c.flowID)
	}
	p.log.Info("policy: "+action+" source", attrs...)
	p.emit(ev)
}

package policy

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/interdict/interdict/appliance/state"
)

// bucketBlocks is the shared store's bucket of block-list entries, keyed
// by prefix.
const bucketBlocks = "blocks"

// Buckets are the shared store's buckets the policy keeps: the store
// makes them before the policy loads.
var Buckets = []string{bucketBlocks}

// CauseCluster is the unblock cause of an entry another appliance
// removed.
const CauseCluster = "cluster"

// sharedEntry is a block-list entry as the fleet stores it.
type sharedEntry struct {
	Prefix string    `json:"prefix"`
	Until  time.Time `json:"until"`
	Since  time.Time `json:"since"`
	Reason string    `json:"reason,omitempty"`
	Origin string    `json:"origin"`
}

func (e *sharedEntry) entry() (Entry, error) {
	p, err := netip.ParsePrefix(e.Prefix)
	if err != nil {
		return Entry{}, err
	}
	return Entry{Prefix: p, Until: e.Until, Since: e.Since, Reason: e.Reason, Origin: e.Origin}, nil
}

// follow loads the fleet's block list (so a restarted hub refuses what
// the fleet blocked before it admits a flow) and watches it.
func (p *Policy) follow(w state.Watcher) error {
	keys, err := w.Keys(bucketBlocks)
	if err != nil {
		return fmt.Errorf("policy: load shared blocks: %w", err)
	}
	for _, k := range keys {
		b, err := w.Get(bucketBlocks, k)
		if err != nil {
			return fmt.Errorf("policy: load shared block %s: %w", k, err)
		}
		p.applyShared(state.Change{Bucket: bucketBlocks, Key: k, Value: b})
	}
	stop, err := w.Watch(bucketBlocks, p.applyShared, p.resolveBlock)
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	p.stop = stop
	return nil
}

// lockKey takes the shared store's lock of prefix's key (a no-op
// without one): the watch applies no change of it until the returned
// release. Take it before attachMu: the watch holds the key while it
// takes attachMu.
func (p *Policy) lockKey(prefix netip.Prefix) func() {
	if p.shared == nil {
		return func() {}
	}
	return p.shared.Lock(bucketBlocks, prefix.String())
}

// share writes an API or rule block to the fleet.
func (p *Policy) share(e Entry) {
	if p.shared == nil || e.Origin == OriginStatic {
		return
	}
	b, err := json.Marshal(sharedEntry{Prefix: e.Prefix.String(), Until: e.Until, Since: e.Since, Reason: e.Reason, Origin: e.Origin})
	if err == nil {
		err = p.shared.Put(bucketBlocks, e.Prefix.String(), b)
	}
	if err != nil {
		p.log.Error("policy: block not shared", "prefix", e.Prefix, "err", err)
	}
}

// unshare removes an entry from the fleet's list.
func (p *Policy) unshare(e Entry) {
	if p.shared == nil || e.Origin == OriginStatic {
		return
	}
	if err := p.shared.Delete(bucketBlocks, e.Prefix.String()); err != nil {
		p.log.Error("policy: unblock not shared", "prefix", e.Prefix, "err", err)
	}
}

// applyShared applies a block or unblock another appliance wrote: the
// entry is in force here (guard, live flows reset) as there.
func (p *Policy) applyShared(c state.Change) {
	if c.Deleted {
		if pfx, err := netip.ParsePrefix(c.Key); err == nil {
			p.unblock(pfx, CauseCluster)
		}
		return
	}
	var se sharedEntry
	err := json.Unmarshal(c.Value, &se)
	var e Entry
	if err == nil {
		e, err = se.entry()
	}
	if err != nil || e.Prefix.String() != c.Key {
		p.log.Error("policy: shared block unreadable, ignored", "key", c.Key, "err", err)
		return
	}
	if !e.Until.IsZero() && !p.clock.Now().Before(e.Until) {
		return // expired: its writer's sweep (or ours) removes it
	}
	_, changed, err := p.put(e, blockCause{})
	if err != nil {
		p.log.Error("policy: shared block not applied", "prefix", e.Prefix, "err", err)
		return
	}
	if changed { // not the watch's first values repeating what New loaded
		p.resetFlows(e.Prefix)
	}
}

// resolveBlock is the conflict rule of the block list (docs/cluster.md),
// the interruptions' one: an unblock never undoes a block it has not
// seen, a block in force beats an unblock it has not seen, and between
// two blocks the later end (none: until unblocked) wins; a tie keeps the
// bucket's.
func (p *Policy) resolveBlock(_ string, mine, theirs []byte) bool {
	var m, t sharedEntry
	if mine == nil || json.Unmarshal(mine, &m) != nil || (!m.Until.IsZero() && !p.clock.Now().Before(m.Until)) {
		return false
	}
	if theirs == nil || json.Unmarshal(theirs, &t) != nil {
		return true
	}
	return !t.Until.IsZero() && (m.Until.IsZero() || m.Until.After(t.Until))
}

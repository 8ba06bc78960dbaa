package identity

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/interdict/interdict/appliance/state"
)

// CauseCluster is the release cause of an interruption another
// appliance released (or let expire).
const CauseCluster = "cluster"

// Buckets are the state buckets the engine keeps: a shared store makes
// them before the engine loads.
var Buckets = []string{bucketInterruptions, bucketOffences, bucketTokens, bucketObservations}

// follow watches the interruptions and token bindings on a shared store,
// so what another appliance decides is enforced here too.
func (e *Engine) follow() error {
	w, ok := e.store.(state.Watcher)
	if !ok {
		return nil
	}
	for b, resolve := range map[string]state.Resolve{bucketInterruptions: e.resolveInterruption, bucketTokens: resolveToken} {
		stop, err := w.Watch(b, e.applyShared, resolve)
		if err != nil {
			e.unfollow()
			return fmt.Errorf("identity: %w", err)
		}
		e.stops = append(e.stops, stop)
	}
	return nil
}

func (e *Engine) unfollow() {
	for _, stop := range e.stops {
		stop()
	}
	e.stops = nil
}

// applyShared applies a change another appliance wrote.
func (e *Engine) applyShared(c state.Change) {
	switch c.Bucket {
	case bucketInterruptions:
		e.applyInterruption(c)
	case bucketTokens:
		e.applyToken(c)
	}
}

// applyInterruption makes the shared value the one in force: the
// bucket's latest revision wins, whatever was decided here before.
func (e *Engine) applyInterruption(c state.Change) {
	if c.Deleted {
		e.release(c.Key, CauseCluster)
		return
	}
	var in Interruption
	if err := json.Unmarshal(c.Value, &in); err != nil || in.Identity != c.Key {
		e.log.Error("identity: shared interruption unreadable, ignored", "identity", c.Key, "err", err)
		return
	}
	if !in.inForce(e.clock.Now()) {
		return // expired: its writer's sweep (or ours) deletes it
	}
	e.mu.Lock()
	old := e.active.Load()
	prev, _ := old.get(in.Identity)
	if prev != nil && same(prev, &in) {
		e.mu.Unlock()
		return
	}
	next := old.with(in.Identity, &in)
	e.active.Store(next)
	e.gauges(next)
	e.last[in.Identity] = in.Trigger
	e.mu.Unlock()

	id := e.identity(in.Identity)
	if prev != nil && prev.Action == ActionQuarantine && in.Action != ActionQuarantine {
		e.opMu.Lock()
		e.guardUnblock(in.Identity)
		e.opMu.Unlock()
	}
	e.apply([]change{{id: id, in: &in, quarantine: in.Action == ActionQuarantine, shared: true}})
}

// resolveInterruption is the conflict rule of interruptions
// (docs/cluster.md): this appliance's write (mine) met a newer one it had
// not seen (theirs). A release never undoes an interruption it has not
// seen; an interruption in force beats a release it has not seen;
// between two interruptions the quarantine beats the pause, then the
// later end (none: until released) wins; a tie keeps theirs, the
// bucket's.
func (e *Engine) resolveInterruption(_ string, mine, theirs []byte) bool {
	var m, t Interruption
	if mine == nil || json.Unmarshal(mine, &m) != nil || !m.inForce(e.clock.Now()) {
		return false
	}
	if theirs == nil || json.Unmarshal(theirs, &t) != nil {
		return true
	}
	if (m.Action == ActionQuarantine) != (t.Action == ActionQuarantine) {
		return m.Action == ActionQuarantine
	}
	return !t.Until.IsZero() && (m.Until.IsZero() || m.Until.After(t.Until))
}

// resolveToken is the conflict rule of first-use token bindings: the
// first binder wins on every hub. A binding in the bucket beats this
// appliance's (made at the same time, or while it was cut off), and an
// unbinding never undoes a binding it has not seen.
func resolveToken(_ string, mine, theirs []byte) bool {
	return mine != nil && theirs == nil
}

// same reports whether two interruptions are the same decision.
func same(a, b *Interruption) bool {
	return a.Action == b.Action && a.Trigger == b.Trigger && a.Since.Equal(b.Since) && a.Until.Equal(b.Until) && a.Level == b.Level
}

// applyToken installs or removes a first-use binding another appliance
// made or removed; the bucket's latest revision wins.
func (e *Engine) applyToken(c state.Change) {
	h, err := hex.DecodeString(c.Key)
	if err != nil || len(h) != sha256.Size {
		return
	}
	e.tokens.mu.Lock()
	defer e.tokens.mu.Unlock()
	if c.Deleted {
		delete(e.tokens.m, [32]byte(h))
		return
	}
	var tb TokenBinding
	if json.Unmarshal(c.Value, &tb) != nil || tb.Hash != c.Key {
		return
	}
	e.tokens.m[[32]byte(h)] = tb
}

package identity

import (
	"hash/maphash"
	"iter"
	"maps"
)

// activeSet is the interruptions in force (or expired, not swept yet) by
// identity name: immutable, read on every new flow, replaced on change.
// It is sharded by name so that a change copies one shard and not the
// whole set, and it keeps its counts instead of recounting them: a burst
// of n changes from another hub copied n maps of up to n entries
// (BenchmarkClusterPropagation/burst).
type activeSet struct {
	shards              [activeShards]map[string]*Interruption
	n                   int
	paused, quarantined int
}

const activeShards = 64

var activeSeed = maphash.MakeSeed()

func shardOf(name string) int { return int(maphash.String(activeSeed, name) % activeShards) }

// newActiveSet holds the interruptions of m.
func newActiveSet(m map[string]*Interruption) *activeSet {
	a := &activeSet{}
	for name, in := range m {
		a = a.with(name, in)
	}
	return a
}

func (a *activeSet) get(name string) (*Interruption, bool) {
	in, ok := a.shards[shardOf(name)][name]
	return in, ok
}

// all yields every name and interruption, in no order.
func (a *activeSet) all() iter.Seq2[string, *Interruption] {
	return func(yield func(string, *Interruption) bool) {
		for _, sh := range a.shards {
			for name, in := range sh {
				if !yield(name, in) {
					return
				}
			}
		}
	}
}

// with returns the set with name's interruption set to in.
func (a *activeSet) with(name string, in *Interruption) *activeSet {
	next := *a
	i := shardOf(name)
	sh := make(map[string]*Interruption, len(a.shards[i])+1)
	maps.Copy(sh, a.shards[i])
	if old, ok := sh[name]; ok {
		next.count(old, -1)
	}
	sh[name] = in
	next.count(in, 1)
	next.shards[i] = sh
	return &next
}

// without returns the set without name.
func (a *activeSet) without(name string) *activeSet {
	i := shardOf(name)
	old, ok := a.shards[i][name]
	if !ok {
		return a
	}
	next := *a
	sh := maps.Clone(a.shards[i])
	delete(sh, name)
	next.count(old, -1)
	next.shards[i] = sh
	return &next
}

func (a *activeSet) count(in *Interruption, d int) {
	a.n += d
	if in.Action == ActionQuarantine {
		a.quarantined += d
	} else {
		a.paused += d
	}
}

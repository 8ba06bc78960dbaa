package state

import (
	"errors"
	"time"
)

// ErrExists is returned by Create for a key that is stored already.
var ErrExists = errors.New("state: exists")

// Creator is a Store that can write a key only if it is absent, as one
// step the whole fleet agrees on: two appliances creating the same key
// at once, one gets ErrExists. Create waits for the store's answer (an
// unreachable store is an error, never a silent success), so it is for
// reservations (a pool address, a peer's name), not the data path.
type Creator interface {
	Create(bucket, key string, value []byte) error
}

// Change is one write to a shared store, as its watch delivers it.
type Change struct {
	Bucket string
	Key    string
	// Value is the new value; nil when Deleted.
	Value   []byte
	Deleted bool
	// Revision orders the changes of a bucket: a later write has a
	// higher revision, whichever appliance made it.
	Revision uint64
	// Written is when the shared store took the write (its clock), for
	// the apply-lag metric.
	Written time.Time
}

// Resolve settles a conflict on key: this appliance wrote mine without
// having seen theirs, a newer value another appliance wrote (while this
// one was cut off, or at the same moment). A nil value is a deleted key.
// It returns true to write mine over theirs, false to drop mine and apply
// theirs. It decides from the two values alone and must not block: it
// runs on the watch's goroutine.
type Resolve func(key string, mine, theirs []byte) (keepMine bool)

// Watcher is a Store shared by several appliances. Watch calls fn, in
// revision order, with the bucket's current values and then with every
// later change another appliance made; the caller's own writes are not
// echoed back. fn runs on the watch's goroutine: it must apply and return
// (a slow fn delays the changes after it, never drops them). stop ends
// the watch and waits for a running fn.
//
// With resolve set, every write to the bucket is a compare-and-set on
// the revision of the key this appliance saw last, and a write that
// loses the race is settled by resolve; with resolve nil, the last write
// the shared store takes wins.
//
// Dir is not a Watcher: a single appliance has no one to hear from.
//
// Lock holds off the watch's application of one key: a caller that
// decides from what it holds of key and writes the decision takes the
// lock across both, so a change of that key is delivered (and its
// conflict settled) either before the decision or after its write is
// queued, never in between; the watch holds the same lock while fn runs.
// So fn must not take it for the key it applies.
type Watcher interface {
	Store
	Watch(bucket string, fn func(Change), resolve Resolve) (stop func(), err error)
	Lock(bucket, key string) (unlock func())
}

package decode

import (
	"errors"
	"runtime"
	"sync/atomic"
)

// ErrMemory is returned when a decoder layer cannot reserve what it
// would hold: the decoder memory of every flow is past its Budget.
var ErrMemory = errors.New("decode: decoder memory budget exhausted")

// Budget bounds the memory every decoder of a process holds at once.
// One flow's decoders are bounded by their count (a few windows), but
// hundreds of flows (or HTTP/2 streams) each sending a br or zstd body
// that asks for the largest window would together allocate gigabytes:
// each layer reserves what it can hold before it allocates it, and a
// reservation past the limit is refused (ErrMemory), so the caller
// refuses the body rather than decoding it or forwarding it undecoded.
// It is safe for concurrent use.
type Budget struct {
	limit   atomic.Int64 // <= 0: unlimited
	used    atomic.Int64
	refused atomic.Uint64
}

// NewBudget returns a budget of limit bytes; limit <= 0 is unlimited
// (reservations are still counted).
func NewBudget(limit int64) *Budget {
	b := &Budget{}
	b.limit.Store(limit)
	return b
}

// SetLimit changes the limit (a configuration reload); what is held
// stays held, and new reservations see the new limit.
func (b *Budget) SetLimit(limit int64) { b.limit.Store(limit) }

// Limit is the limit in bytes, <= 0 for unlimited.
func (b *Budget) Limit() int64 { return b.limit.Load() }

// Used is the memory reserved by live decoders, in bytes.
func (b *Budget) Used() int64 { return b.used.Load() }

// Refused counts the reservations refused since the budget was made.
func (b *Budget) Refused() uint64 { return b.refused.Load() }

func (b *Budget) reserve(n int64) bool {
	for {
		used, limit := b.used.Load(), b.limit.Load()
		if limit > 0 && used+n > limit {
			b.refused.Add(1)
			return false
		}
		if b.used.CompareAndSwap(used, used+n) {
			return true
		}
	}
}

// Account is one flow's share of a Budget: its decoder chains reserve
// through it, and Close returns whatever the flow still holds, so a flow
// that ends in any way (reset, timed out, its inspection panicked and its
// chains never closed) gives back its memory once. An Account is used by
// one goroutine at a time, as a flow is.
type Account struct {
	st *accountState
}

type accountState struct {
	b      *Budget
	held   int64
	closed bool
}

// Account returns a new account on b; nil for a nil Budget (no
// accounting).
func (b *Budget) Account() *Account {
	if b == nil {
		return nil
	}
	a := &Account{st: &accountState{b: b}}
	// An account dropped without Close (a flow whose close path panicked)
	// must not hold its share of the budget for the life of the process.
	runtime.AddCleanup(a, (*accountState).close, a.st)
	return a
}

// Close returns what the account holds to the budget; later
// reservations are refused and later releases ignored.
func (a *Account) Close() {
	if a != nil {
		a.st.close()
	}
}

// Held is the memory the account holds, in bytes.
func (a *Account) Held() int64 {
	if a == nil {
		return 0
	}
	return a.st.held
}

func (s *accountState) close() {
	if s.closed {
		return
	}
	s.closed = true
	s.b.used.Add(-s.held)
	s.held = 0
}

func (a *Account) reserve(n int64) bool {
	if a == nil {
		return true
	}
	if a.st.closed || !a.st.b.reserve(n) {
		return false
	}
	a.st.held += n
	return true
}

func (a *Account) release(n int64) {
	if a == nil || a.st.closed {
		return
	}
	n = min(n, a.st.held)
	a.st.held -= n
	a.st.b.used.Add(-n)
}

// layerMem is what one decoder layer holds of its chain's account.
type layerMem struct {
	a    *Account
	held int64
}

// need makes the layer hold at least n bytes, reserving the difference
// before the decoder allocates it.
func (m *layerMem) need(n int64) error {
	if n <= m.held {
		return nil
	}
	if !m.a.reserve(n - m.held) {
		return ErrMemory
	}
	m.held = n
	return nil
}

func (m *layerMem) release() {
	m.a.release(m.held)
	m.held = 0
}

// What a layer holds, by coding. The windows are what the libraries
// allocate for them; the fixed parts are the decoder state besides the
// window (tables, input and output buffers), rounded up from
// BenchmarkFlowMemoryWindows (a br flow with a 16 MiB window held 17 MB,
// a zstd one with 8 MiB 8.9 MB, a gzip one ~150 KB with its 64 KiB body
// window).
const (
	inflateMem   = 128 << 10 // 64 KiB history grown by append, Huffman tables
	brStateMem   = 256 << 10 // Reader's input buffer, our 16 KiB output buffer, tables
	brSlack      = 542       // andybalholm/brotli's ring buffer write-ahead slack
	zstdStateMem = 512 << 10 // block decoder buffers (128 KiB blocks), our 32 KiB output buffer
)

// brMem is what a br layer holds for a ring buffer of ring bytes
// (brRing).
func brMem(ring int64) int64 { return ring + brSlack + brStateMem }

// zstdMem is what a zstd layer holds for a window of w bytes: klauspost's
// frame buffer (twice a window under 128 KiB, else window plus 64 KiB in
// low-memory mode) and the state.
func zstdMem(w int64) int64 {
	if w < 128<<10 {
		return 2*w + zstdStateMem
	}
	return w + 64<<10 + zstdStateMem
}

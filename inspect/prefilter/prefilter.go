package prefilter

import "errors"

// Pattern is one literal the prefilter looks for. IDs are chosen by the
// caller and need not be dense or unique per literal: two patterns with the
// same bytes and different IDs are both reported.
type Pattern struct {
	ID     uint32
	Data   []byte
	Nocase bool // ASCII case-insensitive
}

// Match is one occurrence: the pattern ID and the stream offset one past
// the pattern's last byte (so a match is reported as soon as its last byte
// has been scanned, which is what hold-until-verdict needs).
type Match struct {
	ID  uint32
	End uint64
}

// MatchFunc receives matches in order of End; among equal End values the
// order is unspecified. Returning false stops the scan of the current call.
type MatchFunc func(id uint32, end uint64) bool

// Matcher is a compiled, immutable pattern set, safe for concurrent use.
type Matcher interface {
	// NewStream returns fresh per-stream state.
	NewStream() Stream
	// Patterns returns the number of patterns compiled in.
	Patterns() int
	// Name identifies the engine ("ac", "hyperscan", "naive").
	Name() string
}

// Stream is the per-direction state of one flow. Scanning continues
// across calls: a pattern split across two Scan calls is found, and End
// offsets count from the first byte ever scanned on this stream. A Stream is
// used by one goroutine at a time.
type Stream interface {
	Scan(data []byte, fn MatchFunc)
	// Offset is the number of bytes scanned so far.
	Offset() uint64
	// Reset forgets all state, as if new.
	Reset()
	// Close releases engine resources (hyperscan stream memory). The
	// Stream must not be used after Close.
	Close()
}

// Builder compiles a pattern set.
type Builder func(patterns []Pattern) (Matcher, error)

// ErrEmpty is returned by builders given an empty pattern with no bytes.
var ErrEmpty = errors.New("prefilter: empty pattern")

// ErrNoHyperscan is returned when the hyperscan engine is asked for in a
// binary built without it.
var ErrNoHyperscan = errors.New("prefilter: hyperscan engine not built in (build with -tags hyperscan, cgo and libhyperscan-dev)")

// Sizer is implemented by matchers that can report the memory their
// compiled form holds, for metrics and benchmarks.
type Sizer interface {
	// Size is the approximate number of bytes of the compiled matcher.
	Size() int
}

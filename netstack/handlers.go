package netstack

import (
	"bytes"
	"sync"
)

// PassAll admits every flow and never inspects it (the fast path).
type PassAll struct{}

// NewFlow implements Handler.
func (PassAll) NewFlow(*FlowInfo) (FlowHandler, Verdict) { return passFlow{}, Pass }

type passFlow struct{}

func (passFlow) Chunk(Direction, []byte) Verdict { return Pass }
func (passFlow) Close(FlowStats)                 {}

// PatternHandler returns Verdict for a flow as soon as Pattern appears in
// either direction's byte stream, also when the pattern is split across
// chunks; until then every chunk gets Continue. It is the test double of
// the inspection engine.
type PatternHandler struct {
	Pattern []byte
	Verdict Verdict
}

// NewFlow implements Handler.
func (h *PatternHandler) NewFlow(*FlowInfo) (FlowHandler, Verdict) {
	if len(h.Pattern) == 0 {
		return passFlow{}, Pass
	}
	return &patternFlow{h: h}, Continue
}

type patternFlow struct {
	h *PatternHandler
	// tail keeps the last len(Pattern)-1 bytes of each direction, the
	// most a split match can need from earlier chunks.
	mu   [2]sync.Mutex
	tail [2][]byte
	scan [2][]byte
}

func (f *patternFlow) Chunk(dir Direction, b []byte) Verdict {
	d := int(dir) & 1
	f.mu[d].Lock()
	defer f.mu[d].Unlock()
	p := f.h.Pattern
	if bytes.Contains(b, p) {
		return f.h.Verdict
	}
	keep := len(p) - 1
	if t := f.tail[d]; len(t) > 0 {
		// Only the seam needs checking: the tail plus up to keep bytes
		// of b.
		s := append(f.scan[d][:0], t...)
		s = append(s, b[:min(len(b), keep)]...)
		f.scan[d] = s
		if bytes.Contains(s, p) {
			return f.h.Verdict
		}
	}
	if keep == 0 {
		return Continue
	}
	t := append(f.tail[d], b...)
	if len(t) > keep {
		t = append(t[:0], t[len(t)-keep:]...)
	}
	f.tail[d] = t
	return Continue
}

func (f *patternFlow) Close(FlowStats) {}

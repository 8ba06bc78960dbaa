package prefilter

import "bytes"

// NewNaive builds the reference engine: every pattern is tried at every
// offset. It is quadratic and exists only as the oracle that faster
// engines are tested against.
func NewNaive(patterns []Pattern) (Matcher, error) {
	m := &naive{pats: make([]Pattern, len(patterns))}
	for i, p := range patterns {
		if len(p.Data) == 0 {
			return nil, ErrEmpty
		}
		d := append([]byte(nil), p.Data...)
		if p.Nocase {
			d = asciiLower(d)
		}
		m.pats[i] = Pattern{ID: p.ID, Data: d, Nocase: p.Nocase}
		if len(d) > m.maxLen {
			m.maxLen = len(d)
		}
	}
	return m, nil
}

type naive struct {
	pats   []Pattern
	maxLen int
}

func (m *naive) NewStream() Stream { return &naiveStream{m: m} }
func (m *naive) Patterns() int     { return len(m.pats) }
func (m *naive) Name() string      { return "naive" }

type naiveStream struct {
	m    *naive
	tail []byte // the last maxLen-1 bytes already scanned
	off  uint64
}

func (s *naiveStream) Scan(data []byte, fn MatchFunc) {
	buf := append(append([]byte(nil), s.tail...), data...)
	base := s.off - uint64(len(s.tail))
	lower := asciiLower(buf)
	for end := len(s.tail) + 1; end <= len(buf); end++ {
		for _, p := range s.m.pats {
			if end < len(p.Data) {
				continue
			}
			hay := buf[end-len(p.Data) : end]
			if p.Nocase {
				hay = lower[end-len(p.Data) : end]
			}
			if bytes.Equal(hay, p.Data) && !fn(p.ID, base+uint64(end)) {
				s.advance(buf, data)
				return
			}
		}
	}
	s.advance(buf, data)
}

func (s *naiveStream) advance(buf, data []byte) {
	s.off += uint64(len(data))
	keep := s.m.maxLen - 1
	if keep > len(buf) {
		keep = len(buf)
	}
	s.tail = append(s.tail[:0], buf[len(buf)-keep:]...)
}

func (s *naiveStream) Offset() uint64 { return s.off }
func (s *naiveStream) Reset()         { s.tail, s.off = s.tail[:0], 0 }
func (s *naiveStream) Close()         {}

// asciiLower folds A-Z only. bytes.ToLower is Unicode-aware: it rewrites
// invalid UTF-8 (any binary payload) as U+FFFD, which shifts every offset
// after it, and nocase is ASCII-only in the Pattern contract.
func asciiLower(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = lower(c)
	}
	return out
}

package detect

import (
	"bytes"

	"github.com/interdict/interdict/inspect/prefilter"
)

// NewHashPrefilter builds a simple hashed matcher, a stand-in until the
// Aho-Corasick engine lands in inspect/prefilter. Patterns are indexed by
// their last four (or fewer) case-folded bytes; scanning looks up each end
// position in a bitmap and verifies the few patterns in its bucket, so
// matches come out in order of End as the Matcher contract requires.
// Its speed depends on how many patterns share a suffix; it is not the
// production engine.
func NewHashPrefilter(patterns []prefilter.Pattern) (prefilter.Matcher, error) {
	m := &hashMatcher{}
	for i := range m.tab1 {
		m.tab1[i] = -1
	}
	var b1 [256][]int32
	b2 := map[uint16][]int32{}
	b4 := map[uint32][]int32{}
	for _, p := range patterns {
		if len(p.Data) == 0 {
			return nil, prefilter.ErrEmpty
		}
		hp := hashPattern{id: p.ID, data: append([]byte(nil), p.Data...), nocase: p.Nocase}
		if p.Nocase {
			hp.data = bytes.ToLower(hp.data)
		}
		idx := int32(len(m.pats))
		m.pats = append(m.pats, hp)
		if len(hp.data) > m.maxLen {
			m.maxLen = len(hp.data)
		}
		d := hp.data
		n := len(d)
		switch {
		case n >= 4:
			k := hash4(lowerTab[d[n-4]], lowerTab[d[n-3]], lowerTab[d[n-2]], lowerTab[d[n-1]])
			b4[k] = append(b4[k], idx)
		case n >= 2:
			k := uint16(lowerTab[d[n-2]])<<8 | uint16(lowerTab[d[n-1]])
			b2[k] = append(b2[k], idx)
		default:
			b1[lowerTab[d[0]]] = append(b1[lowerTab[d[0]]], idx)
		}
	}
	m.buckets = append(m.buckets, nil) // index 0 means empty
	for k, v := range b4 {
		m.bits4[k/64] |= 1 << (k % 64)
		m.tab4[k] = int32(len(m.buckets))
		m.buckets = append(m.buckets, v)
	}
	for k, v := range b2 {
		m.has2 = true
		m.tab2[k] = int32(len(m.buckets))
		m.buckets = append(m.buckets, v)
	}
	for k, v := range b1 {
		if len(v) > 0 {
			m.has1 = true
			m.tab1[k] = int32(len(m.buckets))
			m.buckets = append(m.buckets, v)
		}
	}
	return m, nil
}

const hashBits = 18

func hash4(a, b, c, d byte) uint32 {
	v := uint32(a)<<24 | uint32(b)<<16 | uint32(c)<<8 | uint32(d)
	return (v * 2654435761) >> (32 - hashBits)
}

var lowerTab = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if i >= 'A' && i <= 'Z' {
			t[i] = byte(i) + 32
		}
	}
	return t
}()

type hashPattern struct {
	id     uint32
	data   []byte
	nocase bool
}

type hashMatcher struct {
	pats    []hashPattern
	maxLen  int
	buckets [][]int32
	bits4   [1 << hashBits / 64]uint64
	tab4    [1 << hashBits]int32
	tab2    [1 << 16]int32
	tab1    [256]int32
	has1    bool
	has2    bool
}

func (m *hashMatcher) NewStream() prefilter.Stream { return &hashStream{m: m} }
func (m *hashMatcher) Patterns() int               { return len(m.pats) }
func (m *hashMatcher) Name() string                { return "hash" }

type hashStream struct {
	m    *hashMatcher
	tail []byte // the last maxLen-1 bytes scanned
	buf  []byte // scratch: tail + data
	off  uint64
}

func (s *hashStream) Scan(data []byte, fn prefilter.MatchFunc) {
	m := s.m
	hist := len(s.tail)
	head := min(len(data), m.maxLen-1)
	stop := false
	if hist > 0 && head > 0 {
		// Matches that start in earlier data end within the first
		// maxLen-1 new bytes: scan only that seam with history, so the
		// scratch stays as small as the longest pattern.
		s.buf = append(append(s.buf[:0], s.tail...), data[:head]...)
		stop = s.scanRange(s.buf, hist, s.off-uint64(hist), fn)
	}
	if !stop {
		from := 0
		if hist > 0 {
			from = head
		}
		s.scanRange(data, from, s.off, fn)
	}
	s.off += uint64(len(data))
	if keep := min(m.maxLen-1, len(data)); len(data) >= m.maxLen-1 {
		s.tail = append(s.tail[:0], data[len(data)-keep:]...)
	} else {
		s.tail = append(s.tail, data...)
		if over := len(s.tail) - (m.maxLen - 1); over > 0 {
			s.tail = s.tail[:copy(s.tail, s.tail[over:])]
		}
	}
}

// scanRange reports matches whose last byte is buf[e] for e >= from.
func (s *hashStream) scanRange(buf []byte, from int, base uint64, fn prefilter.MatchFunc) bool {
	m := s.m
	var k4 uint32
	for i := max(0, from-3); i < from; i++ {
		k4 = k4<<8 | uint32(lowerTab[buf[i]])
	}
	for e := from; e < len(buf); e++ {
		c := lowerTab[buf[e]]
		k4 = k4<<8 | uint32(c)
		end := e + 1
		if m.has1 {
			if b := m.tab1[c]; b > 0 && s.verify(buf, end, m.buckets[b], base, fn) {
				return true
			}
		}
		if m.has2 && end >= 2 {
			if b := m.tab2[uint16(k4)]; b > 0 && s.verify(buf, end, m.buckets[b], base, fn) {
				return true
			}
		}
		if end >= 4 {
			h := (k4 * 2654435761) >> (32 - hashBits)
			if m.bits4[h/64]&(1<<(h%64)) != 0 && s.verify(buf, end, m.buckets[m.tab4[h]], base, fn) {
				return true
			}
		}
	}
	return false
}

func (s *hashStream) verify(buf []byte, end int, bucket []int32, base uint64, fn prefilter.MatchFunc) bool {
	for _, i := range bucket {
		p := &s.m.pats[i]
		start := end - len(p.data)
		if start < 0 {
			continue
		}
		hay := buf[start:end]
		if p.nocase {
			if !equalFold(hay, p.data) {
				continue
			}
		} else if !bytes.Equal(hay, p.data) {
			continue
		}
		if !fn(p.id, base+uint64(end)) {
			return true
		}
	}
	return false
}

// equalFold compares hay with an already lower-cased pattern, ASCII only.
func equalFold(hay, lower []byte) bool {
	for i, c := range hay {
		if lowerTab[c] != lower[i] {
			return false
		}
	}
	return true
}

func (s *hashStream) Offset() uint64 { return s.off }
func (s *hashStream) Reset()         { s.tail, s.off = s.tail[:0], 0 }
func (s *hashStream) Close()         {}

package prefilter

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"sort"
)

// The fdr engine is a bucketed shift-or filter followed by exact
// confirmation, after the idea of Hyperscan's FDR (written anew here).
//
// Literals are spread over 8 buckets. A 64-bit state holds, for each of the
// last 8 input positions, one bit per bucket: 0 means "the bytes seen at
// that distance from here are still compatible with some literal of the
// bucket". Each byte shifts the state by 8 and ORs in reach[d], where d is
// the two-byte domain (previous byte, current byte), so the filter checks a
// two-byte window at each of the 8 positions. When the top byte of the state
// has a 0 bit, that bucket's literals may end here and are confirmed against
// the input through a small per-bucket hash table.
//
// Unlike Aho-Corasick, the table load of one byte does not depend on the
// load of the previous one: the loop is throughput bound, not latency
// bound, so a reach table of 512 KiB (L2) costs little, where the ac DFA
// for the same literals waits on a cache miss per byte.
//
// Short literals are no special case: a bucket whose shortest literal has
// n < 8 bytes accepts any byte at distances >= n. They do make their
// bucket fire more often, so buckets are formed by length and short
// literals get buckets of their own.

const (
	fdrBuckets = 8
	fdrWindow  = 8 // positions in the state: 64 bits / fdrBuckets
)

type fdrMatcher struct {
	reach *[1 << 16]uint64
	// Literals, deduplicated as in ac: lit i's IDs are litIDs[litOff[i]:litOff[i+1]].
	lits   []fdrLit
	litOff []uint32
	litIDs []uint32
	bkt    [fdrBuckets]fdrBucket
	maxLen int
	npat   int
}

type fdrLit struct {
	data   []byte // lower-cased if nocase
	nocase bool
}

// fdrBucket confirms candidates: literals are hashed by their last keyLen
// bytes, case-folded, into slots; slot s holds conf[heads[s]:heads[s+1]].
type fdrBucket struct {
	keyLen uint32 // 1..8: the bucket's shortest literal, capped at 8
	shift  uint32 // 64 - log2(slots)
	heads  []uint32
	conf   []fdrEntry
}

// fdrEntry is one literal in a confirmation slot. Its last (up to) 8 bytes
// are checked against one 8-byte load of the input with a mask before the
// literal itself is touched: slots often hold several literals with the
// same key (".php?" ends many URI contents), and most literals are short
// enough that this check is the whole confirmation.
type fdrEntry struct {
	key, mask uint64 // last min(len,8) bytes, packed like the input load
	li        uint32
	nocase    bool // key is folded and is compared with the folded input
	short     bool // len <= 8: a key match is a literal match
}

// NewFDR builds the fdr engine (see the package doc).
func NewFDR(patterns []Pattern) (Matcher, error) {
	lits, err := dedupe(patterns)
	if err != nil {
		return nil, err
	}
	m := &fdrMatcher{npat: len(patterns), reach: new([1 << 16]uint64)}
	m.lits = make([]fdrLit, len(lits))
	m.litOff = make([]uint32, len(lits)+1)
	for i, l := range lits {
		m.lits[i] = fdrLit{data: l.data, nocase: l.nocase}
		m.litOff[i] = uint32(len(m.litIDs))
		m.litIDs = append(m.litIDs, l.ids...)
		m.maxLen = max(m.maxLen, len(l.data))
	}
	m.litOff[len(lits)] = uint32(len(m.litIDs))

	buckets := assignBuckets(m.lits)
	for i := range m.reach {
		m.reach[i] = ^uint64(0)
	}
	for b, members := range buckets {
		if len(members) == 0 {
			continue
		}
		minLen := fdrWindow
		for _, li := range members {
			minLen = min(minLen, len(m.lits[li].data))
		}
		// Distances the shortest literal does not reach accept anything.
		var free uint64
		for k := minLen; k < fdrWindow; k++ {
			free |= 1 << (8*(fdrWindow-1-k) + b)
		}
		for d := range m.reach {
			m.reach[d] &^= free
		}
		for _, li := range members {
			m.addReach(&m.lits[li], b)
		}
		m.bkt[b] = newFDRBucket(m.lits, members, uint32(minLen))
	}
	return m, nil
}

// assignBuckets groups literal indices by length: literals of 1-2, 3 and 4
// bytes each get a bucket (a bucket fires as often as its shortest literal
// allows), and the longer ones share the rest evenly in length order.
func assignBuckets(lits []fdrLit) [fdrBuckets][]uint32 {
	var out [fdrBuckets][]uint32
	order := make([]uint32, len(lits))
	for i := range order {
		order[i] = uint32(i)
	}
	sort.SliceStable(order, func(a, b int) bool { return len(lits[order[a]].data) < len(lits[order[b]].data) })
	b := 0
	rest := order
	for _, limit := range []int{2, 3, 4} {
		j := 0
		for j < len(rest) && len(lits[rest[j]].data) <= limit {
			j++
		}
		if j > 0 {
			out[b] = rest[:j]
			rest = rest[j:]
			b++
		}
	}
	left := fdrBuckets - b
	for k := 0; k < left && len(rest) > 0; k++ {
		n := (len(rest) + (left - k) - 1) / (left - k)
		out[b+k] = rest[:n]
		rest = rest[n:]
	}
	return out
}

// variants lists the bytes that match c: both cases of an ASCII letter of
// a nocase literal (stored lower-cased), else c alone.
func variants(c byte, nocase bool, buf *[2]byte) []byte {
	buf[0] = c
	if nocase && 'a' <= c && c <= 'z' {
		buf[1] = c - ('a' - 'A')
		return buf[:2]
	}
	return buf[:1]
}

func (m *fdrMatcher) addReach(l *fdrLit, b int) {
	n := len(l.data)
	var vc, vp [2]byte
	for k := 0; k < min(n, fdrWindow); k++ {
		bit := uint64(1) << (8*(fdrWindow-1-k) + b)
		cs := variants(l.data[n-1-k], l.nocase, &vc)
		if k == n-1 {
			// The literal's first byte: any byte may precede it.
			for p := 0; p < 256; p++ {
				for _, c := range cs {
					m.reach[uint16(p)|uint16(c)<<8] &^= bit
				}
			}
			continue
		}
		for _, p := range variants(l.data[n-2-k], l.nocase, &vp) {
			for _, c := range cs {
				m.reach[uint16(p)|uint16(c)<<8] &^= bit
			}
		}
	}
}

func newFDRBucket(lits []fdrLit, members []uint32, keyLen uint32) fdrBucket {
	slots := 1
	for slots < 2*len(members) {
		slots *= 2
	}
	bk := fdrBucket{keyLen: keyLen, shift: uint32(64 - bits.TrailingZeros(uint(slots)))}
	count := make([]uint32, slots+1)
	hs := make([]uint32, len(members))
	for i, li := range members {
		d := lits[li].data
		h := bk.hash(foldKey(d[len(d)-int(keyLen):]))
		hs[i] = h
		count[h+1]++
	}
	for s := 1; s <= slots; s++ {
		count[s] += count[s-1]
	}
	bk.heads = append([]uint32(nil), count...)
	bk.conf = make([]fdrEntry, len(members))
	for i, li := range members {
		l := &lits[li]
		n := min(len(l.data), 8)
		// The input load holds the 8 bytes ending at the candidate, the
		// last one in the top byte; the literal's tail sits at the top.
		var key uint64
		for _, c := range l.data[len(l.data)-n:] {
			key = key>>8 | uint64(c)<<56
		}
		mask := ^uint64(0) << (8 * (8 - n))
		bk.conf[count[hs[i]]] = fdrEntry{key: key, mask: mask, li: li, nocase: l.nocase, short: len(l.data) <= 8}
		count[hs[i]]++
	}
	return bk
}

// foldKey packs up to 8 bytes little-endian and lower-cases them.
func foldKey(b []byte) uint64 {
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(lower(b[i]))
	}
	return v
}

func (bk *fdrBucket) hash(key uint64) uint32 {
	if bk.shift == 64 {
		return 0
	}
	return uint32((key * 0x9e3779b97f4a7c15) >> bk.shift)
}

// foldSWAR lower-cases the ASCII letters of 8 packed bytes at once.
func foldSWAR(v uint64) uint64 {
	const ones = 0x0101010101010101
	h := v & (0x7f * ones)
	ge := h + (0x80-'A')*ones   // high bit set where byte >= 'A'
	gt := h + (0x80-'Z'-1)*ones // high bit set where byte > 'Z'
	up := ge &^ gt &^ v & (0x80 * ones)
	return v | up>>2
}

func (m *fdrMatcher) NewStream() Stream { return &fdrStream{m: m} }
func (m *fdrMatcher) Patterns() int     { return m.npat }
func (m *fdrMatcher) Name() string      { return "fdr" }

// Size reports the bytes held by the compiled matcher.
func (m *fdrMatcher) Size() int {
	n := len(m.reach)*8 + len(m.lits)*32 + (len(m.litOff)+len(m.litIDs))*4
	for _, l := range m.lits {
		n += len(l.data)
	}
	for _, bk := range m.bkt {
		n += (len(bk.heads) + len(bk.conf)) * 4
	}
	return n
}

// fdrStream carries the shift-or state, the last byte (half of the next
// domain) and the last maxLen-1 bytes, against which candidates that
// start in an earlier chunk are confirmed.
type fdrStream struct {
	m    *fdrMatcher
	st   uint64
	prev byte
	off  uint64
	tail []byte
}

// fdrFire is the smallest state whose top byte is all ones: a state below
// it has some bucket candidate ending at the current byte.
const fdrFire = 0xff << 56

func (s *fdrStream) Scan(data []byte, fn MatchFunc) {
	m := s.m
	reach := m.reach
	st, prev := s.st, uint16(s.prev)
	i, n := 0, len(data)
	stopped := false
	for i < n {
		// Eight bytes per round from one load; the states of the eight
		// ends are ANDed, so one test tells whether any bucket fired. The
		// states are combined as a tree, not a chain of 8 shift-ors, so
		// the round's critical path is 2 shift-ors instead of 8.
		for ; i+8 <= n; i += 8 {
			v := binary.LittleEndian.Uint64(data[i:])
			r0 := reach[prev|uint16(v)<<8]
			r1 := reach[uint16(v)]
			r2 := reach[uint16(v>>8)]
			r3 := reach[uint16(v>>16)]
			r4 := reach[uint16(v>>24)]
			r5 := reach[uint16(v>>32)]
			r6 := reach[uint16(v>>40)]
			r7 := reach[uint16(v>>48)]
			p1, p3, p5, p7 := r0<<8|r1, r2<<8|r3, r4<<8|r5, r6<<8|r7
			s3 := st<<32 | p1<<16 | p3
			s7 := s3<<32 | p5<<16 | p7
			s1 := st<<16 | p1
			s5 := s3<<16 | p5
			s0 := st<<8 | r0
			s2 := s1<<8 | r2
			s4 := s3<<8 | r4
			s6 := s5<<8 | r6
			if s0&s1&s2&s3&s4&s5&s6&s7 < fdrFire {
				break // rescanned byte by byte below
			}
			st, prev = s7, uint16(v>>56)
		}
		// Byte by byte through the block that fired (or the last bytes).
		stop := min(i+8, n)
		for ; i < stop; i++ {
			c := uint16(data[i])
			st = st<<8 | reach[prev|c<<8]
			prev = c
			if st < fdrFire && !stopped {
				stopped = !s.confirm(data, i, uint8(^(st >> 56)), fn)
			}
		}
	}
	s.st, s.prev = st, byte(prev)
	if n > 0 {
		s.keepTail(data)
	}
	s.off += uint64(n)
}

// confirm checks the literals of each firing bucket against the input
// ending at data[i] and reports the matches; false once fn asked to stop.
func (s *fdrStream) confirm(data []byte, i int, fired uint8, fn MatchFunc) bool {
	m := s.m
	end := s.off + uint64(i) + 1
	// have is how many bytes end at data[i] in this stream, up to 8.
	var raw uint64
	have := 8
	if i >= 7 {
		raw = binary.LittleEndian.Uint64(data[i-7:])
	} else {
		raw, have = s.last8(data, i)
	}
	fold := foldSWAR(raw)
	for fired != 0 {
		b := bits.TrailingZeros8(fired)
		fired &= fired - 1
		bk := &m.bkt[b]
		if int(bk.keyLen) > have {
			continue
		}
		h := bk.hash(fold >> (8 * (8 - bk.keyLen)))
		for k := bk.heads[h]; k < bk.heads[h+1]; k++ {
			e := &bk.conf[k]
			v := raw
			if e.nocase {
				v = fold
			}
			if v&e.mask != e.key {
				continue
			}
			l := &m.lits[e.li]
			if e.short {
				if len(l.data) > have {
					continue
				}
			} else if !s.equal(data, i+1, l) {
				continue
			}
			for _, id := range m.litIDs[m.litOff[e.li]:m.litOff[e.li+1]] {
				if !fn(id, end) {
					return false
				}
			}
		}
	}
	return true
}

// last8 packs the up to 8 bytes ending at data[i], reaching into the tail,
// as an 8-byte load ending there would; it also says how many exist.
func (s *fdrStream) last8(data []byte, i int) (uint64, int) {
	var v uint64
	for k := 0; k < 8; k++ {
		p := i - k
		var c byte
		switch {
		case p >= 0:
			c = data[p]
		case len(s.tail)+p >= 0:
			c = s.tail[len(s.tail)+p]
		default:
			return v, k // missing bytes stay 0 at the bottom
		}
		v |= uint64(c) << (8 * (7 - k))
	}
	return v, 8
}

// equal tells whether literal l ends just before data[end], reading the
// tail for the part before data.
func (s *fdrStream) equal(data []byte, end int, l *fdrLit) bool {
	start := end - len(l.data)
	if start >= 0 {
		return eqLit(data[start:end], l.data, l.nocase)
	}
	if -start > len(s.tail) {
		return false
	}
	head := -start
	return eqLit(s.tail[len(s.tail)-head:], l.data[:head], l.nocase) &&
		eqLit(data[:end], l.data[head:], l.nocase)
}

func eqLit(hay, lit []byte, nocase bool) bool {
	if !nocase {
		return bytes.Equal(hay, lit)
	}
	for len(hay) >= 8 {
		if foldSWAR(binary.LittleEndian.Uint64(hay)) != binary.LittleEndian.Uint64(lit) {
			return false
		}
		hay, lit = hay[8:], lit[8:]
	}
	for i, c := range hay {
		if lower(c) != lit[i] {
			return false
		}
	}
	return true
}

// keepTail keeps the last maxLen-1 bytes seen, the most a later match can
// reach back.
func (s *fdrStream) keepTail(data []byte) {
	keep := s.m.maxLen - 1
	if keep == 0 {
		return
	}
	if s.tail == nil {
		s.tail = make([]byte, 0, keep)
	}
	if len(data) >= keep {
		s.tail = append(s.tail[:0], data[len(data)-keep:]...)
		return
	}
	if over := len(s.tail) + len(data) - keep; over > 0 {
		s.tail = s.tail[:copy(s.tail, s.tail[over:])]
	}
	s.tail = append(s.tail, data...)
}

func (s *fdrStream) Offset() uint64 { return s.off }
func (s *fdrStream) Reset()         { s.st, s.prev, s.off, s.tail = 0, 0, 0, s.tail[:0] }
func (s *fdrStream) Close()         {}

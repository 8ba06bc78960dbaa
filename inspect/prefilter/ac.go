package prefilter

import (
	"fmt"
	"sort"
	"sync"
)

// The ac engine is one deterministic automaton over byte classes.
//
// Exact and nocase patterns cannot share one Aho-Corasick trie: folding the
// input would let "GET" match "get", and expanding every nocase pattern into
// all its casings is exponential. So two tries are built, one over raw
// bytes for exact patterns and one over lower-cased bytes for nocase
// patterns, and the scanned automaton is their product: a state is a pair
// (exact node, folded node) and its outputs are the union of both. Only
// reachable pairs are built; a pair's folded node is nearly always a suffix
// of its exact node's string or vice versa, so the product has barely more
// states than the two tries together (measured on ET Open in the tests).
//
// Each state has a few explicit transitions (the children of either node)
// and a fallback, the pair of both failure links, which behaves the same on
// every other class. Shallow states, where scanning spends nearly all its
// time, get a dense row with every class resolved, so the hot loop is one
// table load per byte; deep states keep only their explicit transitions
// (a full table for ET Open would be hundreds of MB). Dense rows are laid
// out premultiplied: a transition stores the next row's offset, and any
// value >= limit marks a state that needs attention (outputs, or sparse).

// acDenseBudget bounds the dense transition table. 16 MiB keeps every state
// of depth <= 3 dense for all ET Open contents, which covers over 99% of
// scanned bytes on HTTP-like traffic (see BenchmarkScan); a larger budget
// did not measurably speed scanning up and costs memory per loaded ruleset.
const acDenseBudget = 16 << 20

type acMatcher struct {
	cls   [256]uint32 // byte -> class
	nc    uint32      // number of classes
	dense []uint32    // nDense rows of nc codes
	limit uint32      // codes >= limit are limit+state id
	// per state, indexed by id
	states []acState
	// flat storage
	outIDs    []uint32 // per state: literal indices
	litOff    []uint32 // literal i's IDs are litIDs[litOff[i]:litOff[i+1]]
	litIDs    []uint32
	exCls     []uint32 // explicit transitions of sparse states: class
	exCode    []uint32 // ... and the code of the target
	nDense    uint32
	events    sync.Pool // *acLaneEvents
	npat      int
	trieNodes int // both tries, for the product-size figure in tests
	maxLen    int
}

type acState struct {
	outOff, outLen uint32
	exOff, exLen   uint32 // sparse states only
	fallback       uint32 // sparse states only: state id
}

// NewAC builds the in-house Aho-Corasick engine (see the package doc).
func NewAC(patterns []Pattern) (Matcher, error) {
	return newAC(patterns, acDenseBudget)
}

// trie is one Aho-Corasick automaton used at build time only.
type trie struct {
	kids  [][]trieEdge // per node, sorted by byte
	fail  []uint32
	depth []uint32
	out   [][]uint32 // pattern indices, dictionary suffixes merged in
}

type trieEdge struct {
	b    byte
	node uint32
}

func newTrie() *trie {
	return &trie{kids: [][]trieEdge{nil}, fail: []uint32{0}, depth: []uint32{0}, out: [][]uint32{nil}}
}

func (t *trie) child(n uint32, b byte) (uint32, bool) {
	k := t.kids[n]
	i := sort.Search(len(k), func(i int) bool { return k[i].b >= b })
	if i < len(k) && k[i].b == b {
		return k[i].node, true
	}
	return 0, false
}

func (t *trie) add(data []byte, pat uint32) {
	var n uint32
	for _, b := range data {
		c, ok := t.child(n, b)
		if !ok {
			c = uint32(len(t.kids))
			t.kids = append(t.kids, nil)
			t.fail = append(t.fail, 0)
			t.depth = append(t.depth, t.depth[n]+1)
			t.out = append(t.out, nil)
			k := t.kids[n]
			i := sort.Search(len(k), func(i int) bool { return k[i].b >= b })
			k = append(k, trieEdge{})
			copy(k[i+1:], k[i:])
			k[i] = trieEdge{b, c}
			t.kids[n] = k
		}
		n = c
	}
	t.out[n] = append(t.out[n], pat)
}

// link computes failure links breadth first and merges each node's
// dictionary-suffix outputs into its own, so a scan never walks a chain.
func (t *trie) link() {
	queue := []uint32{0}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, e := range t.kids[n] {
			if n != 0 {
				t.fail[e.node] = t.step(t.fail[n], e.b)
				if fo := t.out[t.fail[e.node]]; len(fo) > 0 {
					t.out[e.node] = append(t.out[e.node][:len(t.out[e.node]):len(t.out[e.node])], fo...)
				}
			}
			queue = append(queue, e.node)
		}
	}
}

// step is the Aho-Corasick goto function; build time only.
func (t *trie) step(n uint32, b byte) uint32 {
	for {
		if c, ok := t.child(n, b); ok {
			return c
		}
		if n == 0 {
			return 0
		}
		n = t.fail[n]
	}
}

func lower(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

const noByte = 256

type literal struct {
	data   []byte // lower-cased if nocase
	nocase bool
	ids    []uint32
}

// dedupe groups patterns by (bytes, nocase), keeping every ID in order,
// duplicates included: the contract reports each pattern, not each literal.
// A nocase pattern without ASCII letters is exact: "/?" nocase and "/?"
// are then one literal, confirmed once.
func dedupe(patterns []Pattern) ([]literal, error) {
	var lits []literal
	seen := map[string]int{}
	var key []byte
	for i, p := range patterns {
		if len(p.Data) == 0 {
			return nil, fmt.Errorf("pattern %d (id %d): %w", i, p.ID, ErrEmpty)
		}
		key = append(key[:0], 'e')
		nocase := p.Nocase && hasLetter(p.Data)
		if nocase {
			key[0] = 'n'
			for _, b := range p.Data {
				key = append(key, lower(b))
			}
		} else {
			key = append(key, p.Data...)
		}
		j, ok := seen[string(key)]
		if !ok {
			j = len(lits)
			seen[string(key)] = j
			lits = append(lits, literal{data: append([]byte(nil), key[1:]...), nocase: nocase})
		}
		lits[j].ids = append(lits[j].ids, p.ID)
	}
	return lits, nil
}

type pairState struct {
	e, f     uint32
	depth    uint32 // max of both sides: scanning time goes by it
	sum      uint32 // sum of both sides: every fallback has a smaller one
	ex       []pairEdge
	fallback uint32
}

type pairEdge struct {
	c      uint32
	target uint32 // build-time pair index
}

func newAC(patterns []Pattern, denseBudget int) (*acMatcher, error) {
	m := &acMatcher{npat: len(patterns)}
	m.events.New = func() any { return new(acLaneEvents) }
	et, ft := newTrie(), newTrie()
	var inE, inF [256]bool
	// Rulesets repeat literals (ET Open: 79k contents, 38k distinct), so
	// trie outputs name distinct literals and each literal lists its IDs.
	lits, err := dedupe(patterns)
	if err != nil {
		return nil, err
	}
	for i, l := range lits {
		m.maxLen = max(m.maxLen, len(l.data))
		if l.nocase {
			for _, b := range l.data {
				inF[b] = true
			}
			ft.add(l.data, uint32(i))
		} else {
			for _, b := range l.data {
				inE[b] = true
			}
			et.add(l.data, uint32(i))
		}
	}
	m.litOff = make([]uint32, len(lits)+1)
	for i, l := range lits {
		m.litOff[i] = uint32(len(m.litIDs))
		m.litIDs = append(m.litIDs, l.ids...)
	}
	m.litOff[len(lits)] = uint32(len(m.litIDs))
	et.link()
	ft.link()

	// Byte classes: two bytes are equivalent when both tries treat them
	// alike, i.e. same exact identity (or absent) and same folded identity
	// (or absent). Bytes in no pattern share one class, if any exist.
	classOf := map[[2]int]uint32{}
	var exactOf, foldOf []int // per class: exact / folded byte or noByte
	for b := 0; b < 256; b++ {
		k := [2]int{noByte, noByte}
		if inE[b] {
			k[0] = b
		}
		if l := lower(byte(b)); inF[l] {
			k[1] = int(l)
		}
		c, ok := classOf[k]
		if !ok {
			c = uint32(len(exactOf))
			classOf[k] = c
			exactOf = append(exactOf, k[0])
			foldOf = append(foldOf, k[1])
		}
		m.cls[b] = c
	}
	m.nc = uint32(len(exactOf))
	m.trieNodes = len(et.kids) + len(ft.kids)
	classesOfFold := make([][]uint32, 256) // folded byte -> classes
	for c := uint32(0); c < m.nc; c++ {
		if f := foldOf[c]; f != noByte {
			classesOfFold[f] = append(classesOfFold[f], c)
		}
	}

	// Product construction over reachable pairs plus their fallbacks.
	index := map[uint64]uint32{}
	var ps []pairState
	get := func(e, f uint32) uint32 {
		k := uint64(e)<<32 | uint64(f)
		if i, ok := index[k]; ok {
			return i
		}
		i := uint32(len(ps))
		index[k] = i
		ps = append(ps, pairState{e: e, f: f, depth: max(et.depth[e], ft.depth[f]), sum: et.depth[e] + ft.depth[f]})
		return i
	}
	get(0, 0)
	var cs []uint32
	for i := uint32(0); i < uint32(len(ps)); i++ {
		e, f := ps[i].e, ps[i].f
		if i == 0 {
			// The root resolves every class itself: it becomes dense row 0.
			for c := uint32(0); c < m.nc; c++ {
				cs = append(cs, c)
			}
		} else {
			// Fall back by one side's failure link only: on every class
			// that is not a child of that side, both sides then behave
			// as in the fallback. Follow the side with fewer children, so
			// that deep exact states paired with the folded root do not
			// list the root's ~200 children.
			cs = cs[:0]
			useE := e != 0 && (f == 0 || len(et.kids[e]) <= len(ft.kids[f]))
			if useE {
				for _, k := range et.kids[e] {
					cs = append(cs, m.cls[k.b])
				}
				ps[i].fallback = get(et.fail[e], f)
			} else {
				for _, k := range ft.kids[f] {
					cs = append(cs, classesOfFold[k.b]...)
				}
				ps[i].fallback = get(e, ft.fail[f])
			}
			sort.Slice(cs, func(a, b int) bool { return cs[a] < cs[b] })
		}
		var ex []pairEdge
		for _, c := range cs {
			ne, nf := uint32(0), uint32(0)
			if x := exactOf[c]; x != noByte {
				ne = et.step(e, byte(x))
			}
			if x := foldOf[c]; x != noByte {
				nf = ft.step(f, byte(x))
			}
			ex = append(ex, pairEdge{c, get(ne, nf)})
		}
		ps[i].ex = ex
	}

	// Number states by (depth, sum) so every fallback has a smaller id
	// and the dense prefix is the shallow part.
	order := make([]uint32, len(ps))
	for i := range order {
		order[i] = uint32(i)
	}
	sort.SliceStable(order, func(a, b int) bool {
		pa, pb := &ps[order[a]], &ps[order[b]]
		return pa.depth < pb.depth || pa.depth == pb.depth && pa.sum < pb.sum
	})
	id := make([]uint32, len(ps))
	for n, old := range order {
		id[old] = uint32(n)
	}
	ns := uint32(len(ps))
	rowBytes := int(m.nc) * 4
	nDense := uint32(max(1, min(int(ns), denseBudget/rowBytes)))
	m.nDense = nDense
	m.limit = nDense * m.nc
	if uint64(m.limit)+uint64(ns) >= 1<<32 {
		return nil, fmt.Errorf("prefilter: ac automaton too large (%d states, %d classes)", ns, m.nc)
	}
	m.states = make([]acState, ns)
	hasOut := make([]bool, ns)
	for n, old := range order {
		p := &ps[old]
		st := &m.states[n]
		st.outOff = uint32(len(m.outIDs))
		m.outIDs = append(m.outIDs, et.out[p.e]...)
		m.outIDs = append(m.outIDs, ft.out[p.f]...)
		st.outLen = uint32(len(m.outIDs)) - st.outOff
		hasOut[n] = st.outLen > 0
	}
	code := func(s uint32) uint32 {
		if s < nDense && !hasOut[s] {
			return s * m.nc
		}
		return m.limit + s
	}
	m.dense = make([]uint32, int(nDense)*int(m.nc))
	for n := uint32(0); n < ns; n++ {
		p := &ps[order[n]]
		if n < nDense {
			row := m.dense[n*m.nc : (n+1)*m.nc]
			if n != 0 {
				copy(row, m.dense[id[p.fallback]*m.nc:(id[p.fallback]+1)*m.nc])
			}
			for _, x := range p.ex {
				row[x.c] = code(id[x.target])
			}
			continue
		}
		st := &m.states[n]
		st.fallback = id[p.fallback]
		st.exOff = uint32(len(m.exCls))
		for _, x := range p.ex {
			m.exCls = append(m.exCls, x.c)
			m.exCode = append(m.exCode, code(id[x.target]))
		}
		st.exLen = uint32(len(m.exCls)) - st.exOff
	}
	return m, nil
}

func (m *acMatcher) NewStream() Stream { return &acStream{m: m} }
func (m *acMatcher) Patterns() int     { return m.npat }
func (m *acMatcher) Name() string      { return "ac" }

// Size reports the bytes held by the compiled automaton.
func (m *acMatcher) Size() int {
	return len(m.dense)*4 + len(m.states)*20 + (len(m.outIDs)+len(m.litOff)+len(m.litIDs))*4 + len(m.exCls)*8
}

// next leaves a special state (sparse, or dense with outputs) on class c.
func (m *acMatcher) next(s, c uint32) uint32 {
	for s >= m.nDense {
		st := &m.states[s]
		ex := m.exCls[st.exOff : st.exOff+st.exLen]
		for j, x := range ex {
			if x == c {
				return m.exCode[st.exOff+uint32(j)]
			}
		}
		s = st.fallback
	}
	return m.dense[s*m.nc+c]
}

type acStream struct {
	m    *acMatcher
	code uint32 // current state's code (see acMatcher)
	off  uint64
}

// acLanes is how many stretches of one chunk are scanned interleaved. A
// big automaton spends each byte waiting for a dependent table load that
// misses cache; independent lanes overlap those misses. Each lane after
// the first re-reads the maxLen bytes before its stretch from the root:
// an automaton state is a function of the last maxLen bytes, so the lane
// then stands in the exact state the previous lane would have.
const acLanes = 4

// acLaneMin is the shortest chunk worth splitting: the warm-up costs
// maxLen bytes per lane and the events go through a pooled buffer.
const acLaneMin = 8 << 10

type acEvent struct {
	end uint32 // index in data one past the match
	id  uint32 // state id
}

func (s *acStream) Scan(data []byte, fn MatchFunc) {
	if len(data) >= acLaneMin && len(data) >= 8*acLanes*s.m.maxLen && len(data) < 1<<31 {
		s.scanLanes(data, fn)
		return
	}
	m := s.m
	dense, limit := m.dense, m.limit
	cls := &m.cls
	code := s.code
	base := s.off
	stopped := false
	i, n := 0, len(data)
	for i < n {
		if code < limit {
			// Hot loop: one class load and one table load per byte.
			for {
				code = dense[code+cls[data[i]]]
				i++
				if code >= limit || i == n {
					break
				}
			}
			if code < limit {
				break
			}
		} else {
			code = m.next(code-limit, cls[data[i]])
			i++
			if code < limit {
				continue
			}
		}
		st := &m.states[code-limit]
		if st.outLen == 0 || stopped {
			continue
		}
		end := base + uint64(i)
		stopped = !m.report(st, end, fn)
	}
	s.code = code
	s.off += uint64(n)
}

// report calls fn for every ID of every literal ending in state st, and
// returns false once fn asked to stop. The caller still scans the rest of
// its data so the state is right for the next call, as the contract asks.
func (m *acMatcher) report(st *acState, end uint64, fn MatchFunc) bool {
	for _, l := range m.outIDs[st.outOff : st.outOff+st.outLen] {
		for _, id := range m.litIDs[m.litOff[l]:m.litOff[l+1]] {
			if !fn(id, end) {
				return false
			}
		}
	}
	return true
}

func (s *acStream) Offset() uint64 { return s.off }
func (s *acStream) Reset()         { s.code, s.off = 0, 0 }
func (s *acStream) Close()         {}

func (s *acStream) scanLanes(data []byte, fn MatchFunc) {
	m := s.m
	dense, limit, cls := m.dense, m.limit, &m.cls
	n := len(data)
	span := n / acLanes
	// Lane j scans data[from[j]:to[j]] and reports ends after start[j].
	var from, start, to [acLanes]int
	for j := range acLanes {
		start[j], to[j] = j*span, (j+1)*span
		from[j] = start[j] - m.maxLen
	}
	from[0], to[acLanes-1] = 0, n
	var c [acLanes]uint32
	c[0] = s.code
	ev := m.events.Get().(*acLaneEvents)
	rounds := span
	for j := range acLanes {
		rounds = min(rounds, to[j]-from[j])
	}
	// Interleaved part: every lane advances one byte per round.
	for i := 0; i < rounds; i++ {
		for j := 0; j < acLanes; j++ {
			x := c[j]
			b := cls[data[from[j]+i]]
			if x < limit {
				x = dense[x+b]
			} else {
				x = m.next(x-limit, b)
			}
			c[j] = x
			if x >= limit && m.states[x-limit].outLen != 0 && from[j]+i+1 > start[j] {
				ev[j] = append(ev[j], acEvent{uint32(from[j] + i + 1), x - limit})
			}
		}
	}
	// Each lane's rest, one after the other.
	for j := 0; j < acLanes; j++ {
		x := c[j]
		for pos := from[j] + rounds; pos < to[j]; pos++ {
			b := cls[data[pos]]
			if x < limit {
				x = dense[x+b]
			} else {
				x = m.next(x-limit, b)
			}
			if x >= limit && m.states[x-limit].outLen != 0 && pos+1 > start[j] {
				ev[j] = append(ev[j], acEvent{uint32(pos + 1), x - limit})
			}
		}
		c[j] = x
	}
	// Lanes cover consecutive stretches, so lane order is End order.
	base := s.off
	stopped := false
	for j := range ev {
		for _, e := range ev[j] {
			if !stopped && !m.report(&m.states[e.id], base+uint64(e.end), fn) {
				stopped = true
			}
		}
		ev[j] = ev[j][:0]
	}
	m.events.Put(ev)
	s.code = c[acLanes-1]
	s.off += uint64(n)
}

// acLaneEvents is one Scan's per-lane match events; pooled so streams
// hold no buffer and Scan does not allocate once the pool is warm.
type acLaneEvents [acLanes][]acEvent

func hasLetter(b []byte) bool {
	for _, c := range b {
		if 'a' <= c|0x20 && c|0x20 <= 'z' {
			return true
		}
	}
	return false
}

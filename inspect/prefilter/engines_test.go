package prefilter

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// engines returns every engine built in except the naive oracle.
func engines() []string {
	var names []string
	for n := range Builders() {
		if n != "naive" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

func build(t testing.TB, engine string, pats []Pattern) Matcher {
	t.Helper()
	b, err := Lookup(engine)
	require.NoError(t, err)
	m, err := b(pats)
	require.NoError(t, err, "build %s", engine)
	require.Equal(t, engine, m.Name())
	require.Equal(t, len(pats), m.Patterns())
	return m
}

// scanChunks feeds chunks to a fresh stream and returns every match,
// failing if matches are not reported in order of End or the offset is off.
func scanChunks(t testing.TB, m Matcher, chunks [][]byte) []Match {
	t.Helper()
	s := m.NewStream()
	defer s.Close()
	var got []Match
	total := uint64(0)
	for _, c := range chunks {
		s.Scan(c, func(id uint32, end uint64) bool {
			got = append(got, Match{id, end})
			return true
		})
		total += uint64(len(c))
		if s.Offset() != total {
			t.Fatalf("%s: Offset() = %d after %d bytes", m.Name(), s.Offset(), total)
		}
	}
	if e, ok := s.(interface{ Err() error }); ok && e.Err() != nil {
		t.Fatalf("%s: stream error: %v", m.Name(), e.Err())
	}
	for i := 1; i < len(got); i++ {
		if got[i].End < got[i-1].End {
			t.Fatalf("%s: match %d (%v) reported after %v: not in order of End", m.Name(), i, got[i], got[i-1])
		}
	}
	return sorted(got)
}

func sorted(ms []Match) []Match {
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].End != ms[j].End {
			return ms[i].End < ms[j].End
		}
		return ms[i].ID < ms[j].ID
	})
	return ms
}

// cut splits text at the given sorted offsets.
func cut(text []byte, at ...int) [][]byte {
	var out [][]byte
	prev := 0
	for _, a := range at {
		out = append(out, text[prev:a])
		prev = a
	}
	return append(out, text[prev:])
}

func pats(specs ...string) []Pattern {
	// "i:" prefix marks nocase; IDs are the index unless repeated below.
	var out []Pattern
	for i, s := range specs {
		p := Pattern{ID: uint32(i), Data: []byte(s)}
		if len(s) > 2 && s[:2] == "i:" {
			p.Data, p.Nocase = []byte(s[2:]), true
		}
		out = append(out, p)
	}
	return out
}

func TestEnginesTable(t *testing.T) {
	tests := []struct {
		name string
		pats []Pattern
		text string
		want []Match
	}{
		{"overlapping", pats("abab", "bab"), "xababab",
			[]Match{{0, 5}, {1, 5}, {0, 7}, {1, 7}}},
		{"suffix of another", pats("he", "she", "hers", "e"), "ushers",
			[]Match{{0, 4}, {1, 4}, {3, 4}, {2, 6}}},
		{"prefix of another", pats("ab", "abcd", "a"), "abcdab",
			[]Match{{2, 1}, {0, 2}, {1, 4}, {2, 5}, {0, 6}}},
		{"duplicates with different ids", []Pattern{{ID: 7, Data: []byte("cat")}, {ID: 9, Data: []byte("cat")}, {ID: 7, Data: []byte("cat")}}, "a cat",
			[]Match{{7, 5}, {7, 5}, {9, 5}}},
		{"exact is case sensitive", pats("GET", "i:host"), "get GET Host HOST hOsT",
			[]Match{{0, 7}, {1, 12}, {1, 17}, {1, 22}}},
		{"nocase and exact of same bytes", pats("Abc", "i:abc", "abc"), "abc ABC Abc",
			[]Match{{1, 3}, {2, 3}, {1, 7}, {0, 11}, {1, 11}}},
		{"nocase folds only ascii letters", pats("i:a[1", "i:\xc4"), "A[1 A{1 \xe4\xc4",
			[]Match{{0, 3}, {1, 10}}},
		{"binary bytes", []Pattern{{ID: 1, Data: []byte{0, 0xff, 0}}, {ID: 2, Data: []byte{0xff}}, {ID: 3, Data: []byte{0, 0}, Nocase: true}},
			"\x00\xff\x00\x00\xff\x00",
			[]Match{{2, 2}, {1, 3}, {3, 4}, {2, 5}, {1, 6}}},
		{"single bytes", pats("a", "i:b", "\n"), "aAbB\n",
			[]Match{{0, 1}, {1, 3}, {1, 4}, {2, 5}}},
		{"no match", pats("needle"), "haystack without it", nil},
		{"repeated byte", pats("aa", "aaa"), "aaaa",
			[]Match{{0, 2}, {0, 3}, {1, 3}, {0, 4}, {1, 4}}},
	}
	for _, tt := range tests {
		for _, engine := range append([]string{"naive"}, engines()...) {
			t.Run(engine+"/"+tt.name, func(t *testing.T) {
				m := build(t, engine, tt.pats)
				want := sorted(append([]Match(nil), tt.want...))
				text := []byte(tt.text)
				assert.Equal(t, want, scanChunks(t, m, [][]byte{text}), "whole")
				// Every split point, then every byte on its own.
				for i := 0; i <= len(text); i++ {
					for j := i; j <= len(text); j++ {
						assert.Equal(t, want, scanChunks(t, m, cut(text, i, j)), "cut at %d,%d", i, j)
					}
				}
				var bytewise [][]byte
				for i := range text {
					bytewise = append(bytewise, text[i:i+1])
				}
				assert.Equal(t, want, scanChunks(t, m, bytewise), "byte by byte")
			})
		}
	}
}

func TestEmptyPattern(t *testing.T) {
	for _, engine := range append([]string{"naive"}, engines()...) {
		t.Run(engine, func(t *testing.T) {
			b, err := Lookup(engine)
			require.NoError(t, err)
			_, err = b([]Pattern{{ID: 1, Data: []byte("x")}, {ID: 2}})
			assert.ErrorIs(t, err, ErrEmpty)
		})
	}
}

func TestStopAndResume(t *testing.T) {
	// Stopping ends the current call's reports, but the stream state still
	// covers the whole chunk: a match ending in the next chunk is found.
	for _, engine := range append([]string{"naive"}, engines()...) {
		t.Run(engine, func(t *testing.T) {
			m := build(t, engine, pats("ab", "xyz"))
			s := m.NewStream()
			defer s.Close()
			var got []Match
			s.Scan([]byte("ab ab ab x"), func(id uint32, end uint64) bool {
				got = append(got, Match{id, end})
				return false
			})
			assert.Equal(t, []Match{{0, 2}}, got)
			got = nil
			s.Scan([]byte("yz ab"), func(id uint32, end uint64) bool {
				got = append(got, Match{id, end})
				return true
			})
			assert.Equal(t, []Match{{1, 12}, {0, 15}}, got)
			s.Reset()
			assert.Zero(t, s.Offset())
			got = nil
			s.Scan([]byte("yzab"), func(id uint32, end uint64) bool {
				got = append(got, Match{id, end})
				return true
			})
			assert.Equal(t, []Match{{0, 4}}, got, "Reset forgets the partial x")
		})
	}
}

func TestLookup(t *testing.T) {
	b, err := Lookup("ac")
	require.NoError(t, err)
	require.NotNil(t, b)
	auto, err := Lookup("auto")
	require.NoError(t, err)
	m, err := auto(pats("x"))
	require.NoError(t, err)
	assert.Equal(t, "fdr", m.Name(), "auto is the default engine")
	_, err = Lookup("nope")
	assert.ErrorContains(t, err, `unknown engine "nope"`)
	if _, ok := Builders()["hyperscan"]; !ok {
		_, err = Lookup("hyperscan")
		assert.ErrorIs(t, err, ErrNoHyperscan)
		_, err = NewHyperscan(pats("x"))
		assert.ErrorIs(t, err, ErrNoHyperscan)
	}
}

// TestConcurrentStreams scans many streams of one matcher at once, each
// in its own chunking, as the relay's per-flow goroutines do (run with
// -race to check the shared matcher is only read).
func TestConcurrentStreams(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	ps, text := randomCase(r, []byte("abcABC\x00"), 50, 6, 3000)
	oracle, err := NewNaive(ps)
	require.NoError(t, err)
	want := scanChunks(t, oracle, [][]byte{text})
	for _, engine := range engines() {
		t.Run(engine, func(t *testing.T) {
			m := build(t, engine, ps)
			chunkings := make([][][]byte, 8)
			for i := range chunkings {
				chunkings[i] = randomChunks(r, text)
			}
			results := make([][]Match, len(chunkings))
			var wg sync.WaitGroup
			for i := range chunkings {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 5 {
						results[i] = scanChunks(t, m, chunkings[i])
					}
				}()
			}
			wg.Wait()
			for i := range results {
				assert.Equal(t, want, results[i], "stream %d", i)
			}
		})
	}
}

// randomCase is a pattern set and a text seeded with its patterns.
func randomCase(r *rand.Rand, alphabet []byte, npat, maxLen, textLen int) ([]Pattern, []byte) {
	ps := make([]Pattern, npat)
	for i := range ps {
		d := make([]byte, 1+r.IntN(maxLen))
		for j := range d {
			d[j] = alphabet[r.IntN(len(alphabet))]
		}
		ps[i] = Pattern{ID: uint32(r.IntN(npat + 3)), Data: d, Nocase: r.IntN(2) == 0}
	}
	text := make([]byte, 0, textLen+maxLen)
	for len(text) < textLen {
		if r.IntN(3) == 0 {
			p := ps[r.IntN(len(ps))]
			for _, b := range p.Data {
				if p.Nocase && r.IntN(2) == 0 {
					b = bytes.ToUpper([]byte{b})[0]
				}
				text = append(text, b)
			}
		} else {
			text = append(text, alphabet[r.IntN(len(alphabet))])
		}
	}
	return ps, text
}

func randomChunks(r *rand.Rand, text []byte) [][]byte {
	var cuts []int
	for i := 1; i < len(text); i++ {
		if r.IntN(8) == 0 {
			cuts = append(cuts, i)
		}
	}
	return cut(text, cuts...)
}

// differential checks every engine against the naive oracle.
func differential(t testing.TB, ps []Pattern, text []byte, chunkings ...[][]byte) []Match {
	t.Helper()
	oracle, err := NewNaive(ps)
	if err != nil {
		t.Fatal(err)
	}
	want := scanChunks(t, oracle, [][]byte{text})
	for _, engine := range engines() {
		m := build(t, engine, ps)
		for k, chunks := range chunkings {
			got := scanChunks(t, m, chunks)
			if !assert.Equal(t, want, got, "%s, chunking %d, patterns %q, text %q", engine, k, ps, text) {
				return want
			}
		}
	}
	return want
}

func TestDifferentialRandom(t *testing.T) {
	alphabets := map[string][]byte{
		"small":  []byte("abAB"),
		"text":   []byte("aAbBcCxX-/: \r\n01"),
		"binary": {0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, 'a', 'Z'},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for name, alpha := range alphabets {
		for _, npat := range []int{1, 5, 40, 300} {
			t.Run(fmt.Sprintf("%s/%d", name, npat), func(t *testing.T) {
				for round := 0; round < 20; round++ {
					ps, text := randomCase(r, alpha, npat, 7, 400)
					differential(t, ps, text, [][]byte{text}, randomChunks(r, text), randomChunks(r, text))
				}
			})
		}
	}
}

// TestACHybrid forces most states sparse, to test the deep-state path on
// small sets as well.
func TestACHybrid(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := 0; round < 50; round++ {
		ps, text := randomCase(r, []byte("aAbBcC\x00\xff"), 60, 9, 600)
		oracle, err := NewNaive(ps)
		require.NoError(t, err)
		want := scanChunks(t, oracle, [][]byte{text})
		for _, budget := range []int{0, 4 * 1024} {
			m, err := newAC(ps, budget)
			require.NoError(t, err)
			require.Less(t, m.nDense, uint32(len(m.states)))
			require.Equal(t, want, scanChunks(t, m, randomChunks(r, text)), "budget %d", budget)
		}
	}
}

// FuzzEngines decodes a pattern set from spec (length-prefixed records,
// the top bit of the length byte meaning nocase) and compares every engine
// with the naive oracle on text cut at the fuzzer's chosen points.
func FuzzEngines(f *testing.F) {
	f.Add([]byte("\x03abc\x82he\x01e"), []byte("ABC abc he HE"), uint64(5))
	f.Add([]byte("\x02\x00\xff\x81\xff"), []byte{0, 0xff, 0, 0xff, 0xff}, uint64(1))
	f.Add([]byte("\x04abab\x03bab"), []byte("abababab"), uint64(0xfff))
	f.Fuzz(func(t *testing.T, spec, text []byte, cutSeed uint64) {
		var ps []Pattern
		for len(spec) > 0 && len(ps) < 64 {
			n := int(spec[0] & 0x7f)
			nocase := spec[0]&0x80 != 0
			spec = spec[1:]
			if n == 0 || n > len(spec) {
				break
			}
			ps = append(ps, Pattern{ID: uint32(len(ps) % 5), Data: spec[:n], Nocase: nocase})
			spec = spec[n:]
		}
		if len(ps) == 0 || len(text) > 4096 {
			return
		}
		r := rand.New(rand.NewPCG(cutSeed, 0))
		differential(t, ps, text, [][]byte{text}, randomChunks(r, text))
	})
}

// TestACLanes covers chunks big enough for the interleaved lanes, with
// matches straddling lane borders, and a stop in the middle of a chunk.
func TestACLanes(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for round := 0; round < 6; round++ {
		ps, text := randomCase(r, []byte("abcAB\x00\xff"), 80, 12, 50000)
		oracle, err := NewNaive(ps)
		require.NoError(t, err)
		want := scanChunks(t, oracle, [][]byte{text})
		for _, budget := range []int{acDenseBudget, 2048} {
			m, err := newAC(ps, budget)
			require.NoError(t, err)
			for _, chunks := range [][][]byte{{text}, cut(text, 9000, 30001), cut(text, 1, 20000, 20001)} {
				require.Equal(t, want, scanChunks(t, m, chunks), "budget %d", budget)
			}
			s := m.NewStream()
			var got []Match
			s.Scan(text[:len(text)/2], func(id uint32, end uint64) bool {
				got = append(got, Match{id, end})
				return len(got) < 10
			})
			require.Len(t, got, 10)
			// IDs sharing an End come in unspecified order: compare Ends.
			for i := range got {
				assert.Equal(t, want[i].End, got[i].End, "match %d", i)
			}
		}
	}
}

// TestFDRLongLiterals covers what the short random cases do not: literals
// longer than the 8-byte filter window and than the 8-byte confirmation
// key, straddling chunks of every size down to one byte, so confirmation
// reads the stream's tail; and enough literals of each length class to
// fill all buckets.
func TestFDRLongLiterals(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for round := 0; round < 30; round++ {
		ps, text := randomCase(r, []byte("abAB/.\x00"), 120, 24, 3000)
		oracle, err := NewNaive(ps)
		require.NoError(t, err)
		want := scanChunks(t, oracle, [][]byte{text})
		m, err := NewFDR(ps)
		require.NoError(t, err)
		used := 0
		for _, bk := range m.(*fdrMatcher).bkt {
			if len(bk.conf) > 0 {
				used++
			}
		}
		require.Equal(t, fdrBuckets, used, "every bucket holds literals")
		var small [][]byte
		for rest := text; len(rest) > 0; {
			n := min(len(rest), 1+r.IntN(12))
			small = append(small, rest[:n])
			rest = rest[n:]
		}
		for k, chunks := range [][][]byte{{text}, randomChunks(r, text), small} {
			require.Equal(t, want, scanChunks(t, m, chunks), "round %d, chunking %d", round, k)
		}
	}
}

package prefilter

import (
	"math/rand/v2"
	"sync"
	"testing"
)

// Benchmark pattern sets, built lazily and shared by every benchmark.
var (
	benchOnce sync.Once
	benchSets map[string][]Pattern
	benchText []byte
	benchCuts [][]byte
	// benchGroups are detect's prefilter groups for ET Open.
	benchGroups []FastPatternGroup
)

// randomPatterns draws n literals shaped like IDS contents: 3-24 bytes of
// mostly printable text, some binary, half of them nocase.
func randomPatterns(r *rand.Rand, n int) []Pattern {
	const printable = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/.-_=?&:; <>\"'"
	ps := make([]Pattern, n)
	for i := range ps {
		d := make([]byte, 3+r.IntN(22))
		for j := range d {
			if r.IntN(10) == 0 {
				d[j] = byte(r.UintN(256))
			} else {
				d[j] = printable[r.IntN(len(printable))]
			}
		}
		ps[i] = Pattern{ID: uint32(i), Data: d, Nocase: r.IntN(2) == 0}
	}
	return ps
}

func benchSetup(b *testing.B) {
	benchOnce.Do(func() {
		r := rand.New(rand.NewPCG(11, 12))
		benchSets = map[string][]Pattern{
			"5k":  randomPatterns(r, 5000),
			"20k": randomPatterns(r, 20000),
		}
		et := loadETContents(b)
		benchSets["et-open-all-contents"] = et
		// The sets detect really compiles: one fast pattern per rule,
		// grouped by transport, direction and buffer.
		if LoadDetectGroups != nil {
			benchGroups = LoadDetectGroups(b)
			var union []Pattern
			for _, g := range benchGroups {
				switch g.Name {
				case "tcp/to_server/http.uri":
					benchSets["et-fast-uri"] = g.Patterns
				case "tcp/to_server/stream":
					benchSets["et-fast-stream"] = g.Patterns
				}
				for _, p := range g.Patterns {
					p.ID = uint32(len(union))
					union = append(union, p)
				}
			}
			benchSets["et-fast-union"] = union
		}
		// 4 MiB of HTTP-ish traffic, an ET literal planted every ~4 KiB,
		// streamed in chunks of 16-64 KiB as the relay reads them.
		benchText = trafficText(r, 4<<20, et, 4096)
		for rest := benchText; len(rest) > 0; {
			n := min(len(rest), 16<<10+r.IntN(48<<10))
			benchCuts = append(benchCuts, rest[:n])
			rest = rest[n:]
		}
	})
	if benchSets["et-open-all-contents"] == nil {
		b.Skip("ET Open corpus missing")
	}
}

var benchEngines = []string{"ac", "fdr", "hyperscan"}

// benchSetNames: the fast patterns of detect's biggest groups (http.uri,
// 6.5k; raw to-server stream, 2k) and of all groups as one set (34.7k);
// every ET Open content (79.6k, match-delivery bound: short contents such
// as |0d 0a| match many times per line); random sets for comparison.
var benchSetNames = []string{"et-fast-uri", "et-fast-stream", "et-fast-union", "et-open-all-contents", "5k", "20k"}

var builtOnce = map[string]Matcher{}

func benchMatcher(b *testing.B, engine, set string) Matcher {
	key := engine + "/" + set
	if m, ok := builtOnce[key]; ok {
		return m
	}
	bl, err := Lookup(engine)
	if err != nil {
		b.Skip(err)
	}
	m, err := bl(benchSets[set])
	if err != nil {
		b.Fatal(err)
	}
	builtOnce[key] = m
	return m
}

// BenchmarkScan streams the traffic corpus through one stream per
// iteration; matches are counted, as a caller that queues candidates would.
func BenchmarkScan(b *testing.B) {
	benchSetup(b)
	for _, engine := range benchEngines {
		for _, set := range benchSetNames {
			b.Run(engine+"/"+set, func(b *testing.B) {
				if benchSets[set] == nil {
					b.Skip("set not loaded")
				}
				m := benchMatcher(b, engine, set)
				matches := 0
				count := func(uint32, uint64) bool { matches++; return true }
				b.SetBytes(int64(len(benchText)))
				b.ReportAllocs()
				b.ResetTimer()
				cpu0 := cpuTime()
				for i := 0; i < b.N; i++ {
					s := m.NewStream()
					for _, c := range benchCuts {
						s.Scan(c, count)
					}
					s.Close()
				}
				// The machine is shared: wall-clock MB/s swings with other
				// load, so also report throughput per CPU second used.
				if cpu := (cpuTime() - cpu0).Seconds(); cpu > 0 {
					b.ReportMetric(float64(len(benchText))*float64(b.N)/cpu/1e6, "cpuMB/s")
				}
				b.ReportMetric(float64(matches)/float64(b.N), "matches/op")
			})
		}
	}
}

// BenchmarkBuild measures compile time and reports the compiled size.
func BenchmarkBuild(b *testing.B) {
	benchSetup(b)
	for _, engine := range benchEngines {
		// Every group detect builds for ET Open, as one load does.
		b.Run(engine+"/et-fast-groups", func(b *testing.B) {
			bl, err := Lookup(engine)
			if err != nil {
				b.Skip(err)
			}
			if len(benchGroups) == 0 {
				b.Skip("no detect groups")
			}
			b.ReportAllocs()
			size := 0
			for i := 0; i < b.N; i++ {
				size = 0
				for _, g := range benchGroups {
					m, err := bl(g.Patterns)
					if err != nil {
						b.Fatal(err)
					}
					if sz, ok := m.(Sizer); ok {
						size += sz.Size()
					}
				}
			}
			b.ReportMetric(float64(size)/(1<<20), "MiB")
		})
		for _, set := range benchSetNames {
			b.Run(engine+"/"+set, func(b *testing.B) {
				bl, err := Lookup(engine)
				if err != nil {
					b.Skip(err)
				}
				b.ReportAllocs()
				var m Matcher
				for i := 0; i < b.N; i++ {
					if m, err = bl(benchSets[set]); err != nil {
						b.Fatal(err)
					}
				}
				if sz, ok := m.(Sizer); ok {
					b.ReportMetric(float64(sz.Size())/(1<<20), "MiB")
				}
			})
		}
	}
}

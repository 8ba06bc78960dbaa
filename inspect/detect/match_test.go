package detect

import (
	"bytes"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

// indexFold must agree with bytes.Index over ASCII-folded copies, for
// patterns with and without a non-letter anchor byte.
func TestIndexFold(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	const alpha = "aAbB-1\xc3\x00zZ"
	gen := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = alpha[rng.Intn(len(alpha))]
		}
		return b
	}
	for _, tc := range []struct {
		name     string
		hay, pat string
		want     int
	}{
		{"letters", "xxEvIlxx", "evil", 2},
		{"anchor", "--GET /A", "get /a", 2},
		{"absent", "abc", "abd", -1},
		{"longer than hay", "ab", "abc", -1},
		{"empty", "abc", "", 0},
		{"upper first", "zzzAb", "ab", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, indexFold([]byte(tc.hay), toLowerASCII([]byte(tc.pat))))
		})
	}
	t.Run("random", func(t *testing.T) {
		for i := 0; i < 20000; i++ {
			hay, pat := gen(rng.Intn(40)), toLowerASCII(gen(1+rng.Intn(4)))
			want := bytes.Index(toLowerASCII(hay), pat)
			require.Equal(t, want, indexFold(hay, pat), "hay %q pat %q", hay, pat)
		}
	})
}

func FuzzIndexFold(f *testing.F) {
	f.Add([]byte("xxEvIl"), []byte("evil"))
	f.Fuzz(func(t *testing.T, hay, pat []byte) {
		pat = toLowerASCII(pat)
		if got, want := indexFold(hay, pat), bytes.Index(toLowerASCII(hay), pat); got != want {
			t.Fatalf("indexFold(%q, %q) = %d, want %d", hay, pat, got, want)
		}
	})
}

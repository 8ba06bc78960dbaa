package decode

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func sample(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	words := [][]byte{[]byte("X5O!P%@AP"), []byte("hello "), []byte("world"), []byte("\x00\x01\x02"), []byte("<html>")}
	var b bytes.Buffer
	for b.Len() < n {
		if rng.IntN(4) == 0 {
			b.WriteByte(byte(rng.Uint32()))
			continue
		}
		b.Write(words[rng.IntN(len(words))])
	}
	return b.Bytes()[:n]
}

func gz(b []byte, level int) []byte {
	var o bytes.Buffer
	w, _ := gzip.NewWriterLevel(&o, level)
	w.Write(b)
	w.Close()
	return o.Bytes()
}

func br(b []byte, quality int) []byte {
	var o bytes.Buffer
	w := brotli.NewWriterOptions(&o, brotli.WriterOptions{Quality: quality, LGWin: 22})
	w.Write(b)
	w.Close()
	return o.Bytes()
}

func zs(b []byte) []byte {
	w, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	defer w.Close()
	return w.EncodeAll(b, nil)
}

func zl(b []byte) []byte {
	var o bytes.Buffer
	w := zlib.NewWriter(&o)
	w.Write(b)
	w.Close()
	return o.Bytes()
}

func raw(b []byte, level int) []byte {
	var o bytes.Buffer
	w, _ := flate.NewWriter(&o, level)
	w.Write(b)
	w.Close()
	return o.Bytes()
}

// decodeAll pushes enc in pieces of at most piece bytes.
func decodeAll(t testing.TB, codings []string, enc []byte, piece int) ([]byte, error) {
	c, err := NewChain(codings, nil)
	require.NoError(t, err)
	return push(c, enc, piece)
}

func TestDecode(t *testing.T) {
	n := 200 << 10 // past deflate's and br's windows' refills
	if testing.Short() {
		n = 40 << 10
	}
	plain := sample(n, 1)
	cases := []struct {
		name    string
		codings []string
		enc     []byte
	}{
		{"gzip best", []string{"gzip"}, gz(plain, gzip.BestCompression)},
		{"gzip stored", []string{"gzip"}, gz(plain, gzip.NoCompression)},
		{"gzip huffman only", []string{"x-gzip"}, gz(plain, gzip.HuffmanOnly)},
		{"zlib", []string{"deflate"}, zl(plain)},
		{"raw deflate", []string{"DEFLATE"}, raw(plain, 6)},
		{"stacked gzip then deflate", []string{"gzip", "deflate"}, zl(gz(plain, 6))},
		{"stacked gzip twice", []string{"gzip", "gzip"}, gz(gz(plain, 1), 9)},
		{"br", []string{"br"}, br(plain, 11)},
		{"br fast", []string{"BR"}, br(plain, 1)},
		{"stacked gzip then br", []string{"gzip", "br"}, br(gz(plain, 6), 5)},
		{"zstd", []string{"zstd"}, zs(plain)},
		{"stacked br then zstd", []string{"br", "zstd"}, zs(br(plain, 5))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, piece := range []int{1, 7, 1460, 1 << 20} {
				out, err := decodeAll(t, tc.codings, tc.enc, piece)
				require.NoError(t, err, "piece %d", piece)
				assert.True(t, bytes.Equal(plain, out), "piece %d: %d bytes out", piece, len(out))
			}
		})
	}
}

// Every byte the input determines comes out at once: after each piece,
// the output is exactly what a complete decode of that prefix yields,
// which compress/flate shows when it hits the prefix's end.
func TestDecodeEager(t *testing.T) {
	plain := sample(100<<10, 2)
	enc := raw(plain, 6)
	z := &Inflater{}
	var out []byte
	for i := 0; i < len(enc); i += 997 {
		require.NoError(t, z.Write(enc[i:min(i+997, len(enc))], func(b []byte) { out = append(out, b...) }))
		require.LessOrEqual(t, len(z.pend), 512, "only a block header or symbol waits")
		require.LessOrEqual(t, len(z.hist), histSize)
		want, _ := io.ReadAll(flate.NewReader(bytes.NewReader(enc[:min(i+997, len(enc))])))
		require.Equal(t, len(want), len(out), "after %d bytes", min(i+997, len(enc)))
	}
}

func TestDecodeErrors(t *testing.T) {
	plain := []byte("X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")
	_, err := NewChain([]string{"compress"}, nil)
	assert.ErrorIs(t, err, ErrUnsupported)
	_, err = decodeAll(t, []string{"br"}, []byte("\xff\xff\xff not brotli"), 1<<20)
	assert.ErrorIs(t, err, ErrCorrupt)
	_, err = decodeAll(t, []string{"gzip"}, append(gz(plain, 6), gz(plain, 6)...), 1<<20)
	assert.ErrorIs(t, err, ErrTrailing, "a second gzip member")
	_, err = decodeAll(t, []string{"gzip"}, []byte("not gzip at all"), 1<<20)
	assert.ErrorIs(t, err, ErrCorrupt)
	_, err = decodeAll(t, []string{"deflate"}, []byte{0x78, 0x9c, 0xff, 0xff, 0xff}, 1<<20)
	assert.ErrorIs(t, err, ErrCorrupt, "block type 3")
}

// The chain never panics, and for any stream compress/flate decodes
// whole, it yields the same bytes however the stream is cut.
func FuzzInflate(f *testing.F) {
	f.Add(raw([]byte("hello hello hello hello"), 6), uint16(3))
	f.Add(raw(sample(3000, 3), 1), uint16(100))
	f.Add(raw(sample(3000, 4), 0), uint16(1))
	f.Fuzz(func(t *testing.T, enc []byte, piece uint16) {
		p := int(piece%512) + 1
		want, werr := io.ReadAll(flate.NewReader(bytes.NewReader(enc)))
		z := &Inflater{}
		var got []byte
		var err error
		for i := 0; i < len(enc) && err == nil; i += p {
			err = z.Write(enc[i:min(i+p, len(enc))], func(b []byte) { got = append(got, b...) })
		}
		if werr == nil {
			require.NoError(t, err)
			require.True(t, z.Done())
			require.True(t, bytes.Equal(want, got))
		}
	})
}

func FuzzChain(f *testing.F) {
	f.Add([]byte("gzip"), gz([]byte("hello"), 6))
	f.Add([]byte("deflate, gzip"), gz(zl([]byte("hello")), 6))
	f.Add([]byte("br"), br([]byte("hello hello"), 5))
	f.Add([]byte("zstd, br"), br(zs([]byte("hello hello")), 5))
	f.Fuzz(func(t *testing.T, ce, enc []byte) {
		c, err := NewChain(ParseCodings(ce), nil)
		if err != nil {
			return
		}
		defer c.Close()
		// Output bounded as the parser bounds it, which exercises Stop
		// and keeps a few bytes of stacked codings from decoding to
		// gigabytes on the fuzzer's time.
		n := 0
		for len(enc) > 0 {
			k := min(len(enc), 13)
			_ = c.Write(enc[:k], func(b []byte) {
				if n += len(b); n > 16<<20 {
					c.Stop()
				}
			})
			enc = enc[k:]
		}
	})
}

// BenchmarkGzip: decoded MB/s of this package and, as the baseline in the
// same run, of compress/gzip, on mixed text.
func BenchmarkGzip(b *testing.B) {
	plain := sample(4<<20, 5)
	enc := gz(plain, 6)
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(plain)))
		b.ReportAllocs()
		for b.Loop() {
			c, _ := NewChain([]string{"gzip"}, nil)
			for i := 0; i < len(enc); i += 32 << 10 {
				_ = c.Write(enc[i:min(i+32<<10, len(enc))], func([]byte) {})
			}
		}
	})
	b.Run("compress-gzip", func(b *testing.B) {
		b.SetBytes(int64(len(plain)))
		b.ReportAllocs()
		for b.Loop() {
			r, _ := gzip.NewReader(bytes.NewReader(enc))
			_, _ = io.Copy(io.Discard, r)
		}
	})
}

// br hands out what it decoded as input arrives, even with a 4 MiB
// window: a decoder that waited for its window to fill would sit on the
// whole body.
func TestBrotliEager(t *testing.T) {
	plain := sample(1<<20, 9)
	enc := br(plain, 6)
	c, err := NewChain([]string{"br"}, nil)
	require.NoError(t, err)
	var out []byte
	half := len(enc) / 2
	require.NoError(t, c.Write(enc[:half], func(b []byte) { out = append(out, b...) }))
	assert.Greater(t, len(out), len(plain)/4, "output after half the input")
	assert.True(t, bytes.Equal(plain[:len(out)], out))
}

// zstd hands out each block as soon as it is complete (as libzstd does),
// and a dropped or closed decoder leaves no goroutine behind.
func TestZstdEagerAndClosed(t *testing.T) {
	defer goleak.VerifyNone(t)
	plain := sample(1<<20, 11)
	enc := zs(plain)
	c, err := NewChain([]string{"zstd"}, nil)
	require.NoError(t, err)
	var out []byte
	for i := 0; i < len(enc)/2; i += 1000 {
		require.NoError(t, c.Write(enc[i:min(i+1000, len(enc)/2)], func(b []byte) { out = append(out, b...) }))
	}
	assert.Greater(t, len(out), len(plain)/4, "output after half the input")
	assert.True(t, bytes.Equal(plain[:len(out)], out))
	c.Close()

	// Dropped without Close: the cleanup stops the goroutine.
	d, err := NewChain([]string{"zstd"}, nil)
	require.NoError(t, err)
	require.NoError(t, d.Write(enc[:100], func([]byte) {}))
	d = nil
	for i := 0; i < 20 && runtime.NumGoroutine() > 2; i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	_, err = decodeAll(t, []string{"zstd"}, []byte("\x28\xb5\x2f\xfd garbage garbage"), 1<<20)
	assert.ErrorIs(t, err, ErrCorrupt)
}

// Stop from inside out ends a Write at once: a few hundred bytes of
// stacked gzip that decode to 16 MiB hand out little more than the
// bound, and the chain stays stopped.
func TestStopInsideWrite(t *testing.T) {
	bomb := gz(gz(gz(make([]byte, 16<<20), 9), 9), 9)
	require.Less(t, len(bomb), 4<<10)
	c, err := NewChain([]string{"gzip", "gzip", "gzip"}, nil)
	require.NoError(t, err)
	defer c.Close()
	const bound = 1 << 20
	n := 0
	err = c.Write(bomb, func(b []byte) {
		n += len(b)
		if n > bound {
			c.Stop()
		}
	})
	assert.ErrorIs(t, err, ErrStopped)
	assert.LessOrEqual(t, n, bound+64<<10, "handed out past the bound")
	assert.ErrorIs(t, c.Write([]byte{0}, func([]byte) { t.Fatal("output after Stop") }), ErrStopped)
}

// After stop a decoder hands out nothing more within the same Write: the
// first layer of a chain would otherwise decode all its input holds (1.6
// KB of br are 1 GiB).
func TestDecoderStop(t *testing.T) {
	zeros := make([]byte, 16<<20)
	zw, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	zenc := zw.EncodeAll(zeros, nil)
	zw.Close()
	for _, tc := range []struct {
		coding string
		enc    []byte
	}{
		{"br", br(zeros, 5)},
		{"zstd", zenc},
		{"gzip", gz(zeros, 9)},
		{"deflate", zl(zeros)},
	} {
		t.Run(tc.coding, func(t *testing.T) {
			d, err := New(tc.coding)
			require.NoError(t, err)
			if c, ok := d.(interface{ Close() }); ok {
				defer c.Close()
			}
			const bound = 1 << 20
			n := 0
			err = d.Write(tc.enc, func(b []byte) {
				if n += len(b); n > bound {
					d.(stopper).stop()
				}
			})
			assert.ErrorIs(t, err, ErrStopped)
			assert.LessOrEqual(t, n, bound+256<<10, "decoded past the stop")
		})
	}
}

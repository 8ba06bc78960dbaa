package decode

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"sync"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func brWin(b []byte, lgwin int) []byte {
	var o bytes.Buffer
	w := brotli.NewWriterOptions(&o, brotli.WriterOptions{Quality: 5, LGWin: lgwin})
	w.Write(b)
	w.Close()
	return o.Bytes()
}

// brFlushed is b in br with its first KiB flushed into a meta-block of
// its own, as a server compressing on the fly writes it: the first
// meta-block is not the last, so the decoder may use its whole window.
func brFlushed(b []byte, lgwin int) []byte {
	var o bytes.Buffer
	w := brotli.NewWriterOptions(&o, brotli.WriterOptions{Quality: 5, LGWin: lgwin})
	w.Write(b[:1<<10])
	w.Flush()
	w.Write(b[1<<10:])
	w.Close()
	return o.Bytes()
}

// zsWin is one zstd frame without a content size (the window descriptor
// names the window), as a streaming encoder writes it.
func zsWin(t *testing.T, b []byte, window int) []byte {
	var o bytes.Buffer
	w, err := zstd.NewWriter(&o, zstd.WithWindowSize(window), zstd.WithEncoderConcurrency(1))
	require.NoError(t, err)
	_, err = w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return o.Bytes()
}

func must(c *Chain, err error) *Chain {
	if err != nil {
		panic(err)
	}
	return c
}

// push writes enc through c in pieces, collecting the output.
func push(c *Chain, enc []byte, piece int) ([]byte, error) {
	var out []byte
	for len(enc) > 0 {
		n := min(piece, len(enc))
		if err := c.Write(enc[:n], func(b []byte) { out = append(out, b...) }); err != nil {
			return out, err
		}
		enc = enc[n:]
	}
	return out, nil
}

// The ring buffer a br stream will need is read from its first bytes as
// the decoder reads them: its whole window for every window the encoder
// writes when the first meta-block is not the last, the meta-block's
// length rounded up when it is.
func TestBrotliRing(t *testing.T) {
	plain := sample(64<<10, 3)
	for lgwin := 10; lgwin <= 24; lgwin++ {
		enc := brFlushed(plain, lgwin)
		ring, ok := brRing(enc)
		require.True(t, ok)
		assert.Equal(t, int64(1)<<lgwin, ring, "lgwin %d", lgwin)
		out, err := push(must(NewChain([]string{"br"}, nil)), enc, 1000)
		require.NoError(t, err)
		assert.Equal(t, plain, out)
	}
	one := brWin(plain, 24)
	ring, ok := brRing(one)
	require.True(t, ok)
	assert.Equal(t, int64(64<<10), ring, "one last meta-block of 64 KiB")
	out, err := push(must(NewChain([]string{"br"}, nil)), one, 1)
	require.NoError(t, err)
	assert.Equal(t, plain, out, "pushed a byte at a time")
	empty := brWin(nil, 24)
	ring, ok = brRing(empty)
	assert.True(t, ok)
	assert.Zero(t, ring)
	out, err = push(must(NewChain([]string{"br"}, nil)), empty, 1)
	require.NoError(t, err)
	assert.Empty(t, out)

	// Bit by bit (RFC 7932 9.1, 9.2): WBITS 0 -> 16; 1+nnn (n != 0) ->
	// 17+n; 1000+mmm (m != 0, 1) -> 8+m; 1000000 -> 17; then ISLAST.
	for _, tc := range []struct {
		b    []byte
		ring int64
		ok   bool
	}{
		{nil, 0, false},
		{[]byte{0b0}, 1 << 16, true},
		{[]byte{0b1111}, 1 << 24, true},
		{[]byte{0b0011}, 1 << 18, true},
		{[]byte{0b0100001}, 1 << 10, true},
		{[]byte{0b0000001}, 1 << 17, true},
		{[]byte{0b110}, 0, true},                     // last and empty
		{[]byte{0b11010}, 1 << 16, true},             // last, metadata
		{[]byte{0b010}, 0, false},                    // last: its length is needed
		{[]byte{0b010, 0, 0}, 1 << 10, true},         // last, 4 nibbles, MLEN 1
		{[]byte{0b10010, 0, 0}, 0, false},            // last, 6 nibbles: one more byte
		{[]byte{0b10010, 0, 0, 0x10}, 1 << 16, true}, // MLEN 2^23+1, over the 64 KiB window
	} {
		ring, ok := brRing(tc.b)
		assert.Equal(t, tc.ok, ok, "%08b", tc.b)
		if tc.ok {
			assert.Equal(t, tc.ring, ring, "%08b", tc.b)
		}
	}
}

// What a br layer reserves covers what the decoder allocates: eight
// decoders in the middle of a 64 KiB stream with a 16 MiB window hold
// far less than one window.
func TestBrotliReservationCoversHeap(t *testing.T) {
	plain := sample(64<<10, 4)
	enc := brWin(plain, 24)
	b := NewBudget(0)
	a := b.Account()
	defer a.Close()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var cs []*Chain
	for range 8 {
		c := must(NewChain([]string{"br"}, a))
		_, err := push(c, enc[:len(enc)/2], 4096)
		require.NoError(t, err)
		cs = append(cs, c)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	assert.Less(t, grown, b.Used(), "the decoders hold more than they reserved")
	assert.Equal(t, 8*brMem(64<<10), b.Used())
	for _, c := range cs {
		c.Close()
	}
}

// A br body that asks for a window past the budget is refused before any
// output, the budget is unchanged, and one that fits decodes whole and
// gives its reservation back on Close.
func TestBudgetBrotli(t *testing.T) {
	plain := sample(1<<20, 5)
	big := brFlushed(plain, 24)
	b := NewBudget(brMem(1<<24) + inflateMem) // one large window and a gzip
	a1, a2 := b.Account(), b.Account()
	defer a1.Close()
	defer a2.Close()

	c1, err := NewChain([]string{"br"}, a1)
	require.NoError(t, err)
	out, err := push(c1, big[:len(big)/2], 4096)
	require.NoError(t, err)
	assert.Equal(t, brMem(1<<24), b.Used())

	c2, err := NewChain([]string{"br"}, a2)
	require.NoError(t, err)
	out2, err := push(c2, big, 4096)
	assert.ErrorIs(t, err, ErrMemory)
	assert.Empty(t, out2, "output from a refused decoder")
	assert.Equal(t, uint64(1), b.Refused())
	c2.Close()

	// A gzip body still fits beside the large window.
	g, err := NewChain([]string{"gzip"}, a2)
	require.NoError(t, err)
	gout, err := push(g, gz(plain, 6), 4096)
	require.NoError(t, err)
	assert.Equal(t, plain, gout)
	assert.Equal(t, brMem(1<<24)+inflateMem, b.Used())
	g.Close()
	g.Close() // a second Close releases nothing more
	assert.Equal(t, brMem(1<<24), b.Used())

	rest, err := push(c1, big[len(big)/2:], 4096)
	require.NoError(t, err)
	assert.Equal(t, plain, append(out, rest...))
	c1.Close()
	assert.Zero(t, b.Used())
}

// A zstd stream whose second frame asks for a larger window than its
// first reserves it at that frame's header: the first frame decodes, the
// second is refused before the decoder reads it.
func TestBudgetZstdLaterFrame(t *testing.T) {
	first := zsWin(t, sample(4<<10, 7), 1<<10)
	second := zsWin(t, sample(1<<20, 8), MaxZstdWindow)
	s := zstdScan{}
	require.NoError(t, s.feed(first))
	small := s.window
	require.NoError(t, s.feed(second))
	require.Equal(t, int64(MaxZstdWindow), s.window)
	require.Less(t, small, s.window)

	b := NewBudget(zstdMem(small) + 1)
	a := b.Account()
	c, err := NewChain([]string{"zstd"}, a)
	require.NoError(t, err)
	out, err := push(c, first, 100)
	require.NoError(t, err)
	assert.Equal(t, sample(4<<10, 7), out)
	_, err = push(c, second, 100)
	assert.ErrorIs(t, err, ErrMemory)
	assert.Equal(t, zstdMem(small), b.Used())
	c.Close()
	assert.Zero(t, b.Used())
	a.Close()
}

// The scanner follows skippable frames, RLE and raw blocks and
// checksums: a stream of several frames decodes whole, with the largest
// window reserved.
func TestZstdScanFrames(t *testing.T) {
	plain := sample(300<<10, 12)
	skippable := binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, zstdSkipMagic|3), 5)
	skippable = append(skippable, "abcde"...)
	w, err := zstd.NewWriter(nil, zstd.WithEncoderCRC(true))
	require.NoError(t, err)
	withSum := w.EncodeAll(make([]byte, 200<<10), nil) // RLE blocks, single segment
	w.Close()
	enc := append(append(append(skippable, zsWin(t, plain, 256<<10)...), withSum...), zsWin(t, plain[:5000], 1<<10)...)
	for _, piece := range []int{1, 7, 4096} {
		b := NewBudget(0)
		a := b.Account()
		c, err := NewChain([]string{"zstd"}, a)
		require.NoError(t, err)
		out, err := push(c, enc, piece)
		require.NoError(t, err)
		want := append(append(append([]byte(nil), plain...), make([]byte, 200<<10)...), plain[:5000]...)
		assert.True(t, bytes.Equal(want, out), "piece %d", piece)
		assert.Equal(t, zstdMem(256<<10), b.Used(), "piece %d", piece)
		c.Close()
		assert.Zero(t, b.Used())
	}
}

// A single-segment frame's window is its content size: one that names
// more than MaxZstdWindow is undecodable, before the decoder would
// allocate a history of that size.
func TestZstdContentSizeWindow(t *testing.T) {
	hdr := binary.LittleEndian.AppendUint32(nil, zstdMagic)
	hdr = append(hdr, 0xE0) // 8-byte content size, single segment
	hdr = binary.LittleEndian.AppendUint64(hdr, 1<<30)
	hdr = append(hdr, 0x01, 0x00, 0x00) // last raw block, empty
	b := NewBudget(0)
	c, err := NewChain([]string{"zstd"}, b.Account())
	require.NoError(t, err)
	defer c.Close()
	_, err = push(c, hdr, 1<<10)
	assert.ErrorIs(t, err, ErrCorrupt)
	assert.Zero(t, b.Used())
}

// Closing an account returns what its chains hold though they were never
// closed (a flow torn down mid-body), once.
func TestAccountClose(t *testing.T) {
	b := NewBudget(0)
	a := b.Account()
	for _, coding := range []string{"gzip", "br", "zstd"} {
		c, err := NewChain([]string{coding}, a)
		require.NoError(t, err)
		enc := map[string][]byte{"gzip": gz(sample(1000, 1), 6), "br": br(sample(1000, 1), 6), "zstd": zs(sample(1000, 1))}[coding]
		_, err = push(c, enc[:len(enc)/2], 1<<10)
		require.NoError(t, err)
		defer c.Close()
	}
	require.Positive(t, b.Used())
	require.Equal(t, b.Used(), a.Held())
	a.Close()
	assert.Zero(t, b.Used())
	a.Close()
	assert.Zero(t, b.Used())
	// A chain of a closed account reserves nothing.
	c, err := NewChain([]string{"gzip"}, a)
	require.NoError(t, err)
	_, err = push(c, gz(sample(10, 1), 6), 1<<10)
	assert.ErrorIs(t, err, ErrMemory)
}

// Reservations from many goroutines never take the budget past its limit
// and all come back.
func TestBudgetConcurrent(t *testing.T) {
	const limit = 10 * inflateMem
	b := NewBudget(limit)
	enc := gz(sample(64<<10, 4), 6)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, refused := 0, 0
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				a := b.Account()
				c, err := NewChain([]string{"gzip"}, a)
				if err != nil {
					t.Error(err)
					return
				}
				_, err = push(c, enc, 8<<10)
				if used := b.Used(); used > limit {
					t.Errorf("used %d over the limit %d", used, limit)
				}
				mu.Lock()
				if err == nil {
					ok++
				} else if assert.ErrorIs(t, err, ErrMemory) {
					refused++
				}
				mu.Unlock()
				c.Close()
				a.Close()
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, b.Used())
	assert.Equal(t, 32*50, ok+refused)
	assert.Equal(t, uint64(refused), b.Refused())
	assert.Positive(t, ok)
}

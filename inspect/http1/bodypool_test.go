package http1

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// window is where the last inspection window of an n-byte body starts:
// a full window slides by three quarters of its size.
func window(n, size int) int {
	off := 0
	for n-off > size {
		off += size - size/4
	}
	return off
}

// Bodies that move to a lent buffer past lendFrom bytes, and buffers
// lent again to later transactions of this or another flow, still hold
// exactly the body bytes (the last window of a longer body), delivered in pieces or whole,
// with Content-Length or chunked.
func TestLentBodyBuffers(t *testing.T) {
	body := func(seed, n int) string {
		var b strings.Builder
		for b.Len() < n {
			fmt.Fprintf(&b, "<%d:%d>", seed, b.Len())
		}
		return b.String()[:n]
	}
	for _, tc := range []struct {
		name  string
		sizes []int
		max   int
		piece int
	}{
		{"grow past lendFrom in pieces", []int{40 << 10, 20 << 10, 100, 70 << 10}, DefaultMaxBodyBytes, 1460},
		{"whole", []int{50 << 10, 30 << 10}, DefaultMaxBodyBytes, 1 << 20},
		{"small bound never lends", []int{30 << 10, 30 << 10}, 8 << 10, 4096},
		{"bound above the default", []int{200 << 10, 90 << 10}, 128 << 10, 8192},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, chunked := range []bool{false, true} {
				var steps []step
				var want []string
				for i, n := range tc.sizes {
					b := body(i, n)
					steps = append(steps, cs(fmt.Sprintf("GET /%d HTTP/1.1\r\nHost: h\r\n\r\n", i)))
					var resp string
					if chunked {
						resp = fmt.Sprintf("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", n, b)
					} else {
						resp = fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", n, b)
					}
					for len(resp) > 0 {
						k := min(len(resp), tc.piece)
						steps = append(steps, sc(resp[:k]))
						resp = resp[k:]
					}
					want = append(want, b[window(n, tc.max):])
				}
				rec := run(steps, WithMaxBodyBytes(tc.max))
				final := rec.final()
				for i, w := range want {
					got := final[key{inspect.ToClient, uint64(i)}][applayer.HTTPResponseBody.String()]
					require.Equal(t, len(w), len(got), "tx %d chunked=%v", i, chunked)
					assert.True(t, w == got, "tx %d chunked=%v: body bytes differ", i, chunked)
				}
			}
		})
	}
}

// Flows whose large bodies are in progress at the same time never
// share a lent buffer, across several transactions each.
func TestLentBodyBuffersManyFlows(t *testing.T) {
	const n = 40 << 10
	type flow struct {
		p   *Parser
		rec recorder
	}
	flows := []*flow{{p: New()}, {p: New()}, {p: New()}}
	bodies := map[[2]int]string{}
	for tx := 0; tx < 4; tx++ {
		// The third flow is new each round, so it borrows buffers the
		// others returned while they go on with theirs.
		if tx > 0 {
			flows[2] = &flow{p: New()}
		}
		var resps [3]string
		for i, f := range flows {
			b := strings.Repeat(string(rune('a'+i*4+tx)), n)
			bodies[[2]int{i, tx}] = b
			f.p.Feed(inspect.ToServer, []byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), f.rec.emit)
			resps[i] = fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", n, b)
		}
		for off := 0; off < len(resps[0]); off += 1460 {
			for i, f := range flows {
				f.p.Feed(inspect.ToClient, []byte(resps[i][off:min(off+1460, len(resps[i]))]), f.rec.emit)
			}
		}
		final := flows[2].rec.final()
		got := final[key{inspect.ToClient, 0}][applayer.HTTPResponseBody.String()]
		assert.True(t, bodies[[2]int{2, tx}] == got, "new flow in round %d: body bytes differ", tx)
	}
	for i, f := range flows[:2] {
		final := f.rec.final()
		for tx := 0; tx < 4; tx++ {
			got := final[key{inspect.ToClient, uint64(tx)}][applayer.HTTPResponseBody.String()]
			assert.True(t, bodies[[2]int{i, tx}] == got, "flow %d tx %d: body bytes differ", i, tx)
		}
	}
}

// BenchmarkFlowMemoryGzip measures the heap one flow holds in the middle of
// a 4 MiB response (bytes/flow), gzip-encoded (decoder history, Huffman
// tables, inspection window) and, as the baseline, identity.
func BenchmarkFlowMemoryGzip(b *testing.B) {
	var plain strings.Builder
	for i := 0; plain.Len() < 4<<20; i++ {
		fmt.Fprintf(&plain, "row %d of a compressible report, value %d\n", i, i*7919%1000)
	}
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte(plain.String()))
	w.Close()
	for _, tc := range []struct {
		name, ce string
		body     []byte
	}{{"gzip", "Content-Encoding: gzip\r\n", gz.Bytes()}, {"identity", "", []byte(plain.String())}} {
		b.Run(tc.name, func(b *testing.B) {
			head := fmt.Sprintf("HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n", tc.ce, len(tc.body))
			half := tc.body[:len(tc.body)/2]
			const flows = 200
			for b.Loop() {
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				ps := make([]*Parser, flows)
				for i := range ps {
					ps[i] = New()
					ps[i].Feed(inspect.ToServer, []byte("GET /r HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n"), func(*applayer.Unit) {})
					ps[i].Feed(inspect.ToClient, []byte(head), func(*applayer.Unit) {})
					for off := 0; off < len(half); off += 32 << 10 {
						ps[i].Feed(inspect.ToClient, half[off:min(off+32<<10, len(half))], func(*applayer.Unit) {})
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/flows, "bytes/flow")
				runtime.KeepAlive(ps)
			}
		})
	}
}

// BenchmarkFlowMemoryWindows measures the heap one flow holds while a
// body in a large-window coding is being decoded (bytes/flow): br with a
// 16 MiB window (the largest clients accept), zstd with 8 MiB
// (decode.MaxZstdWindow), and br stacked five times (each layer keeps its
// own window). The bodies are 20 MiB of incompressible bytes, so every
// window fills and no decompression-bomb bound stops the decoders.
func BenchmarkFlowMemoryWindows(b *testing.B) {
	plain := make([]byte, 20<<20)
	_, _ = rand.NewChaCha8([32]byte{1}).Read(plain)
	brot := func(in []byte) []byte {
		var o bytes.Buffer
		w := brotli.NewWriterOptions(&o, brotli.WriterOptions{Quality: 0, LGWin: 24})
		w.Write(in)
		w.Close()
		return o.Bytes()
	}
	zs := func(in []byte) []byte {
		w, _ := zstd.NewWriter(nil, zstd.WithWindowSize(8<<20), zstd.WithEncoderLevel(zstd.SpeedFastest))
		defer w.Close()
		return w.EncodeAll(in, nil)
	}
	stacked := plain
	for range 5 {
		stacked = brot(stacked)
	}
	for _, tc := range []struct {
		name, ce string
		body     []byte
	}{
		{"br-16MiB", "br", brot(plain)},
		{"zstd-8MiB", "zstd", zs(plain)},
		{"br-x5", "br, br, br, br, br", stacked},
	} {
		b.Run(tc.name, func(b *testing.B) {
			head := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n", tc.ce, len(tc.body))
			most := tc.body[:len(tc.body)-64<<10]
			for b.Loop() {
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				p := New()
				var anoms []string
				rec := func(u *applayer.Unit) {
					for _, a := range u.Anomalies {
						if a.Event != "TOO_MANY_ENCODING_LAYERS" { // libhtp's warning only
							anoms = append(anoms, a.Event)
						}
					}
				}
				p.Feed(inspect.ToServer, []byte("GET /r HTTP/1.1\r\nHost: h\r\n\r\n"), rec)
				p.Feed(inspect.ToClient, []byte(head), rec)
				for off := 0; off < len(most); off += 32 << 10 {
					p.Feed(inspect.ToClient, most[off:min(off+32<<10, len(most))], rec)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				if len(anoms) > 0 {
					b.Fatalf("anomalies %v: the decoders stopped", anoms)
				}
				b.ReportMetric(float64(after.HeapInuse-before.HeapInuse), "bytes/flow")
				runtime.KeepAlive(p)
			}
		})
	}
}

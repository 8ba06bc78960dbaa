package detect

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/rules"
	"github.com/interdict/interdict/tests/testenv"
)

func loadET(b *testing.B) *rules.Set {
	testenv.RequireFile(b, "/work/shared/corpus/et-open/classification.config")
	files, err := filepath.Glob("/work/shared/corpus/et-open/*.rules")
	require.NoError(b, err)
	set, err := rules.LoadFiles(files, nil)
	require.NoError(b, err)
	return set
}

// BenchmarkETOpenLoadCompile measures parse + compile of all ET Open rules.
func BenchmarkETOpenLoadCompile(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		set := loadET(b)
		_, err := New(set.Rules, Options{})
		require.NoError(b, err)
	}
}

// mixedHTTP generates request/response traffic with varied URIs, headers
// and bodies (no parser is registered here, so this measures raw-stream
// rules plus the prefilter).
func mixedHTTP(n int) []byte {
	rng := rand.New(rand.NewSource(1))
	var out []byte
	for len(out) < n {
		out = fmt.Appendf(out, "GET /app/%d/item.php?id=%d&q=%x HTTP/1.1\r\nHost: www%d.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: */*\r\nCookie: s=%x\r\n\r\n",
			rng.Intn(1000), rng.Intn(1e6), rng.Int63(), rng.Intn(50), rng.Int63())
		body := make([]byte, 200+rng.Intn(2000))
		for i := range body {
			const alpha = "abcdefghijklmnopqrstuvwxyz <>/=\"\n0123456789"
			body[i] = alpha[rng.Intn(len(alpha))]
		}
		out = fmt.Appendf(out, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	}
	return out[:n]
}

func BenchmarkInspectETOpen(b *testing.B) {
	set := loadET(b)
	e, err := New(set.Rules, Options{})
	require.NoError(b, err)
	data := mixedHTTP(4 << 20)
	const chunk = 16 << 10
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f := e.NewFlow(tcpMeta)
		for off := 0; off < len(data); off += chunk {
			f.Inspect(inspect.Direction((off/chunk)%2), data[off:min(off+chunk, len(data))])
		}
		f.Close()
	}
}

// BenchmarkFlowState reports retained heap bytes per flow after a few
// chunks in both directions (ET Open, default 64 KiB window).
func BenchmarkFlowState(b *testing.B) {
	set := loadET(b)
	e, err := New(set.Rules, Options{})
	require.NoError(b, err)
	data := mixedHTTP(256 << 10)
	const flows = 64
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		keep := make([]*Flow, flows)
		for j := range keep {
			f := e.newFlow(tcpMeta)
			for off := 0; off < len(data); off += 8 << 10 {
				f.Inspect(inspect.Direction((off>>13)%2), data[off:off+8<<10])
			}
			keep[j] = f
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/flows, "bytes/flow")
		runtime.KeepAlive(keep)
	}
}

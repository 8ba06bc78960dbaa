package http1

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// checkBounds asserts the per-flow memory bound the package doc promises.
func checkBounds(t testing.TB, p *Parser) {
	t.Helper()
	txs := append([]*tx{p.req.cur, p.resp.cur}, p.pending...)
	require.LessOrEqual(t, len(p.pending), maxPending)
	require.True(t, p.decoders >= 0 && p.decoders <= maxDecoders, "live decoders %d", p.decoders)
	require.LessOrEqual(t, len(p.req.stash), p.cfg.maxHeader)
	require.LessOrEqual(t, len(p.req.scratch), max(p.cfg.ChunkLine, 256))
	require.LessOrEqual(t, len(p.resp.scratch), max(p.cfg.ChunkLine, 256))
	for _, x := range txs {
		if x == nil {
			continue
		}
		for _, m := range []*msg{&x.req, &x.resp} {
			require.LessOrEqual(t, len(m.raw), p.cfg.maxHeader)
			require.LessOrEqual(t, len(m.body), p.cfg.maxBody)
			require.LessOrEqual(t, len(m.hdrs), p.cfg.HeaderCount)
			// Derived data: normalised copies plus merged values and the
			// assembled buffers, each at most a few times the raw block.
			require.LessOrEqual(t, len(m.derived), 8*p.cfg.maxHeader)
		}
	}
}

func FuzzHTTP1(f *testing.F) {
	f.Add([]byte("GET /a/../b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"), []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"), uint64(1))
	f.Add([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\nff\r\n"), []byte("HTTP/1.0 200\r\n\r\nbody"), uint64(2))
	f.Add([]byte("CONNECT h:1 HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n"), []byte("HTTP/1.1 403 no\r\n\r\n"), uint64(3))
	f.Add([]byte("GET /\r\n"), []byte("\x00\x01"), uint64(4))
	f.Add([]byte("POST /u HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 64\r\n\r\n"+
		"--b\r\nContent-Disposition: form-data; filename=\"x\"\r\n\r\ndata\r\n--b--"), []byte("HTTP/1.1 204 No\r\n\r\n"), uint64(5))
	f.Fuzz(func(t *testing.T, req, resp []byte, seed uint64) {
		steps := []step{cs(string(req)), sc(string(resp))}
		opts := []Option{WithMaxHeaderBytes(300), WithMaxBodyBytes(64)}
		want := run(steps, opts...)

		rng := rand.New(rand.NewPCG(seed, seed>>7))
		p := New(opts...)
		got := &recorder{}
		for _, s := range steps {
			for _, piece := range randomSplit(rng)([]byte(s.data)) {
				p.Feed(s.dir, piece, got.emit)
				checkBounds(t, p)
			}
		}
		p.Close(got.emit)
		require.Equal(t, want.final(), got.final())
		require.Equal(t, want.events(), got.events())
		require.Equal(t, want.anomalies(), got.anomalies())
	})
}

var (
	benchReq = []byte("GET /search?q=interdict&lang=en HTTP/1.1\r\nHost: www.example.com\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
		"Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n" +
		"Referer: https://www.example.com/\r\nCookie: session=0123456789abcdef; theme=dark\r\n" +
		"Connection: keep-alive\r\n\r\n")
	benchResp = func() []byte {
		body := make([]byte, 16<<10)
		for i := range body {
			body[i] = 'a' + byte(i%26)
		}
		return append([]byte("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html; charset=utf-8\r\n"+
			"Content-Length: 16384\r\nConnection: keep-alive\r\n\r\n"), body...)
	}()
)

// BenchmarkRequests parses keep-alive GET requests with their small
// responses: the header path.
func BenchmarkRequests(b *testing.B) {
	p := New()
	resp := []byte("HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n")
	var units int
	emit := func(*applayer.Unit) { units++ }
	b.SetBytes(int64(len(benchReq) + len(resp)))
	b.ReportAllocs()
	for b.Loop() {
		p.Feed(inspect.ToServer, benchReq, emit)
		p.Feed(inspect.ToClient, resp, emit)
	}
	if units == 0 {
		b.Fatal("no units")
	}
}

// BenchmarkResponses parses 16 KiB responses delivered in 1460-byte
// segments: the body path, with a Unit per segment.
func BenchmarkResponses(b *testing.B) {
	p := New()
	var units int
	emit := func(*applayer.Unit) { units++ }
	b.SetBytes(int64(len(benchReq) + len(benchResp)))
	b.ReportAllocs()
	for b.Loop() {
		p.Feed(inspect.ToServer, benchReq, emit)
		for r := benchResp; len(r) > 0; {
			n := min(len(r), 1460)
			p.Feed(inspect.ToClient, r[:n], emit)
			r = r[n:]
		}
	}
	if units == 0 {
		b.Fatal("no units")
	}
}

package detect

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
	"github.com/interdict/interdict/inspect/prefilter"
	"github.com/interdict/interdict/inspect/rules"
	"github.com/interdict/interdict/tests/testenv"

	// The parsers register in init; without them no HTTP, TLS or DNS
	// buffer rule would run in the benchmarks.
	_ "github.com/interdict/interdict/inspect/dns"
	_ "github.com/interdict/interdict/inspect/http1"
	_ "github.com/interdict/interdict/inspect/tls"
)

func loadET(b *testing.B) *rules.Set {
	files, err := filepath.Glob(filepath.Join(testenv.ETOpenDir(b), "*.rules"))
	require.NoError(b, err)
	set, err := rules.LoadFiles(files, nil)
	require.NoError(b, err)
	return set
}

// BenchmarkETOpenLoadCompile measures parse + compile of all ET Open
// rules: "cold" with an empty rule cache (a first load), "warm" with the
// cache filled by the previous load of the same files (a reload).
func BenchmarkETOpenLoadCompile(b *testing.B) {
	for _, warm := range []bool{false, true} {
		name := "cold"
		if warm {
			name = "warm"
		}
		b.Run(name, func(b *testing.B) {
			rules.ResetCache()
			if warm {
				loadET(b)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if !warm {
					rules.ResetCache()
				}
				set := loadET(b)
				_, err := New(set.Rules, Options{})
				require.NoError(b, err)
			}
		})
	}
	rules.ResetCache()
}

// BenchmarkETOpenCompile measures the compile stage alone, to split load
// time between the (serial) parse and the engine build.
func BenchmarkETOpenCompile(b *testing.B) {
	set := loadET(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, err := New(set.Rules, Options{})
		require.NoError(b, err)
	}
}

// segment is one delivery of stream bytes, as the data path hands them
// over: a message (or a piece of a large one) in one direction.
type segment struct {
	dir  inspect.Direction
	data []byte
}

var (
	benchPaths = []string{"/", "/index.html", "/api/v1/users/%d", "/api/v2/orders?id=%d&sort=desc",
		"/static/js/app.%x.js", "/images/p%d.png", "/search?q=%x&page=%d", "/wp-content/themes/t/style.css?ver=%d",
		"/login", "/cart/add/%d", "/feed.xml", "/assets/fonts/f%d.woff2"}
	benchUAs = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
		"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
		"curl/8.5.0", "okhttp/4.12.0", "python-requests/2.31.0", "Go-http-client/1.1",
	}
	benchHosts = []string{"www.example.com", "api.example.net", "cdn.example.org", "shop.example.com", "news.example.co.uk"}
)

// benchPath fills a path template with as many random numbers as it wants.
func benchPath(rng *rand.Rand) string {
	p := benchPaths[rng.Intn(len(benchPaths))]
	args := make([]any, strings.Count(p, "%"))
	for i := range args {
		args[i] = rng.Intn(1 << 20)
	}
	return fmt.Sprintf(p, args...)
}

func benchBody(rng *rand.Rand, kind int, n int) []byte {
	body := make([]byte, 0, n+64)
	switch kind {
	case 0: // html
		for len(body) < n {
			body = fmt.Appendf(body, "<div class=\"item-%d\"><a href=\"/p/%d\">Item %d</a> <span>%d.%02d EUR</span></div>\n",
				rng.Intn(100), rng.Intn(1e5), rng.Intn(1e4), rng.Intn(500), rng.Intn(100))
		}
	case 1: // json
		body = append(body, '[')
		for len(body) < n {
			body = fmt.Appendf(body, `{"id":%d,"name":"user%d","active":%t,"score":%d},`, rng.Intn(1e6), rng.Intn(1e4), rng.Intn(2) == 0, rng.Intn(1000))
		}
		body = append(body, `{}]`...)
	default: // binary (image, font)
		for len(body) < n {
			body = append(body, byte(rng.Intn(256)))
		}
	}
	return body[:n]
}

// httpConversations generates keep-alive HTTP/1.1 flows totalling about
// n bytes: varied requests (GET and POST with JSON), responses with html,
// JSON or binary bodies, some chunked, each message delivered as one
// segment or in pieces of at most chunk bytes.
func httpConversations(n, chunk int) [][]segment {
	rng := rand.New(rand.NewSource(1))
	var flows [][]segment
	total := 0
	add := func(f []segment, dir inspect.Direction, msg []byte) []segment {
		for len(msg) > 0 {
			k := min(len(msg), chunk)
			f = append(f, segment{dir, msg[:k]})
			msg = msg[k:]
			total += k
		}
		return f
	}
	for total < n {
		var f []segment
		host := benchHosts[rng.Intn(len(benchHosts))]
		ua := benchUAs[rng.Intn(len(benchUAs))]
		for tx := 0; tx < 40 && total < n; tx++ {
			var req []byte
			if rng.Intn(5) == 0 {
				body := benchBody(rng, 1, 50+rng.Intn(400))
				req = fmt.Appendf(req, "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nCookie: sess=%x\r\n\r\n%s",
					benchPath(rng), host, ua, len(body), rng.Int63(), body)
			} else {
				req = fmt.Appendf(req, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nAccept-Language: en-US,en;q=0.9\r\n",
					benchPath(rng), host, ua)
				if rng.Intn(2) == 0 {
					req = fmt.Appendf(req, "Referer: https://%s%s\r\n", host, benchPath(rng))
				}
				req = append(req, "\r\n"...)
			}
			f = add(f, inspect.ToServer, req)
			kind := rng.Intn(3)
			ctype := [...]string{"text/html; charset=utf-8", "application/json", "image/png"}[kind]
			var size int
			switch rng.Intn(4) {
			case 0:
				size = 20000 + rng.Intn(60000)
			default:
				size = 200 + rng.Intn(8000)
			}
			body := benchBody(rng, kind, size)
			var resp []byte
			if rng.Intn(4) == 0 {
				resp = fmt.Appendf(resp, "HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\n", ctype)
				for rest := body; len(rest) > 0; {
					k := min(len(rest), 4096)
					resp = fmt.Appendf(resp, "%x\r\n%s\r\n", k, rest[:k])
					rest = rest[k:]
				}
				resp = append(resp, "0\r\n\r\n"...)
			} else {
				resp = fmt.Appendf(resp, "HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nContent-Type: %s\r\nContent-Length: %d\r\nCache-Control: max-age=3600\r\n\r\n%s", ctype, len(body), body)
			}
			f = add(f, inspect.ToClient, resp)
		}
		flows = append(flows, f)
	}
	return flows
}

// BenchmarkInspectETOpen runs all loadable ET Open rules over about 4 MiB
// of keep-alive HTTP (messages of up to 16 KiB per Inspect call). "raw"
// detects no app-layer protocol (raw stream rules only), "full" runs the
// registered parsers and so the HTTP buffer rules too; "full-hyperscan"
// is "full" with the hyperscan prefilter (skipped unless built with
// -tags hyperscan), which splits the prefilter's share from the rest.
func BenchmarkInspectETOpen(b *testing.B) {
	set := loadET(b)
	flows := httpConversations(4<<20, 16<<10)
	var size int64
	for _, f := range flows {
		for _, s := range f {
			size += int64(len(s.data))
		}
	}
	for _, mode := range []struct {
		name   string
		protos []applayer.Proto
		engine string
	}{{"raw", []applayer.Proto{}, ""}, {"full", nil, ""}, {"full-hyperscan", nil, "hyperscan"}} {
		b.Run(mode.name, func(b *testing.B) {
			var pf prefilter.Builder
			if mode.engine != "" {
				var err error
				if pf, err = prefilter.Lookup(mode.engine); err != nil {
					b.Skip(err)
				}
			}
			e, err := New(set.Rules, Options{Protos: mode.protos, Prefilter: pf})
			require.NoError(b, err)
			b.SetBytes(size)
			b.ReportAllocs()
			b.ResetTimer()
			alerts := 0
			for i := 0; i < b.N; i++ {
				for _, segs := range flows {
					f := e.NewFlow(tcpMeta)
					for _, s := range segs {
						alerts += len(f.Inspect(s.dir, s.data).Alerts)
					}
					alerts += len(f.Close().Alerts)
				}
			}
			b.ReportMetric(float64(alerts)/float64(b.N), "alerts/op")
		})
	}
}

// BenchmarkFlowState reports retained heap bytes per flow with ET Open
// loaded: "idle" after one small request and response, "busy" after
// 128 KiB in each direction in 8 KiB chunks (default 64 KiB window).
func BenchmarkFlowState(b *testing.B) {
	set := loadET(b)
	e, err := New(set.Rules, Options{})
	require.NoError(b, err)
	conv := httpConversations(1<<20, 8<<10)
	idle := conv[0][:2]
	var busy []segment
	var seen [2]int
	for _, f := range conv {
		for _, s := range f {
			if seen[s.dir] < 128<<10 {
				busy = append(busy, s)
				seen[s.dir] += len(s.data)
			}
		}
	}
	for _, c := range []struct {
		name string
		segs []segment
	}{{"idle", idle}, {"busy", busy}} {
		b.Run(c.name, func(b *testing.B) {
			const flows = 64
			for i := 0; i < b.N; i++ {
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				keep := make([]*Flow, flows)
				for j := range keep {
					f := e.newFlow(tcpMeta)
					for _, s := range c.segs {
						f.Inspect(s.dir, s.data)
					}
					keep[j] = f
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/flows, "bytes/flow")
				runtime.KeepAlive(keep)
			}
		})
	}
}

// BenchmarkShortFlowETOpen measures one short HTTP flow (a small request
// and response) with all loadable ET Open rules: the per-flow costs
// (address filtering of the always-evaluated rules, parser and prefilter
// state) that dominate when flows are short.
func BenchmarkShortFlowETOpen(b *testing.B) {
	set := loadET(b)
	e, err := New(set.Rules, Options{})
	require.NoError(b, err)
	req := []byte("GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n")
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 12\r\n\r\nhello world\n")
	b.SetBytes(int64(len(req) + len(resp)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f := e.NewFlow(tcpMeta)
		f.Inspect(inspect.ToServer, req)
		f.Inspect(inspect.ToClient, resp)
		f.Close()
	}
}

// BenchmarkBulkETOpen is one 8 MiB download (binary body after a small
// HTTP exchange, 64 KiB per Inspect call) with all loadable ET Open
// rules, with an unlimited raw stream and with Suricata's default 1 MiB
// stream depth, past which only the HTTP body rules look at the bytes.
func BenchmarkBulkETOpen(b *testing.B) {
	set := loadET(b)
	rng := rand.New(rand.NewSource(1))
	body := benchBody(rng, 2, 8<<20)
	req := []byte("GET /big.iso HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: curl/8.5.0\r\n\r\n")
	resp := fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", len(body))
	for _, depth := range []int64{0, 1 << 20} {
		b.Run(fmt.Sprintf("depth=%d", depth), func(b *testing.B) {
			e, err := New(set.Rules, Options{StreamDepth: depth})
			require.NoError(b, err)
			b.SetBytes(int64(len(req) + len(resp) + len(body)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				f := e.NewFlow(tcpMeta)
				f.Inspect(inspect.ToServer, req)
				f.Inspect(inspect.ToClient, resp)
				for rest := body; len(rest) > 0; {
					k := min(len(rest), 64<<10)
					f.Inspect(inspect.ToClient, rest[:k])
					rest = rest[k:]
				}
				f.Close()
			}
		})
	}
}

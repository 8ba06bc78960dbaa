package harness

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v4"

	"github.com/interdict/interdict/appliance"
	"github.com/interdict/interdict/appliance/enforce"
	"github.com/interdict/interdict/appliance/policy"
	"github.com/interdict/interdict/configs"
	"github.com/interdict/interdict/inspect/http1"
	"github.com/interdict/interdict/netstack"
)

// decmemAppliance is the appliance's detection (appliance.NewDetection,
// which owns the decoder memory budget and its metrics) with
// rules.http.decoder_memory set to decoderMemory (negative: unlimited),
// under the default config's protocol policy.
func decmemAppliance(tb testing.TB, decoderMemory int64, opts ...netstack.Option) (*Net, *prometheus.Registry) {
	var cfg struct {
		Policy policy.Config `yaml:"policy"`
	}
	require.NoError(tb, yaml.Unmarshal(configs.Default, &cfg))
	rulesPath := filepath.Join(tb.TempDir(), "http.rules")
	require.NoError(tb, os.WriteFile(rulesPath,
		[]byte(`alert http any any -> any any (msg:"body"; http.response_body; content:"never-sent"; sid:1;)`+"\n"), 0o600))
	reg := prometheus.NewRegistry()
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := policy.New(cfg.Policy, policy.Options{Registerer: reg, Logger: discard})
	require.NoError(tb, err)
	tb.Cleanup(p.Close)
	det, err := appliance.NewDetection(appliance.RuleSettings{Files: []string{rulesPath}, HTTPLimits: http1.Limits{DecoderMemory: decoderMemory}},
		enforce.Config{Registerer: reg, OnResult: p.OnResult, Logger: discard}, discard)
	require.NoError(tb, err)
	n := New(tb, append([]netstack.Option{netstack.WithHandler(policy.Wrap(det.Handler(), p)), netstack.WithMetrics(reg)}, opts...)...)
	require.NoError(tb, p.Attach(n.Appliance.Guard(), n.Appliance.Flows()))
	return n, reg
}

// metric reads a gauge or counter without labels.
func metric(tb testing.TB, reg *prometheus.Registry, name string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	require.NoError(tb, err)
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			m := mf.GetMetric()[0]
			return m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	tb.Fatalf("no metric %s", name)
	return 0
}

// heldServer answers every request with head and first in one write,
// then holds the flow until release is closed and sends rest: every
// flow's decoder is live at once.
type heldServer struct {
	head, first, rest []byte
	release           chan struct{}
}

func (s *heldServer) serve(c net.Conn) {
	if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
		return
	}
	if _, err := c.Write(append(append([]byte(nil), s.head...), s.first...)); err != nil {
		return
	}
	<-s.release
	_, _ = c.Write(s.rest)
}

// flood opens flows GETs in parallel and returns, once every client has
// either got the first part of its response or lost its connection, a
// function that waits for each client's whole read.
func flood(tb testing.TB, n *Net, s *heldServer, flows int) func() [][]byte {
	got := make([][]byte, flows)
	var settled, done sync.WaitGroup
	for i := range flows {
		settled.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			once := sync.OnceFunc(settled.Done)
			defer once()
			c, err := dialFrom(n, ClientAddr, httpAP, 20*time.Second)
			if err != nil {
				tb.Error(err)
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(60 * time.Second))
			if _, err := fmt.Fprintf(c, "GET /%d HTTP/1.1\r\nHost: h\r\n\r\n", i); err != nil {
				return
			}
			b := make([]byte, 32<<10)
			for {
				k, err := c.Read(b)
				got[i] = append(got[i], b[:k]...)
				if len(got[i]) >= len(s.head)+len(s.first) {
					once()
				}
				if err != nil {
					return
				}
			}
		}()
	}
	settled.Wait()
	return func() [][]byte {
		done.Wait()
		return got
	}
}

// brFlushed is plain in br with the largest window (16 MiB), its first
// KiB flushed in a meta-block of its own, as a server compressing on the
// fly writes it: the decoder may fill its whole window.
func brFlushed(plain []byte) []byte {
	var o bytes.Buffer
	w := brotli.NewWriterOptions(&o, brotli.WriterOptions{Quality: 5, LGWin: 24})
	_, _ = w.Write(plain[:1<<10])
	_ = w.Flush()
	_, _ = w.Write(plain[1<<10:])
	_ = w.Close()
	return o.Bytes()
}

// Many flows each serving a br body that asks for the largest window,
// against a budget of two such windows: the two that got theirs pass
// byte-exact, every other is refused before the client gets a byte of
// its body (RESPONSE_DECODER_MEMORY_EXHAUSTED, rejected by the default
// policy), the refusal counter says how many, and the gauge of reserved
// decoder memory returns to 0 once the flows are over.
func TestDecoderMemoryFlood(t *testing.T) {
	leakCheck(t)
	const flows = 8
	// 40 MiB holds two 16 MiB br windows with their decoder state, not a
	// third.
	n, reg := decmemAppliance(t, 40<<20)
	plain := make([]byte, 256<<10)
	_, _ = rand.NewChaCha8([32]byte{2}).Read(plain)
	body := brFlushed(plain)
	s := &heldServer{
		head:    []byte("HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"),
		first:   body[:len(body)/2],
		rest:    body[len(body)/2:],
		release: make(chan struct{}),
	}
	serve(t, n, httpAP, s.serve)
	release := sync.OnceFunc(func() { close(s.release) })
	t.Cleanup(release) // before the server's cleanup waits for its handlers

	wait := flood(t, n, s, flows)
	assert.Equal(t, float64(flows-2), metric(t, reg, "interdict_http_decoder_memory_refused_total"))
	assert.Greater(t, metric(t, reg, "interdict_http_decoder_memory_bytes"), float64(32<<20), "two 16 MiB windows held")
	release()
	full := string(s.head) + string(body)
	passed := 0
	for i, got := range wait() {
		if string(got) == full {
			passed++
			continue
		}
		assert.LessOrEqual(t, len(got), len(s.head), "flow %d: the client got body bytes of a refused response", i)
	}
	assert.Equal(t, 2, passed, "the flows within the budget pass byte-exact")
	require.Eventually(t, func() bool {
		return metric(t, reg, "interdict_http_decoder_memory_bytes") == 0
	}, 20*time.Second, 10*time.Millisecond, "the decoder memory gauge returns to 0")
}

// BenchmarkDecoderMemoryFlood measures the process's RSS and heap while
// 300 flows each hold a br body that asks for the 16 MiB window and fills
// it: 16 MiB of text with a random byte every 92 (about 50:1, under
// the 200:1 decompression-bomb bound), all of it sent but its last KiB,
// so every decoder holds a full window. Unlimited vs the default 512 MiB;
// figures are growth over the harness before the flood.
//
//	go test -run '^$' -bench DecoderMemoryFlood -benchtime 1x ./tests/harness/
func BenchmarkDecoderMemoryFlood(b *testing.B) {
	const flows = 300
	sentence := []byte("a body that compresses well but not too well; ")
	rng := rand.New(rand.NewPCG(1, 2))
	var text bytes.Buffer
	for text.Len() < 16<<20 {
		for range 2 {
			text.Write(sentence)
		}
		text.WriteByte(byte(rng.Uint32()))
	}
	body := brFlushed(text.Bytes())
	b.Logf("br body: %d bytes for %d", len(body), text.Len())
	for _, tc := range []struct {
		name string
		mem  int64
	}{{"unlimited", -1}, {"budget-512MiB", 0}} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				n, reg := decmemAppliance(b, tc.mem, netstack.WithLimits(netstack.Limits{MaxSYNPerSource: flows, MaxSYNInFlight: 4096}))
				s := &heldServer{
					head:    []byte("HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"),
					first:   body[:len(body)-1<<10],
					release: make(chan struct{}),
				}
				serve(b, n, httpAP, s.serve)
				release := sync.OnceFunc(func() { close(s.release) })
				b.Cleanup(release) // before the server's cleanup waits for its handlers
				runtime.GC()
				debug.FreeOSMemory()
				rss0, heap0 := rss(b), heap()
				wait := flood(b, n, s, flows)
				rss1, heap1 := rss(b), heap()
				b.ReportMetric(float64(rss1-rss0)/(1<<20), "MiB-RSS")
				b.ReportMetric(float64(heap1-heap0)/(1<<20), "MiB-heap")
				b.ReportMetric(metric(b, reg, "interdict_http_decoder_memory_refused_total"), "refused")
				b.ReportMetric(metric(b, reg, "interdict_http_decoder_memory_bytes")/(1<<20), "MiB-reserved")
				release()
				wait()
			}
		})
	}
}

// rss is the process's resident set size (Linux).
func rss(tb testing.TB) uint64 {
	st, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		tb.Skip("no /proc/self/statm")
	}
	f := strings.Fields(string(st))
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

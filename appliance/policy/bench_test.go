package policy

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/interdict/interdict/netstack"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// BenchmarkNewFlow measures the admission cost of a flow through Wrap:
// the block-list lookup (one map lookup per prefix length in use) and the
// per-source limiter, with a large block list in force.
func BenchmarkNewFlow(b *testing.B) {
	for _, n := range []int{0, 10000} {
		b.Run(fmt.Sprintf("blocks=%d", n), func(b *testing.B) {
			p, err := New(Config{Rate: RateConfig{NewFlows: NewFlowsConfig{PerSecond: 1e9, Burst: 1e9}}}, Options{SweepEvery: -1, Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			for i := range n {
				// Prefixes of three lengths, none containing the client.
				pfx := netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(i >> 8), byte(i), 0}), 24+i%3*4)
				if _, _, err := p.Block(pfx, time.Hour, "bench"); err != nil {
					b.Fatal(err)
				}
			}
			h := Wrap(netstack.PassAll{}, p)
			info := &netstack.FlowInfo{ID: 1, Proto: netstack.TCP, Src: netip.MustParseAddrPort("10.0.0.2:1000"), Dst: netip.MustParseAddrPort("10.99.0.1:80")}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, v := h.NewFlow(info); v.Terminal() {
					b.Fatal(v)
				}
			}
		})
	}
}

// BenchmarkChunk measures what Wrap adds to each chunk of an inspected
// flow with protocol validation on and with a bytes/s limit that never
// waits.
func BenchmarkChunk(b *testing.B) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"protocol", Config{Protocol: ProtocolConfig{Default: "reject"}}},
		{"bytes", Config{Rate: RateConfig{Bytes: BytesConfig{PerSecond: 1e15, Burst: 1 << 30}}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p, err := New(tc.cfg, Options{SweepEvery: -1, Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			fh, _ := Wrap(&fakeInner{}, p).NewFlow(flowInfo(1, "10.0.0.2:1000"))
			chunk := make([]byte, 32<<10)
			b.SetBytes(int64(len(chunk)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				fh.Chunk(netstack.ToServer, chunk)
			}
		})
	}
}

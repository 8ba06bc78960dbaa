package harness

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/appliance/identity"
	"github.com/interdict/interdict/netstack"
)

// bigPolicy is 10 tag policies of 1,000 entries; runner-a's tag (ci) has
// one of them, whose last prefix entry allows the server.
func bigPolicy() []identity.PolicyConfig {
	var pols []identity.PolicyConfig
	for t := range 10 {
		tag := fmt.Sprintf("t%d", t)
		if t == 0 {
			tag = "ci"
		}
		pc := identity.PolicyConfig{Name: fmt.Sprintf("p%d", t), Tags: []string{tag}}
		for j := range 999 {
			to := fmt.Sprintf("10.%d.%d.0/24", 100+t, j%250)
			if j%4 == 3 {
				to = fmt.Sprintf("*.svc%d.t%d.example.com", j, t)
			}
			pc.Allow = append(pc.Allow, identity.AllowConfig{To: to, Ports: []int{443}})
		}
		pc.Allow = append(pc.Allow, identity.AllowConfig{To: ServerAddr.String() + "/32"})
		pols = append(pols, pc)
	}
	return pols
}

// BenchmarkEgressPolicyOverhead measures, in one run, bulk throughput
// (one 64 MiB upload) and connects/s (sequential connect, one byte each
// way, close) through the appliance with the 10,000-entry policy loaded
// and with none, alternating the two five times; it reports the
// medians and their ratios (policy / none).
func BenchmarkEgressPolicyOverhead(b *testing.B) {
	const size, conns = 64 << 20, 300
	build := func(pols []identity.PolicyConfig) (*Net, *identity.Engine) {
		reg := runners(b)
		e, err := identity.NewEngine(reg, identity.InterruptConfig{}, identity.Options{SweepEvery: -1,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		require.NoError(b, err)
		require.NoError(b, e.SetPolicies(pols, nil))
		n, err := Build(netstack.WithHandler(e.Wrap(netstack.PassAll{})), netstack.WithIdentity(reg.FlowIdentity))
		require.NoError(b, err)
		ln, err := n.Listen(echoAP)
		require.NoError(b, err)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					h := sha256.New()
					buf := make([]byte, 1)
					if _, err := io.ReadFull(c, buf); err != nil {
						return
					}
					c.Write(buf)
					io.Copy(h, c)
				}()
			}
		}()
		return n, e
	}
	measure := func(n *Net) (mbps, cps float64) {
		ctx := context.Background()
		c, err := n.Dial(ctx, echoAP)
		require.NoError(b, err)
		start := time.Now()
		_, err = io.CopyN(c, newPattern(1), size)
		require.NoError(b, err)
		c.CloseWrite()
		c.Read(make([]byte, 1)) // the echoed first byte, then EOF when the server is done
		io.Copy(io.Discard, c)
		mbps = float64(size) / time.Since(start).Seconds() / 1e6
		c.Close()
		start = time.Now()
		for range conns {
			c, err := n.Dial(ctx, echoAP)
			require.NoError(b, err)
			c.Write([]byte{1})
			c.Read(make([]byte, 1))
			c.Close()
		}
		cps = conns / time.Since(start).Seconds()
		return mbps, cps
	}
	var tp, cp [2][]float64 // [0] no policy, [1] policy
	for b.Loop() {
		for round := range 5 {
			for k, pols := range [][]identity.PolicyConfig{nil, bigPolicy()} {
				if round%2 == 1 {
					k = 1 - k // alternate which goes first
					pols = [][]identity.PolicyConfig{nil, bigPolicy()}[k]
				}
				n, e := build(pols)
				// The garbage of building (the policy's compilation, the
				// last round's stacks) is collected before measuring, so
				// neither side pays for the other's.
				runtime.GC()
				m, c := measure(n)
				tp[k], cp[k] = append(tp[k], m), append(cp[k], c)
				n.Close()
				e.Close()
			}
		}
	}
	b.Logf("MB/s none %.0f, policy %.0f; conn/s none %.0f, policy %.0f", tp[0], tp[1], cp[0], cp[1])
	med := func(v []float64) float64 { v = slices.Clone(v); slices.Sort(v); return v[len(v)/2] }
	b.ReportMetric(med(tp[0]), "MB/s-none")
	b.ReportMetric(med(tp[1]), "MB/s-policy")
	b.ReportMetric(med(tp[1])/med(tp[0]), "throughput-ratio")
	b.ReportMetric(med(cp[0]), "conn/s-none")
	b.ReportMetric(med(cp[1]), "conn/s-policy")
	b.ReportMetric(med(cp[1])/med(cp[0]), "connects-ratio")
}

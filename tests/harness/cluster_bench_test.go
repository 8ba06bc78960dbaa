package harness

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/appliance/cluster"
	"github.com/interdict/interdict/appliance/cluster/clustertest"
	"github.com/interdict/interdict/appliance/identity"
	"github.com/interdict/interdict/netstack"
)

// stampGuard is a watcher hub's packet guard: it reports when each
// prefix is blocked, the moment the quarantine is enforced there (the
// reset of the identity's live flows runs next, in the same call).
type stampGuard struct {
	hub     int
	applied chan<- stamp
}

type stamp struct {
	hub    int
	prefix netip.Prefix
	at     time.Time
}

func (g *stampGuard) Block(p netip.Prefix, _ time.Time) error {
	g.applied <- stamp{hub: g.hub, prefix: p, at: time.Now()}
	return nil
}

func (g *stampGuard) Unblock(netip.Prefix) bool { return true }

// propagationFleet is one writer hub and watchers hubs, each an identity
// engine over its own store on a three-member embedded NATS cluster,
// sharing a registry of n identities.
func propagationFleet(b *testing.B, watchers, n int) (*identity.Engine, []netip.Prefix, <-chan stamp) {
	f := clustertest.Start(b, 3)
	var entries []identity.Entry
	var prefixes []netip.Prefix
	for i := range n {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 32)
		entries = append(entries, identity.Entry{Identity: &identity.Identity{Name: fmt.Sprintf("runner-%04d", i)}, Prefixes: []netip.Prefix{p}})
		prefixes = append(prefixes, p)
	}
	reg := identity.NewRegistry()
	require.NoError(b, reg.Replace("config", entries))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	engine := func(i int) *identity.Engine {
		st, err := cluster.Open(f.Settings(), []string{f.URL(i % 3)}, cluster.Options{Buckets: identity.Buckets, Own: true, Logger: log})
		require.NoError(b, err)
		b.Cleanup(st.Close)
		e, err := identity.NewEngine(reg, identity.InterruptConfig{}, identity.Options{Store: st, Logger: log,
			Registerer: prometheus.NewRegistry(), SweepEvery: -1})
		require.NoError(b, err)
		b.Cleanup(e.Close)
		return e
	}
	applied := make(chan stamp, watchers*n)
	writer := engine(0)
	for w := range watchers {
		require.NoError(b, engine(w+1).Attach(&stampGuard{hub: w, applied: applied}, nil))
	}
	return writer, prefixes, applied
}

// BenchmarkClusterPropagation measures, for each of 1,000 quarantines
// (one per identity of 1,000) made on one hub, the time from the
// Interrupt call to the moment the last of 10 watcher hubs enforces it
// (its guard drops the identity). sequential waits for each quarantine
// to reach every hub before the next; burst issues all 1,000 at once
// (latency then includes the queue behind the earlier ones). Run:
//
//	go test -run '^$' -bench ClusterPropagation -benchtime 1x ./tests/harness/
func BenchmarkClusterPropagation(b *testing.B) {
	const watchers, n = 10, 1000
	for _, mode := range []string{"sequential", "burst"} {
		b.Run(mode, func(b *testing.B) {
			for b.Loop() {
				writer, prefixes, applied := propagationFleet(b, watchers, n)
				cpu0 := cpuTime()
				start := make(map[netip.Prefix]time.Time, n)
				last := make(map[netip.Prefix]time.Time, n)
				seen := make(map[netip.Prefix]int, n)
				var mu sync.Mutex
				quarantine := func(i int) {
					mu.Lock()
					start[prefixes[i]] = time.Now()
					mu.Unlock()
					_, err := writer.Interrupt(identity.Request{Identity: fmt.Sprintf("runner-%04d", i), Action: identity.ActionQuarantine, For: time.Hour})
					require.NoError(b, err)
				}
				wait := func(want int) {
					timeout := time.After(2 * time.Minute)
					for got := 0; got < want; got++ {
						select {
						case s := <-applied:
							seen[s.prefix]++
							if s.at.After(last[s.prefix]) {
								last[s.prefix] = s.at
							}
						case <-timeout:
							b.Fatalf("%d of %d applications after 2m", got, want)
						}
					}
				}
				if mode == "sequential" {
					for i := range n {
						quarantine(i)
						wait(watchers)
					}
				} else {
					for i := range n {
						quarantine(i)
					}
					wait(watchers * n)
				}
				cpu := cpuTime() - cpu0
				var lat []time.Duration
				for _, p := range prefixes {
					require.Equal(b, watchers, seen[p], "every watcher applied %s once", p)
					lat = append(lat, last[p].Sub(start[p]))
				}
				reportLatency(b, lat, "")
				// The process's CPU time (the NATS members included):
				// steadier than latency on a shared machine.
				b.ReportMetric(cpu.Seconds(), "cpu-s")
			}
		})
	}
}

// benchHub is a hub over member i of f: the identity engine on its own
// store in front of a netstack serving echo, runner-a and runner-b as
// the client's two addresses.
func benchHub(b *testing.B, f *clustertest.Fleet, i int) (*identity.Engine, *Net) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := cluster.Open(f.Settings(), []string{f.URL(i)}, cluster.Options{Buckets: identity.Buckets, Own: true, Logger: log})
	require.NoError(b, err)
	b.Cleanup(st.Close)
	reg := runners(b)
	e, err := identity.NewEngine(reg, identity.InterruptConfig{}, identity.Options{Store: st, Logger: log, Registerer: prometheus.NewRegistry()})
	require.NoError(b, err)
	b.Cleanup(e.Close)
	n := New(b, netstack.WithHandler(e.Wrap(netstack.PassAll{})), netstack.WithIdentity(reg.FlowIdentity))
	require.NoError(b, e.Attach(n.Appliance.Guard(), n.Appliance.Flows()))
	addClientAddr(b, n, ClientAddr2)
	ln, err := n.Listen(echoAP)
	require.NoError(b, err)
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); echo(c) }()
		}
	}()
	return e, n
}

// BenchmarkClusterResetLatency measures, per iteration, the time from
// `ctl quarantine runner-b` on hub A (Interrupt) to the RST that
// runner-b's live flow through hub C sees at its client socket: the
// write, the cluster, hub C's watch, its guard and its reset, end to
// end. Run: go test -run '^$' -bench ClusterResetLatency -benchtime 200x ./tests/harness/
func BenchmarkClusterResetLatency(b *testing.B) {
	f := clustertest.Start(b, 3)
	a, _ := benchHub(b, f, 0)
	c, nc := benchHub(b, f, 2)
	var lat []time.Duration
	for b.Loop() {
		conn, err := dialFrom(nc, ClientAddr2, echoAP, 5*time.Second)
		require.NoError(b, err)
		_, err = conn.Write([]byte("x"))
		require.NoError(b, err)
		_, err = conn.Read(make([]byte, 1))
		require.NoError(b, err, "the flow carries bytes before the quarantine")
		start := time.Now()
		_, err = a.Interrupt(identity.Request{Identity: "runner-b", Action: identity.ActionQuarantine, For: time.Hour})
		require.NoError(b, err)
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		lat = append(lat, time.Since(start))
		require.ErrorContains(b, err, "reset", "hub C resets runner-b's flow")
		conn.Close()
		_, err = a.Release("runner-b", "")
		require.NoError(b, err)
		for deadline := time.Now().Add(30 * time.Second); ; {
			if _, ok := c.Get("runner-b"); !ok {
				break
			}
			require.True(b, time.Now().Before(deadline), "the release reaches hub C")
			time.Sleep(time.Millisecond) // a benchmark's poll, not a test's wait
		}
	}
	reportLatency(b, lat, "")
}

// reportLatency reports the median, 99th percentile and maximum of lat
// in milliseconds, their units prefixed by p.
func reportLatency(b *testing.B, lat []time.Duration, p string) {
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, p+"p50-ms")
	// Nearest rank: of 100 samples the 99th, where len*99/100 took the
	// 100th, the maximum.
	b.ReportMetric(float64(lat[(len(lat)*99+99)/100-1].Microseconds())/1000, p+"p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, p+"max-ms")
}

package policy

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/netstack"
)

func TestNewFlowsPerSecond(t *testing.T) {
	tests := []struct {
		name   string
		cfg    NewFlowsConfig
		want   netstack.Verdict
		action string
	}{
		{"drop by default", NewFlowsConfig{PerSecond: 2, Burst: 3}, netstack.Drop, "drop"},
		{"reject", NewFlowsConfig{PerSecond: 2, Burst: 3, Action: "reject"}, netstack.Reject, "reject"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{Rate: RateConfig{NewFlows: tc.cfg}})
			inner := &fakeInner{}
			h := Wrap(inner, e.p)
			open := func(src string) netstack.Verdict {
				fh, v := h.NewFlow(flowInfo(1, src))
				if fh != nil {
					fh.Close(netstack.FlowStats{})
				}
				return v
			}
			for i := range 3 {
				assert.Equal(t, netstack.Continue, open("10.0.0.2:1000"), "burst flow %d", i)
			}
			assert.Equal(t, tc.want, open("10.0.0.2:1000"), "over the burst")
			assert.Equal(t, netstack.Continue, open("10.0.0.3:1000"), "another source has its own bucket")
			e.clock.Advance(499 * time.Millisecond)
			assert.Equal(t, tc.want, open("10.0.0.2:1000"), "not yet one token back at 2/s")
			e.clock.Advance(time.Millisecond)
			assert.Equal(t, netstack.Continue, open("10.0.0.2:1000"), "one token after 500ms")
			assert.Equal(t, tc.want, open("10.0.0.2:1000"))
			assert.Equal(t, 3.0, e.counter(t, e.p.m.rateLimited.WithLabelValues("new_flows", tc.action)))
			assert.Equal(t, 5, inner.flows, "refused flows never reach the inner handler")
		})
	}
}

func TestSourceLimiterTableIsBounded(t *testing.T) {
	e := newEnv(t, Config{Rate: RateConfig{NewFlows: NewFlowsConfig{PerSecond: 1, Burst: 1, MaxSources: 3, Idle: "10s"}}})
	s := e.p.sources
	now := e.clock.Now()
	for i := range 3 {
		require.True(t, s.allow(addr(i), now))
	}
	assert.False(t, s.allow(addr(0), now), "source 0 used its token")
	require.True(t, s.allow(addr(3), now), "a fourth source evicts the least recently used (source 1)")
	assert.Equal(t, 3, s.len())
	assert.Equal(t, 3.0, e.counter(t, e.p.m.limiterSources))
	assert.True(t, s.allow(addr(1), now), "evicted source 1 got a fresh bucket")
	assert.False(t, s.allow(addr(0), now), "source 0 was kept: it was used recently")

	e.clock.Advance(9 * time.Second)
	assert.Zero(t, s.evictIdle(e.clock.Now()))
	s.allow(addr(0), e.clock.Now())
	e.clock.Advance(time.Second)
	assert.Equal(t, 2, s.evictIdle(e.clock.Now()), "sources idle for 10s go")
	assert.Equal(t, 1, s.len())
	assert.Equal(t, 1.0, e.counter(t, e.p.m.limiterSources))
}

func addr(i int) netip.Addr { return netip.MustParseAddr(fmt.Sprintf("10.1.0.%d", i+1)) }

// chunkAsync runs Chunk on a goroutine and returns its verdict channel.
func chunkAsync(fh netstack.FlowHandler, dir netstack.Direction, n int) <-chan netstack.Verdict {
	ch := make(chan netstack.Verdict, 1)
	go func() { ch <- fh.Chunk(dir, make([]byte, n)) }()
	return ch
}

func TestBytesPerSecondDelay(t *testing.T) {
	// 1000 B/s, burst 1000: the first 1000 bytes pass at once, then every
	// byte costs 1ms.
	e := newEnv(t, Config{Rate: RateConfig{Bytes: BytesConfig{PerSecond: 1000, Burst: 1000, MaxDelay: "3s"}}})
	h := Wrap(&fakeInner{newVerdict: netstack.Pass}, e.p)
	fh, v := h.NewFlow(flowInfo(1, "10.0.0.2:1000"))
	require.Equal(t, netstack.Continue, v, "an inner Pass becomes Continue: the limit needs every chunk")
	defer fh.Close(netstack.FlowStats{})

	assert.Equal(t, netstack.Continue, fh.Chunk(netstack.ToServer, make([]byte, 1000)), "within the burst: no wait")
	assert.Zero(t, e.clock.Waiters())

	ch := chunkAsync(fh, netstack.ToServer, 500)
	require.Eventually(t, func() bool { return e.clock.Waiters() == 1 }, time.Second, time.Millisecond)
	e.clock.Advance(499 * time.Millisecond)
	select {
	case <-ch:
		t.Fatal("chunk returned before its 500ms delay")
	case <-time.After(20 * time.Millisecond):
	}
	e.clock.Advance(time.Millisecond)
	assert.Equal(t, netstack.Continue, <-ch)

	assert.Equal(t, netstack.Continue, fh.Chunk(netstack.ToClient, make([]byte, 1000)), "the other direction has its own bucket")

	// A chunk needing more than max_delay waits max_delay; the rest of
	// its cost is forgiven, so the next chunk does not inherit it.
	ch = chunkAsync(fh, netstack.ToServer, 10000)
	require.Eventually(t, func() bool { return e.clock.Waiters() == 1 }, time.Second, time.Millisecond)
	e.clock.Advance(3 * time.Second)
	assert.Equal(t, netstack.Continue, <-ch)
	ch = chunkAsync(fh, netstack.ToServer, 100)
	require.Eventually(t, func() bool { return e.clock.Waiters() == 1 }, time.Second, time.Millisecond)
	e.clock.Advance(100 * time.Millisecond)
	assert.Equal(t, netstack.Continue, <-ch, "waits for its own 100 bytes only")

	assert.Equal(t, 1.0, e.counter(t, e.p.m.rateLimited.WithLabelValues("bytes", "delay")), "a flow is counted once")
	assert.InDelta(t, 0.5+3+0.1, e.counter(t, e.p.m.delaySeconds), 1e-9)
}

func TestBytesPerSecondDelayEndsAtClose(t *testing.T) {
	e := newEnv(t, Config{Rate: RateConfig{Bytes: BytesConfig{PerSecond: 10, Burst: 10}}})
	fh, _ := Wrap(&fakeInner{}, e.p).NewFlow(flowInfo(1, "10.0.0.2:1000"))
	ch := chunkAsync(fh, netstack.ToServer, 1000)
	require.Eventually(t, func() bool { return e.clock.Waiters() == 1 }, time.Second, time.Millisecond)
	e.p.Close()
	assert.Equal(t, netstack.Continue, <-ch, "shutdown does not wait for the limiter")
}

func TestBytesPerSecondDrop(t *testing.T) {
	tests := []struct {
		action string
		want   netstack.Verdict
	}{{"drop", netstack.Drop}, {"reject", netstack.Reject}}
	for _, tc := range tests {
		t.Run(tc.action, func(t *testing.T) {
			e := newEnv(t, Config{Rate: RateConfig{Bytes: BytesConfig{PerSecond: 1000, Burst: 1000, Action: tc.action}}})
			inner := &fakeInner{}
			fh, _ := Wrap(inner, e.p).NewFlow(flowInfo(1, "10.0.0.2:1000"))
			assert.Equal(t, netstack.Continue, fh.Chunk(netstack.ToServer, make([]byte, 600)))
			e.clock.Advance(100 * time.Millisecond)
			assert.Equal(t, netstack.Continue, fh.Chunk(netstack.ToServer, make([]byte, 500)), "400+100 tokens")
			assert.Equal(t, tc.want, fh.Chunk(netstack.ToServer, make([]byte, 1)), "bucket empty")
			assert.Equal(t, tc.want, fh.Chunk(netstack.ToClient, make([]byte, 1)), "the flow stays ended in both directions")
			assert.Equal(t, 1.0, e.counter(t, e.p.m.rateLimited.WithLabelValues("bytes", tc.action)))
			assert.Zero(t, e.clock.Waiters(), "drop never waits")
		})
	}
}

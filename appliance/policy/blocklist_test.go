package policy

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/netstack"
)

func TestBlockAPIExpiresOnTheClock(t *testing.T) {
	e := newEnv(t, Config{})
	h := Wrap(&fakeInner{}, e.p)
	pfx := netip.MustParsePrefix("10.0.0.0/24")
	require.NoError(t, blockErr(e.p.Block(pfx, 10*time.Minute, "manual")))
	assert.True(t, e.guard.has("10.0.0.0/24"), "the guard drops the prefix's packets")

	_, v := h.NewFlow(flowInfo(1, "10.0.0.9:1000"))
	assert.Equal(t, netstack.Drop, v, "a SYN that got past the guard is refused")
	_, v = h.NewFlow(flowInfo(2, "10.0.1.9:1000"))
	assert.Equal(t, netstack.Continue, v, "another source is unaffected")

	list := e.p.List()
	require.Len(t, list, 1)
	assert.Equal(t, Entry{Prefix: pfx, Until: t0.Add(10 * time.Minute), Since: t0, Reason: "manual", Origin: OriginAPI}, list[0])
	assert.Equal(t, 1.0, e.counter(t, e.p.m.blocked))
	assert.Equal(t, 1.0, e.counter(t, e.p.m.blocks.WithLabelValues(OriginAPI)))

	e.clock.Advance(10*time.Minute - time.Nanosecond)
	assert.Zero(t, e.p.Sweep())
	_, blocked := e.p.Blocked(netip.MustParseAddr("10.0.0.9"))
	assert.True(t, blocked, "one nanosecond before expiry")

	e.clock.Advance(time.Nanosecond)
	_, blocked = e.p.Blocked(netip.MustParseAddr("10.0.0.9"))
	assert.False(t, blocked, "expired at until even before the sweep")
	assert.True(t, e.guard.has("10.0.0.0/24"), "the sweep unblocks the guard")
	assert.Equal(t, 1, e.p.Sweep())
	assert.False(t, e.guard.has("10.0.0.0/24"))
	assert.Empty(t, e.p.List())
	_, v = h.NewFlow(flowInfo(3, "10.0.0.9:1001"))
	assert.Equal(t, netstack.Continue, v)
	assert.Equal(t, 0.0, e.counter(t, e.p.m.blocked))
	assert.Equal(t, 1.0, e.counter(t, e.p.m.unblocks.WithLabelValues("expired")))
	assert.Equal(t, 1.0, e.counter(t, e.p.m.refused.WithLabelValues("blocked")))
	assert.Equal(t, []string{"block 10.0.0.0/24", "unblock 10.0.0.0/24"}, e.recs.actions())
	until := e.recs.evs[0].Interruption.Until
	require.NotNil(t, until)
	assert.True(t, until.Equal(t0.Add(10*time.Minute)))
	assert.Equal(t, "expired", e.recs.evs[1].Interruption.Cause)
	assert.Contains(t, e.logs.String(), "policy: block source")
	assert.Contains(t, e.logs.String(), "policy: unblock source")
}

func TestBlockSemantics(t *testing.T) {
	pfx := netip.MustParsePrefix("192.0.2.7/32")
	tests := []struct {
		name      string
		first     time.Duration
		second    time.Duration
		wantUntil time.Time // zero: no expiry
	}{
		{"longer extends", time.Minute, time.Hour, t0.Add(time.Hour)},
		{"shorter keeps", time.Hour, time.Minute, t0.Add(time.Hour)},
		{"forever stays", 0, time.Minute, time.Time{}},
		{"forever replaces", time.Minute, 0, time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{})
			require.NoError(t, blockErr(e.p.Block(pfx, tc.first, "one")))
			require.NoError(t, blockErr(e.p.Block(pfx, tc.second, "two")))
			list := e.p.List()
			require.Len(t, list, 1)
			assert.Equal(t, tc.wantUntil, list[0].Until)
			assert.Equal(t, 1.0, e.counter(t, e.p.m.blocked))
		})
	}
}

func TestBlockErrors(t *testing.T) {
	t.Run("negative duration", func(t *testing.T) {
		e := newEnv(t, Config{})
		assert.ErrorContains(t, blockErr(e.p.Block(netip.MustParsePrefix("10.0.0.1/32"), -time.Second, "")), "negative duration")
	})
	t.Run("invalid prefix", func(t *testing.T) {
		e := newEnv(t, Config{})
		assert.ErrorContains(t, blockErr(e.p.Block(netip.Prefix{}, time.Second, "")), "invalid prefix")
	})
	t.Run("full list", func(t *testing.T) {
		e := newEnv(t, Config{Block: BlockConfig{MaxEntries: 2}})
		require.NoError(t, blockErr(e.p.Block(netip.MustParsePrefix("10.0.0.1/32"), time.Minute, "")))
		require.NoError(t, blockErr(e.p.Block(netip.MustParsePrefix("10.0.0.2/32"), 2*time.Minute, "")))
		_, _, err := e.p.Block(netip.MustParsePrefix("10.0.0.3/32"), time.Minute, "")
		assert.ErrorIs(t, err, ErrFull)
		assert.ErrorContains(t, err, "10.0.0.3/32")
		e.clock.Advance(time.Minute)
		assert.NoError(t, blockErr(e.p.Block(netip.MustParsePrefix("10.0.0.3/32"), time.Minute, "")), "an expired entry makes room")
		assert.Len(t, e.p.List(), 2)
	})
	t.Run("guard full rolls back", func(t *testing.T) {
		e := newEnv(t, Config{})
		e.guard.full = true
		_, _, err := e.p.Block(netip.MustParsePrefix("10.0.0.1/32"), time.Minute, "")
		assert.ErrorIs(t, err, netstack.ErrGuardFull)
		assert.Empty(t, e.p.List(), "an entry the guard cannot hold is not kept")
		assert.Equal(t, 0.0, e.counter(t, e.p.m.blocked))
	})
}

func TestUnblockAndStatic(t *testing.T) {
	cfg := Config{Block: BlockConfig{Static: []StaticBlock{
		{Prefix: "203.0.113.0/24", Reason: "abuse"},
		{Prefix: "fd00::/64", For: "1h"},
	}}}
	e := newEnv(t, cfg)
	assert.True(t, e.guard.has("203.0.113.0/24"), "Attach pushes static entries")
	assert.True(t, e.guard.has("fd00::/64"))
	list := e.p.List()
	require.Len(t, list, 2)
	assert.Equal(t, OriginStatic, list[0].Origin)
	assert.True(t, list[0].Until.IsZero())

	_, ok := e.p.Blocked(netip.MustParseAddr("fd00::1234"))
	assert.True(t, ok)
	_, ok = e.p.Blocked(netip.MustParseAddr("::ffff:203.0.113.5"))
	assert.True(t, ok, "4-in-6 sources match IPv4 entries")

	e.clock.Advance(24 * time.Hour)
	assert.Equal(t, 1, e.p.Sweep(), "only the entry with an expiry goes")
	assert.True(t, e.p.Unblock(netip.MustParsePrefix("203.0.113.77/24")), "unblock masks the prefix")
	assert.False(t, e.p.Unblock(netip.MustParsePrefix("203.0.113.0/24")))
	assert.Empty(t, e.p.List())
	assert.False(t, e.guard.has("203.0.113.0/24"))
	assert.Equal(t, 1.0, e.counter(t, e.p.m.unblocks.WithLabelValues("api")))
	assert.Equal(t, 2.0, e.counter(t, e.p.m.blocks.WithLabelValues(OriginStatic)))
}

type noFlows struct{ ranged int }

func (f *noFlows) Range(func(*netstack.Flow) bool) { f.ranged++ }

func TestAttachWithStaticEntriesAndFlows(t *testing.T) {
	p, err := New(Config{Block: BlockConfig{Static: []StaticBlock{{Prefix: "10.0.0.0/8"}, {Prefix: "fd00::/8"}}}}, Options{SweepEvery: -1, Logger: quiet})
	require.NoError(t, err)
	defer p.Close()
	g, flows := &fakeGuard{}, &noFlows{}
	done := make(chan error, 1)
	go func() { done <- p.Attach(g, flows) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Attach deadlocked")
	}
	assert.True(t, g.has("10.0.0.0/8"))
	assert.Equal(t, 2, flows.ranged, "live flows of each entry are looked for")
}

func TestSweeperRunsOnTheClock(t *testing.T) {
	e := newEnv(t, Config{})
	p, err := New(Config{}, Options{Clock: e.clock, SweepEvery: time.Second})
	require.NoError(t, err)
	defer p.Close()
	g := &fakeGuard{}
	require.NoError(t, p.Attach(g, nil))
	require.NoError(t, blockErr(p.Block(netip.MustParsePrefix("10.0.0.1/32"), 5*time.Second, "")))
	for i := 0; i < 5; i++ {
		require.Eventually(t, func() bool { return e.clock.Waiters() == 1 }, time.Second, time.Millisecond, "sweeper waiting")
		e.clock.Advance(time.Second)
	}
	require.Eventually(t, func() bool { return len(p.List()) == 0 }, time.Second, time.Millisecond)
	assert.False(t, g.has("10.0.0.1/32"))
}

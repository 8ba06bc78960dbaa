package cluster_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/interdict/interdict/appliance/cluster"
	"github.com/interdict/interdict/appliance/cluster/clustertest"
	"github.com/interdict/interdict/appliance/state"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// changes collects what a watch delivers.
type changes struct {
	mu   sync.Mutex
	list []state.Change
}

func (c *changes) add(ch state.Change) {
	c.mu.Lock()
	c.list = append(c.list, ch)
	c.mu.Unlock()
}

func (c *changes) last(key string) (state.Change, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.list) - 1; i >= 0; i-- {
		if c.list[i].Key == key {
			return c.list[i], true
		}
	}
	return state.Change{}, false
}

func open(t *testing.T, f *clustertest.Fleet, i int) *cluster.Store {
	t.Helper()
	return openReg(t, f, i, nil)
}

// openReg opens a Store on member i with its metrics in reg.
func openReg(t *testing.T, f *clustertest.Fleet, i int, reg prometheus.Registerer) *cluster.Store {
	t.Helper()
	s, err := cluster.Open(f.Settings(), []string{f.URL(i)}, cluster.Options{Buckets: []string{"interruptions"}, Registerer: reg, Own: true})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

func TestStoreSharesAndWatchesAcrossMembers(t *testing.T) {
	f := clustertest.Start(t, 3)
	a, c := open(t, f, 0), open(t, f, 2)

	var seenA, seenC changes
	stopA, err := a.Watch("interruptions", seenA.add, nil)
	require.NoError(t, err)
	defer stopA()
	stopC, err := c.Watch("interruptions", seenC.add, nil)
	require.NoError(t, err)
	defer stopC()

	key := "runner b/ü" // needs encoding
	require.NoError(t, a.Put("interruptions", key, []byte(`{"x":1}`)))
	require.Eventually(t, func() bool {
		ch, ok := seenC.last(key)
		return ok && string(ch.Value) == `{"x":1}` && !ch.Deleted
	}, 10*time.Second, 10*time.Millisecond)
	v, err := c.Get("interruptions", key)
	require.NoError(t, err)
	assert.Equal(t, `{"x":1}`, string(v))
	keys, err := c.Keys("interruptions")
	require.NoError(t, err)
	assert.Equal(t, []string{key}, keys)

	require.NoError(t, a.Delete("interruptions", key))
	require.Eventually(t, func() bool {
		ch, ok := seenC.last(key)
		return ok && ch.Deleted
	}, 10*time.Second, 10*time.Millisecond)
	_, err = c.Get("interruptions", key)
	assert.True(t, errors.Is(err, state.ErrNotFound), "%v", err)

	// A's own writes are not echoed to A.
	_, echoed := seenA.last(key)
	assert.False(t, echoed, "a store's own write came back through its watch")
}

func TestStoreQueuesWritesWhileCutOffAndReconciles(t *testing.T) {
	f := clustertest.Start(t, 3)
	ra, rc := prometheus.NewRegistry(), prometheus.NewRegistry()
	a, c := openReg(t, f, 0, ra), openReg(t, f, 2, rc)
	assert.Equal(t, 1.0, counterValue(t, rc, "interdict_cluster_connected", ""))
	var seenA changes
	stopA, err := a.Watch("interruptions", seenA.add, nil)
	require.NoError(t, err)
	defer stopA()

	require.NoError(t, a.Put("interruptions", "runner-b", []byte("q1")))
	f.Stop(2) // c is cut off
	require.Eventually(t, func() bool { return counterValue(t, rc, "interdict_cluster_connected", "") == 0 },
		30*time.Second, 10*time.Millisecond, "the cut-off store says it is disconnected")
	require.NoError(t, c.Put("interruptions", "runner-c", []byte("while-off")))
	assert.Equal(t, 1.0, counterValue(t, rc, "interdict_cluster_pending_writes", ""), "the write waits in the queue")
	v, err := c.Get("interruptions", "runner-c")
	require.NoError(t, err)
	assert.Equal(t, "while-off", string(v), "a queued write reads back")
	require.NoError(t, a.Put("interruptions", "runner-b", []byte("q2")))

	f.Restart(2)
	require.Eventually(t, func() bool {
		ch, ok := seenA.last("runner-c")
		return ok && string(ch.Value) == "while-off"
	}, 30*time.Second, 20*time.Millisecond, "the write queued on the cut-off member reaches the others")
	require.Eventually(t, func() bool {
		v, err := c.Get("interruptions", "runner-b")
		return err == nil && string(v) == "q2"
	}, 30*time.Second, 20*time.Millisecond, "the rejoined member reads what changed meanwhile")
	assert.Equal(t, 1.0, counterValue(t, rc, "interdict_cluster_connected", ""))
	assert.Zero(t, counterValue(t, rc, "interdict_cluster_pending_writes", ""))
	assert.GreaterOrEqual(t, counterValue(t, rc, "interdict_cluster_writes_total", ""), 1.0)
	assert.GreaterOrEqual(t, histogramCount(t, ra, "interdict_cluster_apply_lag_seconds"), uint64(1),
		"A timed the application of C's write")
}

// histogramCount is how many observations a histogram of reg holds.
func histogramCount(t *testing.T, reg *prometheus.Registry, name string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	return 0
}

// view is what one appliance holds of a key: its own last write, or the
// last change its watch applied, whichever came last.
type view struct {
	mu  sync.Mutex
	val string
}

func (v *view) set(s string) { v.mu.Lock(); v.val = s; v.mu.Unlock() }
func (v *view) get() string  { v.mu.Lock(); defer v.mu.Unlock(); return v.val }

// put writes val through s as the appliance would (its view first).
func (v *view) put(t *testing.T, s *cluster.Store, key, val string) {
	v.set(val)
	if val == "" {
		require.NoError(t, s.Delete("interruptions", key))
		return
	}
	require.NoError(t, s.Put("interruptions", key, []byte(val)))
}

// watch applies the others' changes of key to v; resolve keeps the
// larger value (a deleted key is the smallest), the way the identity
// engine keeps the stronger interruption.
func (v *view) watch(t *testing.T, s *cluster.Store, key string) {
	stop, err := s.Watch("interruptions", func(c state.Change) {
		if c.Key == key {
			v.set(string(c.Value))
		}
	}, func(_ string, mine, theirs []byte) bool { return string(mine) > string(theirs) })
	require.NoError(t, err)
	t.Cleanup(stop)
}

// converged waits until both views and the bucket hold want ("" when
// deleted).
func converged(t *testing.T, a, c *cluster.Store, va, vc *view, key, want, msg string) {
	t.Helper()
	require.Eventually(t, func() bool {
		v, err := a.Get("interruptions", key)
		if err != nil && !errors.Is(err, state.ErrNotFound) {
			return false
		}
		return string(v) == want && va.get() == want && vc.get() == want
	}, 30*time.Second, 10*time.Millisecond, "%s: A holds %q, C %q, want %q", msg, va.get(), vc.get(), want)
}

// A member cut off writes a key another member writes meanwhile: when
// it is back, the compare-and-set of one of the two writes fails and the
// resolver's choice is what every member and the bucket end with, the
// bucket's value winning (phase one) or the queued write (phase two).
func TestStoreSettlesConflictsTheSameOnEveryMember(t *testing.T) {
	f := clustertest.Start(t, 3)
	ra, rc := prometheus.NewRegistry(), prometheus.NewRegistry()
	a, c := openReg(t, f, 0, ra), openReg(t, f, 2, rc)
	var va, vc view
	va.watch(t, a, "k")
	vc.watch(t, c, "k")

	va.put(t, a, "k", "zz")
	converged(t, a, c, &va, &vc, "k", "zz", "a write reaches the other member")

	// C writes while cut off; A writes meanwhile. C's queued write is
	// settled against A's when C is back: here A's wins (larger)...
	f.Stop(2)
	vc.put(t, c, "k", "zz0-c")
	va.put(t, a, "k", "zz9-a")
	f.Restart(2)
	converged(t, a, c, &va, &vc, "k", "zz9-a", "A's write while C was away wins")
	// ... and here C's.
	f.Stop(2)
	vc.put(t, c, "k", "zzz-c")
	va.put(t, a, "k", "")
	f.Restart(2)
	converged(t, a, c, &va, &vc, "k", "zzz-c", "C's queued write wins over A's delete")
	// Each phase had one conflict, settled on whichever member's write
	// the bucket refused (C's queued one, or A's when C's reached the
	// bucket first), and counted there.
	var n float64
	for _, reg := range []*prometheus.Registry{ra, rc} {
		for _, w := range []string{"local", "remote"} {
			n += counterValue(t, reg, "interdict_cluster_conflicts_total", w)
		}
	}
	assert.GreaterOrEqual(t, n, 2.0)
	assert.Zero(t, counterValue(t, ra, "interdict_cluster_pending_writes", ""))
	assert.Zero(t, counterValue(t, rc, "interdict_cluster_pending_writes", ""))
}

// counterValue reads a metric of reg (winner label w when set).
func counterValue(t *testing.T, reg *prometheus.Registry, name, w string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if w != "" && (len(m.GetLabel()) != 1 || m.GetLabel()[0].GetValue() != w) {
				continue
			}
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
	}
	return 0
}

// Create is a reservation the whole fleet agrees on: of stores on three
// members creating one key at once, exactly one gets it, every time,
// also after the key was deleted; a cut-off store gets an error, not a
// reservation.
func TestStoreCreateReservesOnce(t *testing.T) {
	f := clustertest.Start(t, 3)
	stores := []*cluster.Store{open(t, f, 0), open(t, f, 1), open(t, f, 2)}
	for round := range 3 {
		var wg sync.WaitGroup
		errs := make([]error, len(stores))
		for i, s := range stores {
			wg.Go(func() { errs[i] = s.Create("interruptions", "addr/100.96.0.2/32", []byte{byte('a' + i)}) })
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			if err == nil {
				require.Equal(t, -1, winner, "round %d: stores %d and %d both got the key", round, winner, i)
				winner = i
				continue
			}
			require.True(t, errors.Is(err, state.ErrExists), "round %d: store %d: %v", round, i, err)
		}
		require.GreaterOrEqual(t, winner, 0, "round %d: no store got the key", round)
		v, err := stores[(winner+1)%3].Get("interruptions", "addr/100.96.0.2/32")
		require.NoError(t, err)
		assert.Equal(t, []byte{byte('a' + winner)}, v, "every member holds the winner's value")
		require.NoError(t, stores[winner].Delete("interruptions", "addr/100.96.0.2/32"))
		require.Eventually(t, func() bool {
			_, err := stores[(winner+2)%3].Get("interruptions", "addr/100.96.0.2/32")
			return errors.Is(err, state.ErrNotFound)
		}, 10*time.Second, 5*time.Millisecond, "round %d: the delete frees the key", round)
	}
	f.Stop(0)
	err := stores[0].Create("interruptions", "addr/100.96.0.3/32", []byte("x"))
	require.Error(t, err)
	assert.False(t, errors.Is(err, state.ErrExists), "a cut-off store reports the cluster, not a taken key: %v", err)
}

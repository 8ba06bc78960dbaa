package cluster_test

import (
	"errors"
	"sync"
	"testing"
	"time"

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
	s, err := cluster.Open(f.Settings(), []string{f.URL(i)}, cluster.Options{Buckets: []string{"interruptions"}})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

func TestStoreSharesAndWatchesAcrossMembers(t *testing.T) {
	f := clustertest.Start(t, 3)
	a, c := open(t, f, 0), open(t, f, 2)

	var seenA, seenC changes
	stopA, err := a.Watch("interruptions", seenA.add)
	require.NoError(t, err)
	defer stopA()
	stopC, err := c.Watch("interruptions", seenC.add)
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
	a, c := open(t, f, 0), open(t, f, 2)
	var seenA changes
	stopA, err := a.Watch("interruptions", seenA.add)
	require.NoError(t, err)
	defer stopA()

	require.NoError(t, a.Put("interruptions", "runner-b", []byte("q1")))
	f.Stop(2) // c is cut off
	require.NoError(t, c.Put("interruptions", "runner-c", []byte("while-off")))
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
}

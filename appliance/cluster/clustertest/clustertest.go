// Package clustertest starts embedded NATS fleets on loopback for tests.
package clustertest

import (
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/appliance/cluster"
)

// Fleet is n embedded members routed to each other on loopback, each
// with its own store directory.
type Fleet struct {
	t       testing.TB
	mu      sync.Mutex
	Members []*cluster.Embedded
	set     []cluster.EmbeddedSettings
}

// Start starts n members (ephemeral ports, temporary store
// directories); the test's cleanup shuts them down.
func Start(t testing.TB, n int) *Fleet {
	t.Helper()
	f := &Fleet{t: t}
	ports := freePorts(t, n)
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	dir := t.TempDir()
	for i, p := range ports {
		f.set = append(f.set, cluster.EmbeddedSettings{Name: fmt.Sprintf("hub-%c", 'a'+i), RouteHost: "127.0.0.1",
			RoutePort: p, Routes: routes, StoreDir: filepath.Join(dir, fmt.Sprintf("m%d", i))})
	}
	f.Members = make([]*cluster.Embedded, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { f.Members[i], errs[i] = cluster.StartEmbedded(f.set[i], 30*time.Second) })
	}
	wg.Wait()
	t.Cleanup(f.Shutdown)
	for _, err := range errs {
		require.NoError(t, err)
	}
	for i, m := range f.Members {
		f.set[i] = m.Settings()
	}
	return f
}

// Settings are the cluster settings of member i's Store.
func (f *Fleet) Settings() *cluster.Settings {
	r := 1
	if len(f.set) >= 3 {
		r = 3
	}
	return &cluster.Settings{Backend: "nats", Replicas: r, Timeout: 30 * time.Second}
}

// URL is member i's client URL (stable across Stop and Restart).
func (f *Fleet) URL(i int) string {
	return fmt.Sprintf("nats://127.0.0.1:%d", f.set[i].ClientPort)
}

// WaitCurrent waits until every running member is current with the
// JetStream cluster and with the buckets' streams: a test that stops a
// member then loses no quorum it did not mean to.
func (f *Fleet) WaitCurrent(buckets ...string) {
	f.t.Helper()
	require.Eventually(f.t, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, m := range f.Members {
			if m == nil {
				continue
			}
			s := m.Server()
			if !s.JetStreamIsCurrent() {
				return false
			}
			for _, b := range buckets {
				if !s.JetStreamIsStreamCurrent("$G", "KV_interdict_"+b) {
					return false
				}
			}
		}
		return true
	}, 60*time.Second, 20*time.Millisecond, "the fleet's members are current")
}

// Stop shuts member i down.
func (f *Fleet) Stop(i int) {
	f.mu.Lock()
	m := f.Members[i]
	f.Members[i] = nil
	f.mu.Unlock()
	if m != nil {
		m.Shutdown()
	}
}

// Restart starts member i again with its ports and store directory.
func (f *Fleet) Restart(i int) {
	f.t.Helper()
	m, err := cluster.StartEmbedded(f.set[i], 30*time.Second)
	require.NoError(f.t, err)
	f.mu.Lock()
	f.Members[i] = m
	f.mu.Unlock()
}

// Shutdown stops every member.
func (f *Fleet) Shutdown() {
	for i := range f.Members {
		f.Stop(i)
	}
}

func freePorts(t testing.TB, n int) []int {
	var ls []net.Listener
	var out []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

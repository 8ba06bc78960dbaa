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
// directories); the test's cleanup shuts them down. The ports are free
// when picked, but another process may take one before its member binds
// it (the route ports lie in the range the kernel hands out to outgoing
// connections): a fleet that does not come up is started again on new
// ports.
func Start(t testing.TB, n int) *Fleet {
	t.Helper()
	f := &Fleet{t: t}
	var errs []error
	for range 3 {
		if errs = f.start(n); errs == nil {
			return f
		}
		f.Shutdown()
	}
	for _, err := range errs {
		require.NoError(t, err)
	}
	return f
}

// start starts n members on new ports; it returns their errors, if any.
func (f *Fleet) start(n int) []error {
	ports := freePorts(f.t, n)
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	dir := f.t.TempDir()
	// After the directory's removal is registered, so it runs before.
	f.t.Cleanup(f.Shutdown)
	f.set = nil
	for i, p := range ports {
		f.set = append(f.set, cluster.EmbeddedSettings{Name: fmt.Sprintf("hub-%c", 'a'+i), RouteHost: "127.0.0.1",
			RoutePort: p, Routes: routes, StoreDir: filepath.Join(dir, fmt.Sprintf("m%d", i))})
	}
	members := make([]*cluster.Embedded, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { members[i], errs[i] = cluster.StartEmbedded(f.set[i], 30*time.Second) })
	}
	wg.Wait()
	f.mu.Lock()
	f.Members = members
	f.mu.Unlock()
	var failed []error
	for _, err := range errs {
		if err != nil {
			failed = append(failed, err)
		}
	}
	if failed != nil {
		return failed
	}
	for i, m := range members {
		f.set[i] = m.Settings()
	}
	return nil
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

package appliance

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/interdict/interdict/appliance/identity"
)

// clusterApp starts an appliance from a config file with the given
// cluster section (pass handler, runner-a as an identity).
func clusterApp(t *testing.T, dir, section string) *Appliance {
	t.Helper()
	cfg := base + `handler:
  mode: pass
eve:
  path: ""
admin:
  socket: ""
metrics:
  listen: ""
state_dir: state
identities:
  - {name: runner-a, prefixes: [10.1.0.0/16]}
` + section
	path := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	s, err := LoadConfig(path)
	require.NoError(t, err)
	a, err := New(s, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	return a
}

// The cluster section is wired: hub A runs an embedded NATS server, hub
// B reaches it as an external cluster; a quarantine on A is enforced by
// B, and A restarted from the same config has it back from JetStream.
func TestClusterBackendFromConfig(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	dirA, dirB := t.TempDir(), t.TempDir()
	embedded := "cluster:\n  backend: nats\n  embedded:\n    name: hub-a\n"
	a := clusterApp(t, dirA, embedded)
	require.NotNil(t, a.embedded)
	b := clusterApp(t, dirB, fmt.Sprintf("cluster:\n  backend: nats\n  nats:\n    urls: [%s]\n", a.embedded.ClientURL()))

	_, err := a.interrupt.Interrupt(identity.Request{Identity: "runner-a", Action: identity.ActionQuarantine, For: time.Hour, Reason: "from A"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		in, ok := b.interrupt.Get("runner-a")
		return ok && in.Reason == "from A"
	}, 30*time.Second, 10*time.Millisecond, "hub B enforces hub A's quarantine")
	assert.Equal(t, 1.0, gauge(t, a, "interdict_cluster_connected"))
	assert.Equal(t, 1.0, gauge(t, b, "interdict_cluster_connected"))
	require.NoError(t, b.Close())
	require.NoError(t, a.Close())
	_, err = os.Stat(filepath.Join(dirA, "state", "cluster", "jetstream"))
	require.NoError(t, err, "the embedded store defaults to cluster/ in state_dir")

	a = clusterApp(t, dirA, embedded)
	defer a.Close()
	in, ok := a.interrupt.Get("runner-a")
	require.True(t, ok, "the restarted hub rebuilds its quarantines from JetStream")
	assert.Equal(t, "from A", in.Reason)
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/interdict/interdict/appliance"
	"github.com/interdict/interdict/appliance/admin"
	"github.com/interdict/interdict/appliance/cluster/clustertest"
)

// ctlAppliance starts an appliance from cfg and serves its admin API on
// a unix socket; it returns the socket.
func ctlAppliance(t *testing.T, cfg string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte("link:\n  mode: tun\n  tun:\n    name: t0\nhandler:\n  mode: pass\neve:\n  path: \"\"\nadmin:\n  socket: \"\"\nstate_dir: state\n"+
		"identities:\n  - {name: runner-a, prefixes: [10.0.0.2/32], tags: [ci]}\n"+cfg), 0o600))
	s, err := appliance.LoadConfig(path)
	require.NoError(t, err)
	a, err := appliance.New(s, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	return serveAdmin(t, a, filepath.Join(dir, "a.sock"))
}

// serveAdmin serves a's admin API on the unix socket sock until the
// test ends, and returns sock.
func serveAdmin(t *testing.T, a admin.Backend, sock string) string {
	t.Helper()
	ln, err := admin.ListenUnix(sock)
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(admin.NewHandler(a, nil))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return sock
}

// TestCtlCluster: `ctl cluster` of an appliance on a three-member NATS
// cluster names the members, each bucket's leader and replicas, and the
// revision a quarantine made; a local appliance says it shares nothing.
func TestCtlCluster(t *testing.T) {
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) }) // last: after the servers stop
	f := clustertest.Start(t, 3)
	sock := ctlAppliance(t, fmt.Sprintf("cluster:\n  backend: nats\n  replicas: 3\n  nats:\n    urls: [%s, %s, %s]\n", f.URL(0), f.URL(1), f.URL(2)))
	run := func(args ...string) string {
		t.Helper()
		out, errOut, err := runCtl(t, sock, args...)
		require.NoError(t, err, errOut)
		return out
	}
	assert.Contains(t, run("quarantine", "--for", "1h", "runner-a"), "runner-a quarantined")
	f.WaitCurrent("interruptions")

	var cs admin.ClusterStatus
	require.Eventually(t, func() bool {
		require.NoError(t, json.Unmarshal([]byte(run("cluster", "--json")), &cs))
		for _, b := range cs.Buckets {
			if b.Name == "interruptions" {
				return b.Revision >= 1 && b.Seen == b.Revision && len(b.Replicas) == 2
			}
		}
		return false
	}, 30*time.Second, 50*time.Millisecond, "the quarantine's revision is the bucket's, on three members: %+v", cs)
	assert.Equal(t, "nats", cs.Backend)
	assert.True(t, cs.Connected)
	assert.Equal(t, []string{"hub-a", "hub-b", "hub-c"}, cs.Members)
	assert.Zero(t, cs.PendingWrites)

	out := run("cluster")
	assert.Contains(t, out, "backend nats, connected to "+cs.Server+", 0 pending writes")
	assert.Contains(t, out, "members: hub-a hub-b hub-c")
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "interruptions ") {
			line = l
		}
	}
	assert.Regexp(t, `^interruptions\s+[1-9]\d*\s+[1-9]\d*\s+1\s+hub-[abc]\s+hub-[abc] \((current|behind), lag \d+\), hub-[abc]`, line)

	local := ctlAppliance(t, "")
	out, errOut, err := runCtl(t, local, "cluster")
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "backend local")
}

package wireguard

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/interdict/interdict/appliance/admin"
	"github.com/interdict/interdict/appliance/cluster/clustertest"
	"github.com/interdict/interdict/tunnel/wg"
)

// fleetPolicy is the identity policy every hub of the fleet has: peers
// tagged deploy reach the server's port 80 and nothing else.
var fleetPolicy = fmt.Sprintf(`policies:
  - name: deploy-egress
    tags: [deploy]
    default: deny
    allow:
      - {to: %s/32, ports: [80], proto: tcp}
`, serverAddr)

// startFleet starts three hubs sharing one hub key, the identity policy
// and one NATS JetStream cluster (three members started by the test),
// each hub connected to its own member, as cluster.nats.urls configures
// it. more starts another hub of the fleet on member i.
func startFleet(t *testing.T, up netip.AddrPort) (hubs []*hub, more func(i int) *hub) {
	t.Helper()
	f := clustertest.Start(t, 3)
	k, err := wg.GenerateKey()
	require.NoError(t, err)
	keyFile := filepath.Join(t.TempDir(), "hub.key")
	require.NoError(t, os.WriteFile(keyFile, []byte(k.String()+"\n"), 0o600))
	more = func(i int) *hub {
		extra := fleetPolicy + fmt.Sprintf("cluster:\n  backend: nats\n  replicas: 3\n  nats:\n    urls: [%q]\n", f.URL(i))
		h, _ := startHubWith(t, t.TempDir(), extra, fmt.Sprintf("    private_key_file: %q\n", keyFile), "", up)
		return h
	}
	for i := range 3 {
		hubs = append(hubs, more(i))
	}
	return hubs, more
}

// echo opens a flow through r's hub and checks one line comes back.
func echoLine(t *testing.T, r *runner) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := r.dial(t, 80, 10*time.Second)
	require.NoError(t, err)
	br := bufio.NewReader(c)
	_, err = c.Write([]byte("E\nping\n"))
	require.NoError(t, err)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ping\n", line)
	return c, br
}

// A peer added on hub A connects through hub C (the hubs share the hub
// key) with its name and tags, and hub C applies its tag's policy;
// removed on hub B, its flow through hub C
// is reset and it no longer gets in; peers added at once on two hubs
// get distinct pool addresses; a hub started later has every peer
// before it serves a flow.
func TestFleetSharesPeers(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
	srv := newServer(t)
	hubs, more := startFleet(t, srv.addr())
	a, b, c := hubs[0], hubs[1], hubs[2]
	require.Equal(t, a.pub(t), c.pub(t), "the hubs share the hub key")
	ctx := context.Background()

	r := newRunner(t, "runner-x", "0.0.0.0") // its address comes from the pool
	added, err := a.a.AddPeer(ctx, admin.PeerRequest{Name: r.name, PublicKey: r.key.PublicKey().String(), Tags: []string{"deploy"}})
	require.NoError(t, err)
	r.addr = netip.MustParsePrefix(added.Peer.Prefixes[0]).Addr()
	for i, h := range hubs {
		require.Eventually(t, func() bool { _, ok := h.a.Identities().Get(r.name); return ok }, 30*time.Second, 5*time.Millisecond,
			"hub %d learns the peer hub A added", i)
	}

	// runner-x handshakes with hub C and its flow carries its identity.
	r.connect(t, c)
	conn, _ := echoLine(t, r)
	require.Eventually(t, func() bool {
		for _, f := range c.a.Flows() {
			if f.Identity == r.name && f.IdentityKey == r.key.PublicKey().String() {
				return true
			}
		}
		return false
	}, 10*time.Second, 5*time.Millisecond, "hub C names the flow's peer")
	conn.Close()
	// Its tag's policy holds on hub C: port 81 is not allowed, and
	// nothing of the attempt reaches the server.
	before := srv.count()
	_, err = r.dial(t, 81, 10*time.Second)
	require.Error(t, err, "hub C refuses what runner-x's policy does not allow")
	assert.Equal(t, before, srv.count())
	require.Eventually(t, func() bool { return eveIdentities(t, c.eve)[r.addr.String()] != nil }, 10*time.Second, 10*time.Millisecond)
	ev := eveIdentities(t, c.eve)[r.addr.String()]
	assert.Equal(t, r.name, ev["name"], "hub C's EVE flow event names the peer hub A added")
	assert.Equal(t, r.key.PublicKey().String(), ev["key"])
	assert.Equal(t, []any{"deploy"}, ev["tags"])

	// Removed on hub B: its live flow through hub C is reset, and it
	// gets in nowhere.
	live, br := echoLine(t, r)
	defer live.Close()
	_, err = b.a.RemovePeer(ctx, r.name)
	require.NoError(t, err)
	require.NoError(t, live.SetReadDeadline(time.Now().Add(30*time.Second)))
	_, err = br.ReadString('\n')
	require.Error(t, err)
	assert.Contains(t, err.Error(), "reset", "runner-x saw a reset through hub C, not a timeout")
	for i, h := range hubs {
		require.Eventually(t, func() bool { _, ok := h.a.Identities().Get(r.name); return !ok }, 30*time.Second, 5*time.Millisecond,
			"hub %d forgets the peer hub B removed", i)
	}
	before = srv.count()
	_, err = r.dial(t, 80, 3*time.Second)
	assert.Error(t, err)
	assert.Equal(t, before, srv.count(), "nothing of the removed peer reached the server")

	// Pairs of peers added at the same moment on hubs A and B: every
	// address is handed out once, and every hub serves every peer.
	const pairs = 4
	got := make([][]string, 2*pairs)
	errs := make([]error, 2*pairs)
	var wgr sync.WaitGroup
	start := make(chan struct{})
	for i := range 2 * pairs {
		wgr.Go(func() {
			<-start
			k, err := wg.GenerateKey()
			if err != nil {
				errs[i] = err
				return
			}
			res, err := hubs[i%2].a.AddPeer(ctx, admin.PeerRequest{Name: fmt.Sprintf("runner-%d", i), PublicKey: k.PublicKey().String()})
			got[i], errs[i] = res.Peer.Prefixes, err
		})
	}
	close(start)
	wgr.Wait()
	owner := map[string]int{}
	for i := range 2 * pairs {
		require.NoError(t, errs[i], "peer %d", i)
		for _, p := range got[i] {
			o, dup := owner[p]
			assert.False(t, dup, "address %s handed to runner-%d and runner-%d", p, o, i)
			owner[p] = i
		}
	}
	for i, h := range hubs {
		require.Eventually(t, func() bool {
			for j := range 2 * pairs {
				if _, ok := h.a.Identities().Get(fmt.Sprintf("runner-%d", j)); !ok {
					return false
				}
			}
			return true
		}, 30*time.Second, 5*time.Millisecond, "hub %d serves every peer added on A and B", i)
	}

	d := more(1)
	for j := range 2 * pairs {
		_, ok := d.a.Identities().Get(fmt.Sprintf("runner-%d", j))
		assert.True(t, ok, "a hub started later loads runner-%d before it serves a flow", j)
	}
	_, ok := d.a.Identities().Get(r.name)
	assert.False(t, ok, "and not the removed peer")
}

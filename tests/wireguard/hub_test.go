package wireguard

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"gvisor.dev/gvisor/pkg/refs"

	"github.com/interdict/interdict/appliance"
	"github.com/interdict/interdict/appliance/admin"
	"github.com/interdict/interdict/netstack"
	"github.com/interdict/interdict/tunnel/wg"
)

func TestMain(m *testing.M) {
	// A packet buffer the hub's bridge (or the clients') takes and never
	// releases panics the run.
	refs.SetLeakMode(refs.LeaksPanic)
	code := m.Run()
	refs.DoLeakCheck()
	os.Exit(code)
}

// serverAddr is where the runners connect inside the overlay; the hub's
// dialer sends every such flow to the test's loopback server.
var serverAddr = netip.MustParseAddr("198.18.0.1")

// redirect is the hub's upstream dialer: every flow goes to one local
// server (tests must not leave loopback).
type redirect struct{ to netip.AddrPort }

func (r redirect) Dial(ctx context.Context, network string, _, _ netip.AddrPort) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, r.to.String())
}

// hub is an appliance in WireGuard mode on 127.0.0.1 with its stack.
type hub struct {
	a   *appliance.Appliance
	st  *netstack.Stack
	dev *wg.Device
	dir string
	eve string
}

// startHub starts a hub whose state lives in dir; peers are YAML list
// items of link.wireguard.peers. close stops it (tests restart hubs).
func startHub(t testing.TB, dir, peers string, up netip.AddrPort) (*hub, func()) {
	t.Helper()
	return startHubWith(t, dir, "", "", peers, up)
}

// startHubWith is startHub with extra top-level YAML (a cluster
// section) and extra link.wireguard keys (indented by four spaces).
func startHubWith(t testing.TB, dir, extra, wgExtra, peers string, up netip.AddrPort) (*hub, func()) {
	t.Helper()
	cfg := extra + fmt.Sprintf(`state_dir: state
link:
  mode: wireguard
  wireguard:
    listen_port: 0
    listen_address: 127.0.0.1
%s    peers: [%s]
eve:
  path: eve.json
  stats_interval: 1h
admin:
  socket: ""
metrics:
  listen: ""
`, wgExtra, peers)
	path := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	s, err := appliance.LoadConfig(path)
	require.NoError(t, err)
	a, err := appliance.New(s, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	dev, err := a.OpenWireGuard()
	require.NoError(t, err)
	st, err := netstack.New(append([]netstack.Option{netstack.WithLink(dev), netstack.WithNICName("wg"), netstack.WithDialer(redirect{up})}, a.StackOptions()...)...)
	require.NoError(t, err)
	require.NoError(t, a.Attach(st))
	h := &hub{a: a, st: st, dev: dev, dir: dir, eve: filepath.Join(dir, "eve.json")}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			require.NoError(t, st.Close())
			require.NoError(t, a.Close())
		})
	}
	t.Cleanup(stop)
	return h, stop
}

func (h *hub) endpoint() netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), h.dev.ListenPort())
}

func (h *hub) pub(t testing.TB) wg.Key {
	hv, err := h.a.Hub()
	require.NoError(t, err)
	k, err := wg.ParseKey(hv.PublicKey)
	require.NoError(t, err)
	return k
}

// runner is a client and its key.
type runner struct {
	name string
	key  wg.Key
	addr netip.Addr
	c    *wg.Client
}

func newRunner(t testing.TB, name string, addr string) *runner {
	k, err := wg.GenerateKey()
	require.NoError(t, err)
	return &runner{name: name, key: k, addr: netip.MustParseAddr(addr)}
}

func (r *runner) peerYAML() string {
	return fmt.Sprintf("{name: %s, public_key: %q, allowed_ips: [%s/32], tags: [ci]}", r.name, r.key.PublicKey(), r.addr)
}

// connect starts the runner's client towards h.
func (r *runner) connect(t testing.TB, h *hub) {
	t.Helper()
	c, err := wg.NewClient(wg.ClientConfig{PrivateKey: r.key, Addresses: []netip.Addr{r.addr}, HubKey: h.pub(t), HubEndpoint: h.endpoint()})
	require.NoError(t, err)
	r.c = c
	t.Cleanup(c.Close)
}

func (r *runner) dial(t testing.TB, port uint16, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return r.c.DialTCP(ctx, netip.AddrPortFrom(serverAddr, port))
}

// server is the local upstream: "U" uploads (it answers the sha256 of
// what it read), "D<seed>" downloads 64 MiB generated from the seed, "E"
// echoes lines. It counts the connections it accepted.
type server struct {
	ln       net.Listener
	mu       sync.Mutex
	accepted int
}

const transfer = 64 << 20

func newServer(t testing.TB) *server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &server{ln: ln}
	var wgr sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wgr.Wait() })
	wgr.Add(1)
	go func() {
		defer wgr.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.accepted++
			s.mu.Unlock()
			wgr.Add(1)
			go func() {
				defer wgr.Done()
				defer c.Close()
				s.serve(c)
			}()
		}
	}()
	return s
}

func (s *server) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

func (s *server) addr() netip.AddrPort { return netip.MustParseAddrPort(s.ln.Addr().String()) }

func (s *server) serve(c net.Conn) {
	br := bufio.NewReader(c)
	op, err := br.ReadString('\n')
	if err != nil {
		return
	}
	switch {
	case op == "U\n":
		h := sha256.New()
		if _, err := io.Copy(h, br); err != nil {
			return
		}
		_, _ = c.Write([]byte(hex.EncodeToString(h.Sum(nil))))
	case strings.HasPrefix(op, "D"):
		var seed uint64
		fmt.Sscanf(op, "D%d", &seed)
		_, _ = io.Copy(c, io.LimitReader(stream(seed), transfer))
	case op == "E\n":
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if _, err := c.Write([]byte(line)); err != nil {
				return
			}
		}
	}
}

// stream is a deterministic byte stream from a seed.
func stream(seed uint64) io.Reader {
	return &prng{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

type prng struct{ r *rand.Rand }

func (p *prng) Read(b []byte) (int, error) {
	for i := 0; i+8 <= len(b); i += 8 {
		v := p.r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return len(b) - len(b)%8, nil
}

func sum(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// upload sends 64 MiB from seed and returns the server's and the local
// digest.
func upload(t testing.TB, r *runner, port uint16, seed uint64) (got, want string, err error) {
	conn, err := r.dial(t, port, 10*time.Second)
	if err != nil {
		return "", "", err
	}
	defer conn.Close()
	want, _ = sum(io.LimitReader(stream(seed), transfer))
	if _, err := conn.Write([]byte("U\n")); err != nil {
		return "", want, err
	}
	if _, err := io.Copy(conn, io.LimitReader(stream(seed), transfer)); err != nil {
		return "", want, err
	}
	if err := conn.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		return "", want, err
	}
	b, err := io.ReadAll(conn)
	return string(b), want, err
}

func download(t testing.TB, r *runner, port uint16, seed uint64) (got, want string, err error) {
	conn, err := r.dial(t, port, 10*time.Second)
	if err != nil {
		return "", "", err
	}
	defer conn.Close()
	want, _ = sum(io.LimitReader(stream(seed), transfer))
	if _, err := fmt.Fprintf(conn, "D%d\n", seed); err != nil {
		return "", want, err
	}
	got, err = sum(conn)
	return got, want, err
}

// eveIdentities maps the source addresses of EVE flow events to the
// identity each carried.
func eveIdentities(t testing.TB, path string) map[string]map[string]any {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	out := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var ev map[string]any
		if json.Unmarshal([]byte(line), &ev) != nil || ev["event_type"] != "flow" {
			continue
		}
		id, _ := ev["identity"].(map[string]any)
		out[fmt.Sprint(ev["src_ip"])] = id
	}
	return out
}

// Two runners through the hub at once: 64 MiB each way per runner arrive
// byte for byte; every flow and EVE event carries the right identity; an
// unknown key gets nothing; removing runner-b cuts it off at once while
// runner-a goes on; a restart keeps the hub's key and the runtime peer.
func TestHubTwoRunners(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
	dir := t.TempDir()
	srv := newServer(t)
	a := newRunner(t, "runner-a", "100.96.0.10")
	h, stop := startHub(t, dir, a.peerYAML(), srv.addr())
	// runner-b is added at runtime, as `interdict peer add` does.
	b := newRunner(t, "runner-b", "100.96.0.11")
	added, err := h.a.AddPeer(context.Background(), admin.PeerRequest{Name: b.name, PublicKey: b.key.PublicKey().String(), Tags: []string{"deploy"}})
	require.NoError(t, err)
	require.Len(t, added.Peer.Prefixes, 2, "next free pool address, one per family")
	b.addr = netip.MustParsePrefix(added.Peer.Prefixes[0]).Addr()
	assert.Equal(t, "100.96.0.2", b.addr.String(), "the first free pool address (the hub holds .1)")
	a.connect(t, h)
	b.connect(t, h)

	t.Run("64MiB-each-way-per-runner", func(t *testing.T) {
		var wgr sync.WaitGroup
		for i, r := range []*runner{a, b} {
			for dir, f := range map[string]func(testing.TB, *runner, uint16, uint64) (string, string, error){"up": upload, "down": download} {
				wgr.Add(1)
				go func() {
					defer wgr.Done()
					got, want, err := f(t, r, 80, uint64(i*10+len(dir)))
					if assert.NoError(t, err, "%s %s", r.name, dir) {
						assert.Equal(t, want, got, "%s %s: sha256 of the bytes delivered", r.name, dir)
					}
				}()
			}
		}
		// While the transfers run, the admin API names each flow's peer.
		require.Eventually(t, func() bool {
			seen := map[string]string{}
			for _, f := range h.a.Flows() {
				seen[strings.Split(f.Src, ":")[0]] = f.Identity + " " + f.IdentityKey
			}
			return seen[a.addr.String()] == "runner-a "+a.key.PublicKey().String() &&
				seen[b.addr.String()] == "runner-b "+b.key.PublicKey().String()
		}, 30*time.Second, 10*time.Millisecond)
		ids := map[string]admin.IdentityState{}
		for _, id := range h.a.IdentityStates() {
			ids[id.Name] = id
		}
		assert.Equal(t, a.key.PublicKey().String(), ids["runner-a"].Key)
		assert.Equal(t, "wireguard-config", ids["runner-a"].Source)
		assert.Equal(t, "wireguard", ids["runner-b"].Source)
		assert.Equal(t, []string{"deploy"}, ids["runner-b"].Tags)
		assert.Contains(t, ids["runner-a"].Endpoint, "127.0.0.1:")
		assert.NotNil(t, ids["runner-a"].LastHandshake)
		wgr.Wait()
		ids = map[string]admin.IdentityState{}
		for _, id := range h.a.IdentityStates() {
			ids[id.Name] = id
		}
		assert.Greater(t, ids["runner-b"].RxBytes, uint64(transfer), "the device counted runner-b's upload")
		assert.Greater(t, ids["runner-b"].TxBytes, uint64(transfer), "and its download")
		// The same figures per identity in the metrics (bounded labels).
		assert.Greater(t, metric(t, h, "interdict_identity_rx_bytes_total", "runner-b"), float64(transfer))
		assert.Greater(t, metric(t, h, "interdict_identity_tx_bytes_total", "runner-a"), float64(transfer))
		// Every flow's EVE event names its peer with its key and tags.
		require.Eventually(t, func() bool { return len(eveIdentities(t, h.eve)) >= 2 }, 10*time.Second, 20*time.Millisecond)
		ev := eveIdentities(t, h.eve)
		assert.Equal(t, "runner-a", ev[a.addr.String()]["name"])
		assert.Equal(t, a.key.PublicKey().String(), ev[a.addr.String()]["key"])
		assert.Equal(t, []any{"ci"}, ev[a.addr.String()]["tags"])
		assert.Equal(t, "runner-b", ev[b.addr.String()]["name"])
		assert.Equal(t, b.key.PublicKey().String(), ev[b.addr.String()]["key"])
	})

	t.Run("unknown-key-gets-nothing", func(t *testing.T) {
		before := srv.count()
		x := newRunner(t, "stranger", "100.96.0.12")
		x.connect(t, h)
		_, err := x.dial(t, 80, 3*time.Second)
		assert.Error(t, err)
		assert.Equal(t, before, srv.count(), "the server saw no connection")
		assert.NotZero(t, h.dev.Stats().InvalidInitiation, "the stranger's handshakes were rejected and counted")
	})

	t.Run("remove-cuts-runner-b-not-a", func(t *testing.T) {
		ca, err := a.dial(t, 80, 10*time.Second)
		require.NoError(t, err)
		defer ca.Close()
		cb, err := b.dial(t, 80, 10*time.Second)
		require.NoError(t, err)
		defer cb.Close()
		ra, rb := bufio.NewReader(ca), bufio.NewReader(cb)
		for _, c := range []net.Conn{ca, cb} {
			_, err := c.Write([]byte("E\nping\n"))
			require.NoError(t, err)
		}
		for _, r := range []*bufio.Reader{ra, rb} {
			line, err := r.ReadString('\n')
			require.NoError(t, err)
			require.Equal(t, "ping\n", line)
		}

		rm, err := h.a.RemovePeer(context.Background(), "runner-b")
		require.NoError(t, err)
		assert.Equal(t, 1, rm.FlowsReset)
		// runner-b's open flow is reset: the RST left before the peer did.
		require.NoError(t, cb.SetReadDeadline(time.Now().Add(5*time.Second)))
		_, err = rb.ReadString('\n')
		require.Error(t, err)
		assert.Contains(t, err.Error(), "reset", "runner-b saw a reset, not a timeout")
		// New handshakes fail: nothing of runner-b reaches the server.
		before := srv.count()
		_, err = b.dial(t, 80, 3*time.Second)
		assert.Error(t, err)
		assert.Equal(t, before, srv.count())
		// runner-a goes on.
		_, err = ca.Write([]byte("still here\n"))
		require.NoError(t, err)
		line, err := ra.ReadString('\n')
		require.NoError(t, err)
		assert.Equal(t, "still here\n", line)
		_, ok := h.a.Identities().Get("runner-b")
		assert.False(t, ok, "runner-b is no longer an identity")
	})

	t.Run("restart-keeps-key-and-runtime-peers", func(t *testing.T) {
		c := newRunner(t, "runner-c", "100.96.0.13")
		_, err := h.a.AddPeer(context.Background(), admin.PeerRequest{Name: c.name, PublicKey: c.key.PublicKey().String(), AllowedIPs: []string{c.addr.String()}})
		require.NoError(t, err)
		key := h.pub(t)
		stop()
		h2, _ := startHub(t, dir, a.peerYAML(), srv.addr())
		assert.Equal(t, key, h2.pub(t), "the hub's key survived the restart")
		e, ok := h2.a.Identities().Get("runner-c")
		require.True(t, ok, "the runtime peer came back")
		assert.Equal(t, c.key.PublicKey().String(), e.Identity.Key)
		_, ok = h2.a.Identities().Get("runner-b")
		assert.False(t, ok, "the removed peer stays removed")
		c.connect(t, h2)
		conn, err := c.dial(t, 80, 10*time.Second)
		require.NoError(t, err)
		_, err = conn.Write([]byte("E\nback\n"))
		require.NoError(t, err)
		line, err := bufio.NewReader(conn).ReadString('\n')
		require.NoError(t, err)
		assert.Equal(t, "back\n", line)
		conn.Close()
		fi, err := os.Stat(filepath.Join(dir, "state", "wireguard.key"))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	})
}

// Garbage on the hub's UDP port is dropped and shows in the metrics; the
// hub keeps serving.
func TestHubCountsGarbage(t *testing.T) {
	srv := newServer(t)
	a := newRunner(t, "runner-a", "100.96.0.10")
	h, _ := startHub(t, t.TempDir(), a.peerYAML(), srv.addr())
	u, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(h.endpoint()))
	require.NoError(t, err)
	defer u.Close()
	const n = 200
	for i := 0; i < n; i++ {
		_, err := u.Write([]byte(fmt.Sprintf("garbage %d", i)))
		require.NoError(t, err)
		if i%20 == 19 {
			// Paced so a busy machine's socket buffer does not drop
			// what the test then expects to see counted.
			require.Eventually(t, func() bool { return metric(t, h, "interdict_wireguard_datagrams_total", "malformed") >= float64(i+1) }, 10*time.Second, time.Millisecond)
		}
	}
	assert.Equal(t, float64(n), metric(t, h, "interdict_wireguard_datagrams_total", "malformed"))
	a.connect(t, h)
	echo(t, a, "still serving")
}

// echo makes one round trip through the hub. Waiting for the answer also
// means the hub completed its side of the handshake before the client
// goes away: a client that closes right after its dial can vanish with
// its last ACK unsent, and the hub's stack then waits out its SYN-ACK
// retransmissions (about two minutes) before it can close.
func echo(t testing.TB, r *runner, msg string) {
	t.Helper()
	conn, err := r.dial(t, 80, 10*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "E\n%s\n", msg)
	require.NoError(t, err)
	line, err := bufio.NewReader(conn).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, msg+"\n", line)
}

// metric reads one sample of a counter family by its single label value
// ("" for a family without labels).
func metric(t testing.TB, h *hub, name, label string) float64 {
	mfs, err := h.a.Registry().Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label == "" && len(m.GetLabel()) == 0 {
				return m.GetCounter().GetValue()
			}
			for _, l := range m.GetLabel() {
				if l.GetValue() == label {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return -1
}

// A peer cannot speak as another: runner-a's key with runner-b's overlay
// address gets nothing to the server, and the hub counts the packets;
// runner-b itself then connects and its flow is runner-b's.
func TestHubPeerCannotSendAsAnother(t *testing.T) {
	srv := newServer(t)
	a := newRunner(t, "runner-a", "100.96.0.10")
	b := newRunner(t, "runner-b", "100.96.0.11")
	h, _ := startHub(t, t.TempDir(), a.peerYAML()+", "+b.peerYAML(), srv.addr())
	impostor := &runner{name: "runner-a-as-b", key: a.key, addr: b.addr}
	impostor.connect(t, h)
	_, err := impostor.dial(t, 80, 3*time.Second)
	assert.Error(t, err, "a SYN from runner-b's address with runner-a's key is not answered")
	assert.Zero(t, srv.count(), "the server saw no connection")
	assert.Positive(t, metric(t, h, "interdict_wireguard_disallowed_source_packets_total", ""), "the impostor's packets were counted")
	assert.Empty(t, h.a.Flows(), "no flow was opened for the impostor")

	b.connect(t, h)
	conn, err := b.dial(t, 80, 10*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("E\nme\n"))
	require.NoError(t, err)
	line, err := bufio.NewReader(conn).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "me\n", line)
	flows := h.a.Flows()
	require.Len(t, flows, 1)
	assert.Equal(t, "runner-b", flows[0].Identity)
	assert.Equal(t, b.key.PublicKey().String(), flows[0].IdentityKey)
}

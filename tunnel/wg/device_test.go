package wg

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"gvisor.dev/gvisor/pkg/refs"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

func TestMain(m *testing.M) {
	// Every packet buffer and chunk is registered, so a buffer the bridge
	// takes and never releases panics the test that leaked it.
	refs.SetLeakMode(refs.LeaksPanic)
	code := m.Run()
	refs.DoLeakCheck()
	os.Exit(code)
}

var (
	hubAddr    = netip.MustParseAddr("100.96.0.1")
	clientAddr = netip.MustParseAddr("100.96.0.2")
	loopback   = netip.MustParseAddr("127.0.0.1")
)

// hub is a Device attached to a plain gVisor stack that owns hubAddr.
type hub struct {
	dev *Device
	st  *stack.Stack
	key Key
}

func newHub(t *testing.T) *hub {
	t.Helper()
	key, err := GenerateKey()
	require.NoError(t, err)
	dev, err := Open(Config{PrivateKey: key, ListenAddr: loopback})
	require.NoError(t, err)
	st := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol},
	})
	require.Nil(t, st.CreateNIC(1, dev))
	require.Nil(t, st.AddProtocolAddress(1, tcpip.ProtocolAddress{
		Protocol: header.IPv4ProtocolNumber, AddressWithPrefix: tcpip.AddrFrom4(hubAddr.As4()).WithPrefix(),
	}, stack.AddressProperties{}))
	st.SetRouteTable([]tcpip.Route{{Destination: header.IPv4EmptySubnet, NIC: 1}})
	h := &hub{dev: dev, st: st, key: key}
	t.Cleanup(func() {
		st.Close()
		for id := range st.NICInfo() {
			_ = st.RemoveNIC(id) // closes the device
		}
		dev.Close()
		st.Wait()
	})
	return h
}

func (h *hub) endpoint() netip.AddrPort { return netip.AddrPortFrom(loopback, h.dev.ListenPort()) }

// addClient makes a client key, adds it to the hub as a peer holding
// addr, and starts the client.
func (h *hub) addClient(t *testing.T, addr netip.Addr) (*Client, Key) {
	t.Helper()
	return h.addClientVia(t, addr, h.endpoint())
}

// addClientVia is addClient for a client that reaches the hub at ep (a
// relay).
func (h *hub) addClientVia(t *testing.T, addr netip.Addr, ep netip.AddrPort) (*Client, Key) {
	t.Helper()
	ck, err := GenerateKey()
	require.NoError(t, err)
	require.NoError(t, h.dev.AddPeer(Peer{PublicKey: ck.PublicKey(), AllowedIPs: []netip.Prefix{netip.PrefixFrom(addr, 32)}}))
	c, err := NewClient(ClientConfig{PrivateKey: ck, Addresses: []netip.Addr{addr}, HubKey: h.key.PublicKey(), HubEndpoint: ep})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c, ck.PublicKey()
}

// echoServer accepts on the hub's stack and echoes every connection.
func (h *hub) echoServer(t *testing.T, port uint16) {
	t.Helper()
	ln, err := gonet.ListenTCP(h.st, tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFrom4(hubAddr.As4()), Port: port}, header.IPv4ProtocolNumber)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
}

func TestEchoThroughTunnel(t *testing.T) {
	// Registered first, so it runs after every other cleanup.
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
	h := newHub(t)
	h.echoServer(t, 7)
	c, pub := h.addClient(t, clientAddr)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := c.DialTCP(ctx, netip.AddrPortFrom(hubAddr, 7))
	require.NoError(t, err)
	defer conn.Close()
	data := make([]byte, 4<<20)
	_, _ = rand.Read(data)
	go func() {
		_, _ = conn.Write(data)
		_ = conn.CloseWrite()
	}()
	got := sha256.New()
	n, err := io.Copy(got, conn)
	require.NoError(t, err)
	assert.Equal(t, int64(len(data)), n)
	want := sha256.Sum256(data)
	assert.True(t, bytes.Equal(want[:], got.Sum(nil)), "echoed bytes differ")

	peers, err := h.dev.Peers()
	require.NoError(t, err)
	require.Len(t, peers, 1)
	assert.Equal(t, pub, peers[0].PublicKey)
	assert.False(t, peers[0].LastHandshake.IsZero())
	assert.Greater(t, peers[0].RxBytes, uint64(len(data)))
	assert.Contains(t, peers[0].Endpoint, "127.0.0.1:")
	st := h.dev.Stats()
	assert.Greater(t, st.RxBytes, uint64(len(data)))
	assert.Greater(t, st.TxBytes, uint64(len(data)))
	// One handshake, retried if the machine is slow to answer it.
	assert.GreaterOrEqual(t, st.Initiations, uint64(1))
}

func TestRemovePeerCutsIt(t *testing.T) {
	h := newHub(t)
	h.echoServer(t, 7)
	c, pub := h.addClient(t, clientAddr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := c.DialTCP(ctx, netip.AddrPortFrom(hubAddr, 7))
	require.NoError(t, err)
	defer conn.Close()
	buf := make([]byte, 5)
	_, err = conn.Write([]byte("hello"))
	require.NoError(t, err)
	_, err = io.ReadFull(conn, buf)
	require.NoError(t, err)

	require.NoError(t, h.dev.RemovePeer(pub))
	peers, err := h.dev.Peers()
	require.NoError(t, err)
	assert.Empty(t, peers)
	before := h.dev.Stats().RxPackets
	_, err = conn.Write([]byte("again"))
	require.NoError(t, err) // buffered by the client's stack
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(time.Second)))
	_, err = conn.Read(buf)
	assert.Error(t, err, "a removed peer gets no answer")
	assert.Equal(t, before, h.dev.Stats().RxPackets, "nothing from a removed peer reaches the stack")
}

func TestUnknownKeyGetsNothing(t *testing.T) {
	h := newHub(t)
	h.echoServer(t, 7)
	// A client the hub was never told about.
	ck, err := GenerateKey()
	require.NoError(t, err)
	c, err := NewClient(ClientConfig{PrivateKey: ck, Addresses: []netip.Addr{clientAddr}, HubKey: h.key.PublicKey(), HubEndpoint: h.endpoint()})
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = c.DialTCP(ctx, netip.AddrPortFrom(hubAddr, 7))
	assert.Error(t, err)
	st := h.dev.Stats()
	assert.GreaterOrEqual(t, st.Initiations, uint64(1))
	assert.GreaterOrEqual(t, st.InvalidInitiation, uint64(1), "the unknown key's initiation is rejected and counted")
	assert.Zero(t, st.RxPackets)
}

// relay is a UDP forwarder between one client and the hub. It keeps the
// first handshake initiation it forwards, to replay it later, and its
// upstream socket can be replaced, as a NAT that rebinds the client's
// mapping to a new port does.
type relay struct {
	sock   *net.UDPConn
	hub    netip.AddrPort
	init   chan []byte
	client atomic.Pointer[net.UDPAddr]
	up     atomic.Pointer[net.UDPConn]
}

func newRelay(t *testing.T, hub netip.AddrPort) *relay {
	t.Helper()
	sock, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	require.NoError(t, err)
	r := &relay{sock: sock, hub: hub, init: make(chan []byte, 1)}
	r.rebind(t)
	go func() {
		b := make([]byte, 2048)
		for {
			n, from, err := sock.ReadFromUDP(b)
			if err != nil {
				return
			}
			r.client.Store(from)
			if n == 148 && b[0] == 1 {
				select {
				case r.init <- bytes.Clone(b[:n]):
				default:
				}
			}
			_, _ = r.up.Load().Write(b[:n])
		}
	}()
	t.Cleanup(func() { sock.Close(); r.up.Load().Close() })
	return r
}

func (r *relay) endpoint() netip.AddrPort {
	return netip.MustParseAddrPort(r.sock.LocalAddr().String())
}

// rebind moves the client's traffic to a new upstream socket (a new
// source port seen by the hub) and returns that port.
func (r *relay) rebind(t *testing.T) uint16 {
	t.Helper()
	up, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(r.hub))
	require.NoError(t, err)
	go func() {
		b := make([]byte, 2048)
		for {
			n, err := up.Read(b)
			if err != nil {
				return
			}
			if c := r.client.Load(); c != nil {
				_, _ = r.sock.WriteToUDP(b[:n], c)
			}
		}
	}()
	// The old mapping is gone: an answer the hub sent there is lost.
	if old := r.up.Swap(up); old != nil {
		old.Close()
	}
	return uint16(up.LocalAddr().(*net.UDPAddr).Port)
}

func TestGarbageAndReplayCounted(t *testing.T) {
	h := newHub(t)
	h.echoServer(t, 7)
	r := newRelay(t, h.endpoint())
	c, _ := h.addClientVia(t, clientAddr, r.endpoint())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := c.DialTCP(ctx, netip.AddrPortFrom(hubAddr, 7))
	require.NoError(t, err)
	conn.Close()
	initiation := <-r.init

	u, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(h.endpoint()))
	require.NoError(t, err)
	defer u.Close()
	base := h.dev.Stats()
	// Garbage in bursts small enough for the socket buffer of a busy
	// machine: what is dropped before the device reads it is not counted.
	const bursts, per = 20, 25
	junk := make([]byte, 200)
	shaped, malformed := 0, 0
	for b := 0; b < bursts; b++ {
		for i := 0; i < per; i++ {
			_, _ = rand.Read(junk)
			n := 1 + (b*per+i)%len(junk)
			if i%2 == 0 {
				// A well-formed initiation with random contents: passes
				// the size check, fails mac1.
				junk[0], junk[1], junk[2], junk[3] = 1, 0, 0, 0
				n = 148
				shaped++
			} else {
				junk[1] = 0xff // never a valid message type
				malformed++
			}
			_, err := u.Write(junk[:n])
			require.NoError(t, err)
		}
		require.Eventually(t, func() bool {
			st := h.dev.Stats()
			return st.Malformed-base.Malformed == uint64(malformed) && st.InvalidMAC-base.InvalidMAC == uint64(shaped)
		}, 10*time.Second, time.Millisecond, "burst %d: stats %+v", b, h.dev.Stats())
	}
	// The recorded initiation, replayed: its MACs are right, its
	// timestamp is not newer than the one the hub accepted.
	_, err = u.Write(initiation)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return h.dev.Stats().InvalidInitiation-base.InvalidInitiation == 1 }, 10*time.Second, time.Millisecond)
	// Still serving.
	conn, err = c.DialTCP(ctx, netip.AddrPortFrom(hubAddr, 7))
	require.NoError(t, err)
	_, err = conn.Write([]byte("ping"))
	require.NoError(t, err)
	got := make([]byte, 4)
	_, err = io.ReadFull(conn, got)
	require.NoError(t, err)
	conn.Close()
}

func TestKeys(t *testing.T) {
	k, err := GenerateKey()
	require.NoError(t, err)
	back, err := ParseKey(k.String())
	require.NoError(t, err)
	assert.Equal(t, k, back)
	assert.NotEqual(t, k, k.PublicKey())
	// RFC 7748 section 6.1: Alice's private and public key.
	priv, err := ParseKey("dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=")
	require.NoError(t, err)
	assert.Equal(t, "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=", priv.PublicKey().String())
	_, err = ParseKey("short")
	assert.Error(t, err)
}

// A peer that sends from an address outside its allowed IPs (another
// peer's) gets nothing through, and each such packet is counted.
func TestDisallowedSourceCounted(t *testing.T) {
	h := newHub(t)
	h.echoServer(t, 7)
	ck, err := GenerateKey()
	require.NoError(t, err)
	require.NoError(t, h.dev.AddPeer(Peer{PublicKey: ck.PublicKey(), AllowedIPs: []netip.Prefix{netip.PrefixFrom(clientAddr, 32)}}))
	other := netip.MustParseAddr("100.96.0.3")
	c, err := NewClient(ClientConfig{PrivateKey: ck, Addresses: []netip.Addr{other}, HubKey: h.key.PublicKey(), HubEndpoint: h.endpoint()})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = c.DialTCP(ctx, netip.AddrPortFrom(hubAddr, 7))
	assert.Error(t, err, "a SYN from an address the peer was not given is not answered")
	st := h.dev.Stats()
	assert.GreaterOrEqual(t, st.DisallowedSource, uint64(1), "the SYNs were counted: %+v", st)
	assert.Zero(t, st.RxPackets, "none reached the stack")
	assert.False(t, h.dev.mustPeer(t, ck.PublicKey()).LastHandshake.IsZero(), "the handshake itself succeeded: the key is known")
}

// The handshake rejections wireguard-go only logs are counted by the
// exact format it logs them with.
func TestLoggerCountsRejections(t *testing.T) {
	var c counters
	l := newLogger(nil, &c)
	for _, f := range []string{
		"Received packet with invalid mac1",
		"Received invalid initiation message from %s",
		"Received invalid response message from %s",
		"Could not decrypt invalid cookie response",
		"Sending cookie response for denied handshake message for %v",
		"IPv4 packet with disallowed source address from %v",
		"IPv6 packet with disallowed source address from %v",
		"Routine: receive incoming %s - started",
	} {
		l.Verbosef(f, "x")
	}
	assert.Equal(t, Stats{InvalidMAC: 1, InvalidInitiation: 1, InvalidResponse: 1, InvalidCookie: 1, UnderLoad: 1, DisallowedSource: 2}, c.snapshot())
}

func (d *Device) mustPeer(t *testing.T, k Key) PeerStatus {
	t.Helper()
	list, err := d.Peers()
	require.NoError(t, err)
	for _, p := range list {
		if p.PublicKey == k {
			return p
		}
	}
	t.Fatalf("no peer %s", k.Short())
	return PeerStatus{}
}

// The hub follows a peer whose address changes (NAT rebinding, a new
// network): an open flow goes on, answered at the new endpoint.
func TestRoamingFollowsThePeer(t *testing.T) {
	h := newHub(t)
	h.echoServer(t, 7)
	r := newRelay(t, h.endpoint())
	c, pub := h.addClientVia(t, clientAddr, r.endpoint())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := c.DialTCP(ctx, netip.AddrPortFrom(hubAddr, 7))
	require.NoError(t, err)
	defer conn.Close()
	roundTrip := func(msg string) {
		t.Helper()
		require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
		_, err := conn.Write([]byte(msg))
		require.NoError(t, err)
		got := make([]byte, len(msg))
		_, err = io.ReadFull(conn, got)
		require.NoError(t, err)
		assert.Equal(t, msg, string(got))
	}
	roundTrip("before")
	first := h.dev.mustPeer(t, pub).Endpoint

	port := r.rebind(t)
	roundTrip("after the move")
	ep := h.dev.mustPeer(t, pub).Endpoint
	assert.NotEqual(t, first, ep)
	assert.Equal(t, netip.AddrPortFrom(loopback, port).String(), ep, "the hub answers at the peer's new address")
}

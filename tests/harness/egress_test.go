package harness

// End-to-end egress policies of prefix identities: runner-a under a
// policy, real TLS and HTTP clients, a DNS server on the server stack.

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/dns/dnsmessage"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"

	"github.com/interdict/interdict/appliance/identity"
	"github.com/interdict/interdict/appliance/policy/policytest"
	"github.com/interdict/interdict/inspect/eve"
)

func newEgressNet(t *testing.T, pols []identity.PolicyConfig, trig []identity.TriggerConfig, clock *policytest.Clock) *identNet {
	t.Helper()
	return newIdentNet(t, identSetup{policies: pols, interrupt: identity.InterruptConfig{Triggers: trig}, clock: clock})
}

// request sends req on a new flow from src to ap and returns all the
// server answered, or the error the client saw (a reset).
func request(t *testing.T, n *Net, src netip.Addr, ap netip.AddrPort, req string) (string, error) {
	t.Helper()
	c, err := dialFrom(n, src, ap, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte(req))
	require.NoError(t, err)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	return string(got), err
}

var tlsAP = netip.AddrPortFrom(ServerAddr, 443)

// tlsHello opens a TLS connection from src with the given SNI to a
// helloSink: an allowed hello ends with the sink's close (EOF), a denied
// one with a reset.
func tlsHello(t *testing.T, n *Net, src netip.Addr, sni string) error {
	t.Helper()
	c, err := dialFrom(n, src, tlsAP, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return tls.Client(c, &tls.Config{ServerName: sni, InsecureSkipVerify: true}).HandshakeContext(ctx)
}

// newHelloSink records what each connection sends and closes it once a
// whole TLS record (the ClientHello) arrived.
func newHelloSink() *reqServer {
	return &reqServer{whole: func(rec []byte) bool {
		return len(rec) >= 5 && len(rec) >= 5+(int(rec[3])<<8|int(rec[4]))
	}}
}

func TestEgressSNI(t *testing.T) {
	leakCheck(t)
	in := newEgressNet(t, []identity.PolicyConfig{{Name: "ci", Tags: []string{"ci"},
		Allow: []identity.AllowConfig{{To: "*.example.test", Ports: []int{443}}}}}, nil, nil)
	srv := newHelloSink()
	serve(t, in.n, tlsAP, srv.serve)

	err := tlsHello(t, in.n, ClientAddr, "api.example.test")
	require.Error(t, err, "the sink closes after the hello")
	assert.NotContains(t, err.Error(), "reset", "an allowed SNI is not reset")
	require.Eventually(t, func() bool { got, _ := srv.got(0); return strings.Contains(got, "api.example.test") }, 5*time.Second, 5*time.Millisecond,
		"the ClientHello with the allowed SNI reaches the server")

	err = tlsHello(t, in.n, ClientAddr, "evil.test")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "reset", "another SNI is reset")
	require.Eventually(t, func() bool { return srv.accepted() == 2 }, 5*time.Second, 5*time.Millisecond)
	require.Error(t, srv.waitEnd(t, 1))
	got, _ := srv.got(1)
	assert.Empty(t, got, "the server saw none of the denied ClientHello")

	evs := in.eve.of(t, eve.TypePolicy, 0)
	require.Len(t, evs, 1)
	p := evs[0].Policy
	assert.Equal(t, "deny", p.Action)
	assert.Equal(t, "ci", p.Policy)
	assert.Equal(t, "evil.test", p.Name)
	assert.Equal(t, "sni", p.NameSource)
	assert.Equal(t, "runner-a", evs[0].Identity.Name)
	assert.Equal(t, uint16(443), evs[0].DestPort)
	assert.Equal(t, 1.0, counter(t, in.reg, "interdict_identity_egress_decisions_total", map[string]string{"decision": "deny"}))
	assert.Equal(t, 1.0, counter(t, in.reg, "interdict_identity_egress_decisions_total", map[string]string{"decision": "allow"}))
}

// clientHello returns the ClientHello a Go TLS client sends for sni.
func clientHello(t *testing.T, sni string) string {
	t.Helper()
	a, b := net.Pipe()
	defer b.Close()
	go func() {
		defer a.Close()
		_ = tls.Client(a, &tls.Config{ServerName: sni, InsecureSkipVerify: true}).Handshake()
	}()
	hdr := make([]byte, 5)
	_, err := io.ReadFull(b, hdr)
	require.NoError(t, err)
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	_, err = io.ReadFull(b, body)
	require.NoError(t, err)
	return string(hdr) + string(body)
}

// TestEgressSNISplitHello writes ClientHellos one byte at a time: the
// relay holds the bytes until the server name is known, so a denied
// hello reaches the server not even in part, and an allowed one whole.
func TestEgressSNISplitHello(t *testing.T) {
	leakCheck(t)
	in := newEgressNet(t, []identity.PolicyConfig{{Name: "ci", Tags: []string{"ci"},
		Allow: []identity.AllowConfig{{To: "*.example.test", Ports: []int{443}}}}}, nil, nil)
	srv := newHelloSink()
	serve(t, in.n, tlsAP, srv.serve)

	for i, tc := range []struct {
		sni     string
		allowed bool
	}{{"api.example.test", true}, {"evil.test", false}} {
		hello := clientHello(t, tc.sni)
		c, err := dialFrom(in.n, ClientAddr, tlsAP, 5*time.Second)
		require.NoError(t, err)
		// The reset may come during the writes: gVisor reports it once,
		// to whichever call comes first.
		var werr error
		for i := 0; i < len(hello) && werr == nil; i++ {
			_, werr = c.Write([]byte{hello[i]})
			time.Sleep(time.Millisecond)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = io.ReadAll(c)
		c.Close()
		if werr != nil {
			err = werr
		}
		require.Eventually(t, func() bool { return srv.accepted() == i+1 }, 5*time.Second, 5*time.Millisecond)
		srv.waitEnd(t, i)
		got, _ := srv.got(i)
		if tc.allowed {
			require.NoError(t, err, "the sink closes after the whole hello")
			assert.Equal(t, hello, got, "the allowed hello arrives whole and in order")
			continue
		}
		assert.Empty(t, got, "the server received none of the denied ClientHello")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "reset", "the denied SNI is reset")
	}
	evs := in.eve.of(t, eve.TypePolicy, 0)
	require.Len(t, evs, 1)
	assert.Equal(t, "evil.test", evs[0].Policy.Name)
}

func TestEgressHTTPForbiddenPath(t *testing.T) {
	leakCheck(t)
	in := newEgressNet(t, []identity.PolicyConfig{{Name: "deploy", Identities: []string{"runner-a"},
		Allow: []identity.AllowConfig{{To: "example.test", Ports: []int{8080}, Methods: []string{"GET"}, Paths: []string{"/v1/"}}}}}, nil, nil)
	srv := &reqServer{}
	serve(t, in.n, httpAP, srv.serve)

	got, err := request(t, in.n, ClientAddr, httpAP, httpGet("/v1/status"))
	require.NoError(t, err)
	assert.Equal(t, httpResponse, got, "an allowed path passes")

	_, err = request(t, in.n, ClientAddr, httpAP, httpGet("/admin/delete"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "reset")
	require.Eventually(t, func() bool { return srv.accepted() == 2 }, 5*time.Second, 5*time.Millisecond)
	require.Error(t, srv.waitEnd(t, 1))
	srvGot, _ := srv.got(1)
	assert.Empty(t, srvGot, "the forbidden request never reached the server")

	evs := in.eve.of(t, eve.TypePolicy, 0)
	require.NotEmpty(t, evs)
	assert.Equal(t, "/admin/delete", evs[0].Policy.Path)
	assert.Equal(t, "GET", evs[0].Policy.Method)
	assert.Equal(t, "example.test", evs[0].Policy.Name)
	assert.Equal(t, "host", evs[0].Policy.NameSource)

	// One byte per write: the head is held until it is whole, then
	// decided.
	c, err := dialFrom(in.n, ClientAddr, httpAP, 5*time.Second)
	require.NoError(t, err)
	writeByByte(c, httpGet("/v1/slow"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	slow, err := io.ReadAll(c)
	c.Close()
	require.NoError(t, err)
	assert.Equal(t, httpResponse, string(slow), "an allowed request written byte by byte passes")
	c, err = dialFrom(in.n, ClientAddr, httpAP, 5*time.Second)
	require.NoError(t, err)
	writeByByte(c, httpGet("/admin/slow"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.ReadAll(c)
	c.Close()
	require.Error(t, err, "a forbidden one is reset")
	require.Eventually(t, func() bool { return srv.accepted() == 4 }, 5*time.Second, 5*time.Millisecond)
	require.Error(t, srv.waitEnd(t, 3))
	srvGot, _ = srv.got(3)
	assert.Empty(t, srvGot, "the relay held the split head: the server received none of it")

	// runner-b has no policy: anything goes.
	got, err = request(t, in.n, ClientAddr2, httpAP, httpGet("/admin/delete"))
	require.NoError(t, err)
	assert.Equal(t, httpResponse, got)
}

// dnsServer answers every A query with ServerAddr (TTL 60) and records
// the names it was asked.
type dnsServer struct {
	mu    sync.Mutex
	asked []string
}

func (d *dnsServer) run(t *testing.T, n *Net) {
	t.Helper()
	pc, err := n.ListenUDP(netip.AddrPortFrom(ServerAddr, 53))
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		b := make([]byte, 1500)
		for {
			k, from, err := pc.ReadFrom(b)
			if err != nil {
				return
			}
			var m dnsmessage.Message
			if m.Unpack(b[:k]) != nil || len(m.Questions) != 1 {
				continue
			}
			q := m.Questions[0]
			d.mu.Lock()
			d.asked = append(d.asked, strings.TrimSuffix(q.Name.String(), "."))
			d.mu.Unlock()
			m.Header.Response = true
			m.Answers = []dnsmessage.Resource{{
				Header: dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 60},
				Body:   &dnsmessage.AResource{A: ServerAddr.As4()},
			}}
			out, _ := m.Pack()
			pc.WriteTo(out, from)
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
}

func (d *dnsServer) names() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.asked...)
}

// resolve asks the DNS server through the appliance from src.
func resolve(t *testing.T, n *Net, src netip.Addr, name string) dnsmessage.Message {
	t.Helper()
	c, err := dialUDPFrom(n, src, netip.AddrPortFrom(ServerAddr, 53))
	require.NoError(t, err)
	defer c.Close()
	q := dnsmessage.Message{Header: dnsmessage.Header{ID: 0x4242, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName(name + "."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}}}
	b, err := q.Pack()
	require.NoError(t, err)
	_, err = c.Write(b)
	require.NoError(t, err)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	k, err := c.Read(buf)
	require.NoError(t, err, "an answer to %s", name)
	var m dnsmessage.Message
	require.NoError(t, m.Unpack(buf[:k]))
	assert.Equal(t, uint16(0x4242), m.Header.ID)
	return m
}

func TestEgressDNSRefusedAndResolvedAddresses(t *testing.T) {
	leakCheck(t)
	in := newEgressNet(t, []identity.PolicyConfig{{Name: "ci", Tags: []string{"ci"},
		Allow: []identity.AllowConfig{{To: "db.example.test", Ports: []int{5432}}}}}, nil, nil)
	dns := &dnsServer{}
	dns.run(t, in.n)
	dbAP := netip.AddrPortFrom(ServerAddr, 5432)
	srv := &reqServer{}
	serve(t, in.n, dbAP, srv.serve)
	sshAP := netip.AddrPortFrom(ServerAddr, 22)
	ssh := &reqServer{}
	serve(t, in.n, sshAP, ssh.serve)

	// No allowed name resolved to the address yet: a protocol without a
	// name in its first bytes is reset before they reach the server.
	c, err := dialFrom(in.n, ClientAddr, dbAP, 5*time.Second)
	require.NoError(t, err)
	c.Write([]byte("STARTUP\r\n\r\n"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 16))
	c.Close()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "reset")
	// A port no entry allows is refused before any upstream dial.
	_, err = dialFrom(in.n, ClientAddr, sshAP, 5*time.Second)
	require.Error(t, err)
	assert.Regexp(t, "refused|reset", err.Error())
	assert.Zero(t, ssh.accepted(), "the upstream was never dialled")

	m := resolve(t, in.n, ClientAddr, "exfil-0123456789abcdef.evil.test")
	assert.Equal(t, dnsmessage.RCodeRefused, m.Header.RCode, "a query for a name not allowed is REFUSED")
	assert.Empty(t, dns.names(), "the refused query never reached the resolver")

	m = resolve(t, in.n, ClientAddr, "db.example.test")
	require.Equal(t, dnsmessage.RCodeSuccess, m.Header.RCode)
	require.Len(t, m.Answers, 1)
	assert.Equal(t, []string{"db.example.test"}, dns.names())

	// Now the address is allowed for db.example.test: the same flow passes.
	c, err = dialFrom(in.n, ClientAddr, dbAP, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("STARTUP\r\n\r\n"))
	require.NoError(t, err)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	assert.Equal(t, httpResponse, string(got))
	// The answer was runner-a's: runner-b (same tag, no DNS) learns nothing.
	c2, err := dialFrom(in.n, ClientAddr2, dbAP, 5*time.Second)
	require.NoError(t, err)
	defer c2.Close()
	c2.Write([]byte("STARTUP\r\n\r\n"))
	c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c2.Read(make([]byte, 16))
	require.Error(t, err)

	var sources []string
	for _, ev := range in.eve.of(t, eve.TypePolicy, 0) {
		sources = append(sources, ev.Policy.NameSource)
	}
	assert.Contains(t, sources, "query")
}

func TestEgressScheduleFakeClock(t *testing.T) {
	leakCheck(t)
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	// Saturday 2026-03-07 10:00 in Berlin.
	clock := policytest.NewClock(time.Date(2026, 3, 7, 10, 0, 0, 0, berlin))
	in := newEgressNet(t, []identity.PolicyConfig{{Name: "deploy", Identities: []string{"runner-a"},
		Allow: []identity.AllowConfig{{To: ServerAddr.String(), Ports: []int{7},
			Schedule: &identity.ScheduleConfig{Days: []string{"mon-fri"}, Hours: "08:00-18:00", TZ: "Europe/Berlin"}}}}}, nil, clock)
	serve(t, in.n, echoAP, echo)

	_, err = dialFrom(in.n, ClientAddr, echoAP, 5*time.Second)
	require.Error(t, err, "Saturday is outside the window")
	clock.Advance(48 * time.Hour) // Monday 10:00
	openEcho(t, in.n, ClientAddr)
	clock.Advance(8*time.Hour + 30*time.Minute) // Monday 18:30
	_, err = dialFrom(in.n, ClientAddr, echoAP, 5*time.Second)
	require.Error(t, err, "after hours")
}

func TestEgressShadowDeniesNothing(t *testing.T) {
	leakCheck(t)
	in := newEgressNet(t, []identity.PolicyConfig{{Name: "audit", Mode: "ids",
		Allow: []identity.AllowConfig{{To: "10.200.0.0/16"}}}}, nil, nil)
	serve(t, in.n, echoAP, echo)
	openEcho(t, in.n, ClientAddr)
	openEcho(t, in.n, ClientAddr2)
	evs := in.eve.of(t, eve.TypePolicy, 0)
	require.Len(t, evs, 2)
	for _, ev := range evs {
		assert.Equal(t, "would-deny", ev.Policy.Action)
	}
	assert.Equal(t, 2.0, counter(t, in.reg, "interdict_identity_egress_decisions_total", map[string]string{"decision": "would-deny"}))
}

func TestEgressDenialsQuarantine(t *testing.T) {
	leakCheck(t)
	in := newEgressNet(t, []identity.PolicyConfig{{Name: "none", Tags: []string{"ci"}}},
		[]identity.TriggerConfig{{Name: "denials", PolicyDenials: true, Count: 3, Window: "1m", Action: identity.ActionQuarantine}}, nil)
	for range 3 {
		dialFrom(in.n, ClientAddr2, echoAP, time.Second)
	}
	require.Eventually(t, func() bool { _, ok := in.e.Get("runner-b"); return ok }, 5*time.Second, 5*time.Millisecond)
	_, ok := in.e.Get("runner-a")
	assert.False(t, ok)
}

// dialUDPFrom opens a connected UDP socket on the client from src.
func dialUDPFrom(n *Net, src netip.Addr, dst netip.AddrPort) (*gonet.UDPConn, error) {
	local := tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFromSlice(src.AsSlice())}
	remote, proto := full(dst)
	return gonet.DialUDP(n.Client, &local, &remote, proto)
}

// TestEgressUDPDeniedUnreachable: a UDP datagram to a destination no
// entry allows is refused before it is forwarded, and the client hears
// ICMP port unreachable (a connected socket reports it as refused).
func TestEgressUDPDeniedUnreachable(t *testing.T) {
	leakCheck(t)
	in := newEgressNet(t, []identity.PolicyConfig{{Name: "ci", Tags: []string{"ci"},
		Allow: []identity.AllowConfig{{To: ServerAddr.String(), Ports: []int{5432}, Proto: "tcp"}}}}, nil, nil)
	dst := netip.AddrPortFrom(ServerAddr, 5432)
	received := udpSink(t, in.n, dst)

	c, err := dialUDPFrom(in.n, ClientAddr, dst)
	require.NoError(t, err)
	defer c.Close()
	b := make([]byte, 64)
	require.Eventually(t, func() bool {
		c.Write([]byte("udp to a tcp-only entry"))
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		_, err := c.Read(b)
		return err != nil && strings.Contains(err.Error(), "refused")
	}, 5*time.Second, 10*time.Millisecond)
	assert.Empty(t, received(), "the server received nothing")
	evs := in.eve.of(t, eve.TypePolicy, 0)
	require.NotEmpty(t, evs)
	assert.Equal(t, "deny", evs[0].Policy.Action)
	assert.Equal(t, "UDP", evs[0].Proto)
}

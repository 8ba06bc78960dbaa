package harness

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/interdict/interdict/appliance/identity"
	"github.com/interdict/interdict/inspect/eve"
)

// h2Server serves HTTP/2 in cleartext, with prior knowledge (net/http's
// unencrypted HTTP/2) or after an "Upgrade: h2c" it answers 101 itself,
// and HTTP/1 without one; it records each request it handled.
type h2Server struct {
	mu    sync.Mutex
	reqs  []string // "path credential" of each request handled
	conns chan net.Conn
}

const h2Body = "h2 body\x00\xffbytes"

func newH2Server(t *testing.T) *h2Server {
	s := &h2Server{conns: make(chan net.Conn)}
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	hs := &http.Server{Handler: http.HandlerFunc(s.handle), Protocols: &p}
	ln := &chanListener{c: s.conns, done: make(chan struct{})}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return s
}

func (s *h2Server) serve(c net.Conn) {
	br := bufio.NewReader(c)
	if p, err := br.Peek(len(http2.ClientPreface)); err != nil || string(p) != http2.ClientPreface {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		s.record(req)
		if req.Header.Get("Upgrade") != "h2c" {
			c.Write([]byte(httpResponse))
			return
		}
		c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"))
	}
	bc := &bufConn{Conn: c, r: br, closed: make(chan struct{})}
	select {
	case s.conns <- bc:
		<-bc.closed
	case <-time.After(10 * time.Second):
	}
}

func (s *h2Server) handle(w http.ResponseWriter, r *http.Request) {
	s.record(r)
	io.WriteString(w, h2Body)
}

func (s *h2Server) record(r *http.Request) {
	s.mu.Lock()
	s.reqs = append(s.reqs, r.URL.Path+" "+r.Header.Get("Authorization")+r.Header.Get("X-Api-Key"))
	s.mu.Unlock()
}

func (s *h2Server) handled() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.reqs...)
}

// chanListener hands the http.Server the connections h2Server.serve
// accepted.
type chanListener struct {
	c    chan net.Conn
	done chan struct{}
	once sync.Once
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.c:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{} }

// bufConn reads what the HTTP/1 reader buffered first, and says when the
// server closed it.
type bufConn struct {
	net.Conn
	r      *bufio.Reader
	once   sync.Once
	closed chan struct{}
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *bufConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// h2Client is net/http's client speaking HTTP/2 with prior knowledge from
// src, as curl --http2-prior-knowledge or a gRPC client in cleartext
// does.
func h2Client(n *Net, src netip.Addr) *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Protocols: &p,
		DialContext: func(context.Context, string, string) (net.Conn, error) {
			return dialFrom(n, src, httpAP, 5*time.Second)
		}}}
}

// h2Frames builds what a client sends on an HTTP/2 connection.
type h2Frames struct {
	buf bytes.Buffer
	fr  *http2.Framer
	hb  bytes.Buffer
	enc *hpack.Encoder
}

func newH2Frames() *h2Frames {
	w := &h2Frames{}
	w.buf.WriteString(http2.ClientPreface)
	w.fr = http2.NewFramer(&w.buf, nil)
	w.enc = hpack.NewEncoder(&w.hb)
	require.NoError(nil, w.fr.WriteSettings())
	return w
}

// get writes a GET of path on stream with the header fields kv, whose
// block is split over cont CONTINUATION frames after the HEADERS frame.
func (w *h2Frames) get(stream uint32, path string, cont int, kv ...string) {
	w.hb.Reset()
	kv = append([]string{":method", "GET", ":scheme", "http", ":authority", "example.test", ":path", path}, kv...)
	for i := 0; i < len(kv); i += 2 {
		w.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	b := w.hb.Bytes()
	n := len(b) / (cont + 1)
	w.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: b[:n], EndStream: true, EndHeaders: cont == 0})
	b = b[n:]
	for i := range cont {
		k := len(b)
		if i < cont-1 {
			k = n
		}
		w.fr.WriteContinuation(stream, i == cont-1, b[:k])
		b = b[k:]
	}
}

// h2cUpgraded opens a connection from src, sends a GET of path asking
// to upgrade to h2c and requires the server's 101.
func h2cUpgraded(t *testing.T, n *Net, src netip.Addr, path string) net.Conn {
	t.Helper()
	c, err := dialFrom(n, src, httpAP, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	_, err = c.Write([]byte("GET " + path + " HTTP/1.1\r\nHost: example.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n" +
		"HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n"))
	require.NoError(t, err)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	head, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(head, "HTTP/1.1 101 "), head)
	return c
}

// readReset reads c until it ends and requires a reset.
func readReset(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.ReadAll(c)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "reset", "the connection is reset")
}

// TestTokenCheckedInH2C: HTTP/2 in cleartext carries no token past the
// binding check. runner-a binds its token over HTTP/1 and uses it over
// h2c, byte-exact; runner-b's use of it over h2c (prior knowledge, after
// an Upgrade: h2c, in a CONTINUATION frame, written a byte at a time)
// never reaches the server, resets the flow and is counted, logged and
// triggers an interruption like an HTTP/1 misuse, the token nowhere in
// clear. A token first seen over h2c binds to its user; h2c that does
// not parse is refused.
func TestTokenCheckedInH2C(t *testing.T) {
	leakCheck(t)
	const secret = "ghp_H2cSecretTokenValue0123456789"
	const secret2 = "glpat-FirstSeenOverH2c0123456789"
	const misuses = 7
	logs := &lockedBuf{}
	in := newIdentNet(t, identSetup{logs: logs, tokens: identity.TokensConfig{Enabled: true},
		interrupt: identity.InterruptConfig{Triggers: []identity.TriggerConfig{
			{Name: "stolen-token", TokenMisuse: true, Count: misuses, Action: identity.ActionPause, For: "1h"}}}})
	srv := newH2Server(t)
	serve(t, in.n, httpAP, srv.serve)

	got, err := request(t, in.n, ClientAddr, httpAP, "GET /bind HTTP/1.1\r\nHost: example.test\r\nAuthorization: Bearer "+secret+"\r\nConnection: close\r\n\r\n")
	require.NoError(t, err)
	require.Equal(t, httpResponse, got)
	binds := in.e.TokenBindings()
	require.Len(t, binds, 1, "runner-a's HTTP/1 request bound the token")
	require.Equal(t, "runner-a", binds[0].Identity)

	// runner-a's own h2c requests with its token pass, two on one
	// connection, the body byte-exact.
	ca := h2Client(in.n, ClientAddr)
	for _, path := range []string{"/own1", "/own2"} {
		req, err := http.NewRequest("GET", "http://example.test"+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := ca.Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		assert.Equal(t, h2Body, string(body))
		assert.Equal(t, 2, resp.ProtoMajor)
	}
	// A token first seen over h2c binds to its user: runner-b's use of it
	// over HTTP/1 is refused.
	req, err := http.NewRequest("GET", "http://example.test/own3", nil)
	require.NoError(t, err)
	req.Header.Set("X-Api-Key", secret2)
	resp, err := ca.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	ca.CloseIdleConnections()
	assert.Equal(t, []string{"/bind Bearer " + secret, "/own1 Bearer " + secret, "/own2 Bearer " + secret, "/own3 " + secret2}, srv.handled(),
		"the server got runner-a's tokens as sent")
	binds = in.e.TokenBindings()
	require.Len(t, binds, 2)
	shown := map[string]bool{} // how EVE names each token
	for _, b := range binds {
		assert.Equal(t, "runner-a", b.Identity, "bound on first use, over HTTP/1 or h2c")
		shown["sha256:"+b.HashPrefix+" "+b.Lead] = true
	}
	_, err = request(t, in.n, ClientAddr2, httpAP, "GET /stolen-h1 HTTP/1.1\r\nHost: example.test\r\nX-Api-Key: "+secret2+"\r\n\r\n")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "reset")

	// HTTP/2 that does not parse (a SETTINGS frame of 5 bytes) fails
	// closed: the request behind it is not let through unchecked.
	c, err := dialFrom(in.n, ClientAddr, httpAP, 5*time.Second)
	require.NoError(t, err)
	bad := newH2Frames()
	bad.buf.Write([]byte{0, 0, 5, byte(http2.FrameSettings), 0, 0, 0, 0, 0, 1, 2, 3, 4, 5})
	bad.get(1, "/unparsed", 0)
	c.Write(bad.buf.Bytes())
	readReset(t, c)
	c.Close()

	// runner-b with net/http's client, prior knowledge.
	cb := h2Client(in.n, ClientAddr2)
	req, err = http.NewRequest("GET", "http://example.test/stolen-client", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+secret)
	_, err = cb.Do(req)
	require.Error(t, err, "runner-b's h2c request with runner-a's token fails")
	cb.CloseIdleConnections()

	// Hand-built: prior knowledge; the token in a CONTINUATION frame;
	// after an Upgrade: h2c answered 101; a byte at a time; behind a
	// request without a token on the same connection.
	variant := func(name string, upgrade bool, byByte bool, build func(w *h2Frames)) {
		t.Run(name, func(t *testing.T) {
			var c net.Conn
			if upgrade {
				c = h2cUpgraded(t, in.n, ClientAddr2, "/up")
			} else {
				var err error
				c, err = dialFrom(in.n, ClientAddr2, httpAP, 5*time.Second)
				require.NoError(t, err)
				defer c.Close()
			}
			w := newH2Frames()
			build(w)
			if byByte {
				writeByByte(c, w.buf.String())
			} else {
				c.Write(w.buf.Bytes())
			}
			readReset(t, c)
		})
	}
	variant("prior knowledge", false, false, func(w *h2Frames) { w.get(1, "/stolen-prior", 0, "x-api-key", secret) })
	variant("in a CONTINUATION frame", false, false, func(w *h2Frames) {
		w.get(1, "/stolen-cont", 2, "user-agent", strings.Repeat("u", 64), "authorization", "token "+secret)
	})
	variant("after Upgrade: h2c", true, false, func(w *h2Frames) { w.get(3, "/stolen-upgrade", 0, "authorization", "Bearer "+secret) })
	variant("a byte at a time", false, true, func(w *h2Frames) { w.get(1, "/stolen-bytes", 1, "X-Api-Key", secret) })
	variant("second stream", false, false, func(w *h2Frames) {
		w.get(1, "/plain", 0)
		w.get(3, "/stolen-second", 0, "authorization", "bearer "+secret)
	})

	for _, r := range srv.handled() {
		assert.NotContains(t, r, "stolen", "no request with runner-a's token from runner-b reached the server")
		assert.NotContains(t, r, "/unparsed")
	}
	require.Eventually(t, func() bool { return len(in.eve.of(t, eve.TypePolicy, 0)) == misuses }, 10*time.Second, 5*time.Millisecond)
	for _, ev := range in.eve.of(t, eve.TypePolicy, 0) {
		assert.Equal(t, "tokens", ev.Policy.Policy)
		assert.Equal(t, "runner-b", ev.Identity.Name)
		assert.True(t, shown[ev.Policy.Token], ev.Policy.Token)
	}
	require.Eventually(t, func() bool { _, ok := in.e.Get("runner-b"); return ok }, 10*time.Second, 5*time.Millisecond,
		"the misuses over h2c count toward the interruption trigger")
	assert.Equal(t, float64(misuses), counter(t, in.reg, "interdict_identity_token_misuse_total", map[string]string{"action": "deny"}))
	assert.Equal(t, binds, in.e.TokenBindings(), "the misuses bound nothing")

	mfs, err := in.reg.Gather()
	require.NoError(t, err)
	var metrics strings.Builder
	for _, mf := range mfs {
		metrics.WriteString(mf.String())
	}
	for name, out := range map[string]string{"logs": logs.String(), "EVE": readAll(in.eve), "metrics": metrics.String()} {
		assert.NotContains(t, out, secret, name)
		assert.NotContains(t, out, secret[4:12], name+" (a part of it)")
	}
}

// TestEgressPathsInH2C: an egress policy's methods and paths hold for
// HTTP/2 in cleartext too. After an allowed request that upgraded the
// connection to h2c, each HTTP/2 request is decided like an HTTP/1 one:
// an allowed path is served, a forbidden one resets the flow before the
// server handles it. HTTP/2 with prior knowledge carries no request in
// its first bytes and is refused where the policy needs the request.
func TestEgressPathsInH2C(t *testing.T) {
	leakCheck(t)
	in := newEgressNet(t, []identity.PolicyConfig{{Name: "deploy", Identities: []string{"runner-a"},
		Allow: []identity.AllowConfig{{To: "example.test", Ports: []int{8080}, Methods: []string{"GET"}, Paths: []string{"/v1/"}}}}}, nil, nil)
	srv := newH2Server(t)
	serve(t, in.n, httpAP, srv.serve)

	c := h2cUpgraded(t, in.n, ClientAddr, "/v1/up")
	w := newH2Frames()
	w.get(3, "/v1/ok", 0)
	w.get(5, "/v1/ok2", 1, "user-agent", "harness")
	_, err := c.Write(w.buf.Bytes())
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(srv.handled()) == 3 }, 10*time.Second, 5*time.Millisecond,
		"the upgrade request and the allowed HTTP/2 requests are served")
	assert.ElementsMatch(t, []string{"/v1/up ", "/v1/ok ", "/v1/ok2 "}, srv.handled())

	for name, build := range map[string]func(w *h2Frames){
		"a forbidden path":                 func(w *h2Frames) { w.get(3, "/admin/forbidden", 0) },
		"over a CONTINUATION frame":        func(w *h2Frames) { w.get(3, "/admin/forbidden", 2, "user-agent", strings.Repeat("u", 40)) },
		"behind an allowed request":        func(w *h2Frames) { w.get(3, "/v1/ok", 0); w.get(5, "/admin/forbidden", 0) },
		"a path that resolves out of /v1/": func(w *h2Frames) { w.get(3, "/v1/../admin/forbidden", 0) },
	} {
		t.Run(name, func(t *testing.T) {
			c := h2cUpgraded(t, in.n, ClientAddr, "/v1/up")
			w := newH2Frames()
			build(w)
			c.Write(w.buf.Bytes())
			readReset(t, c)
		})
	}

	c, err = dialFrom(in.n, ClientAddr, httpAP, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	w = newH2Frames()
	w.get(1, "/v1/prior", 0)
	c.Write(w.buf.Bytes())
	readReset(t, c)

	for _, r := range srv.handled() {
		assert.NotContains(t, r, "admin", "no forbidden request reached the server")
		assert.NotContains(t, r, "prior")
	}
	require.Eventually(t, func() bool { return len(in.eve.of(t, eve.TypePolicy, 0)) == 5 }, 10*time.Second, 5*time.Millisecond,
		"each refused flow is one denial")
	for _, ev := range in.eve.of(t, eve.TypePolicy, 0) {
		assert.Equal(t, "deny", ev.Policy.Action)
	}
}

package harness

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/interdict/interdict/netstack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// leakCheck fails the test if it left goroutines behind. Registered first,
// so it runs after every other cleanup (the harness teardown included).
func leakCheck(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t, goleak.IgnoreCurrent()) })
}

// server accepts on ap and runs fn per conn; everything stops at cleanup.
type server struct {
	ln    *gonet.TCPListener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

func serve(t *testing.T, n *Net, ap netip.AddrPort, fn func(c net.Conn)) *server {
	t.Helper()
	ln, err := n.Listen(ap)
	require.NoError(t, err)
	s := &server{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				fn(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func dial(t *testing.T, n *Net, dst netip.AddrPort) *gonet.TCPConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := n.Dial(ctx, dst)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

var srvAP = netip.AddrPortFrom(ServerAddr, 8080)

func TestEcho(t *testing.T) {
	leakCheck(t)
	n := New(t)
	serve(t, n, srvAP, func(c net.Conn) { io.Copy(c, c) })
	c := dial(t, n, srvAP)
	_, err := c.Write([]byte("hello"))
	require.NoError(t, err)
	buf := make([]byte, 5)
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(buf))
}

// recorder is a Handler that remembers flows and what they ended with.
type recorder struct {
	inner netstack.Handler
	mu    sync.Mutex
	stats []netstack.FlowStats
	done  chan struct{}
}

func newRecorder(inner netstack.Handler) *recorder {
	return &recorder{inner: inner, done: make(chan struct{}, 1024)}
}

func (r *recorder) NewFlow(info *netstack.FlowInfo) (netstack.FlowHandler, netstack.Verdict) {
	fh, v := r.inner.NewFlow(info)
	return &recFlow{r: r, fh: fh}, v
}

type recFlow struct {
	r  *recorder
	fh netstack.FlowHandler
}

func (f *recFlow) Chunk(d netstack.Direction, b []byte) netstack.Verdict { return f.fh.Chunk(d, b) }
func (f *recFlow) Close(st netstack.FlowStats) {
	f.fh.Close(st)
	f.r.mu.Lock()
	f.r.stats = append(f.r.stats, st)
	f.r.mu.Unlock()
	f.r.done <- struct{}{}
}

func (r *recorder) wait(t *testing.T) netstack.FlowStats {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		t.Fatal("flow did not end")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats[len(r.stats)-1]
}

// pattern is a deterministic payload stream: the same seed gives the same
// bytes on both ends without keeping 64 MiB twice in memory.
type pattern struct{ r *rand.ChaCha8 }

func newPattern(seed byte) *pattern {
	var s [32]byte
	s[0] = seed
	return &pattern{rand.NewChaCha8(s)}
}

func (p *pattern) Read(b []byte) (int, error) { return p.r.Read(b) }

func TestBulk64MiBEachWay(t *testing.T) {
	leakCheck(t)
	if testing.Short() {
		t.Skip("64 MiB each way")
	}
	const size = 64 << 20
	n := New(t, netstack.WithHandler(&netstack.PatternHandler{Pattern: []byte("never-in-random-data-0123456789"), Verdict: netstack.Reject}))
	srvGot := make(chan []byte, 1)
	serve(t, n, srvAP, func(c net.Conn) {
		// Send our stream while hashing what arrives.
		go func() {
			io.CopyN(c, newPattern(2), size)
			c.(*gonet.TCPConn).CloseWrite()
		}()
		h := sha256.New()
		io.Copy(h, c)
		srvGot <- h.Sum(nil)
	})
	c := dial(t, n, srvAP)
	errc := make(chan error, 1)
	go func() {
		_, err := io.CopyN(c, newPattern(1), size)
		c.CloseWrite()
		errc <- err
	}()
	h := sha256.New()
	got, err := io.Copy(h, c)
	require.NoError(t, err)
	require.NoError(t, <-errc)
	assert.EqualValues(t, size, got)
	assert.Equal(t, sum(newPattern(2), size), h.Sum(nil), "server->client bytes differ")
	assert.Equal(t, sum(newPattern(1), size), <-srvGot, "client->server bytes differ")
}

func sum(r io.Reader, n int64) []byte {
	h := sha256.New()
	io.CopyN(h, r, n)
	return h.Sum(nil)
}

func TestConcurrentFlows(t *testing.T) {
	leakCheck(t)
	const flows, size = 200, 64 << 10
	n := New(t)
	serve(t, n, srvAP, func(c net.Conn) { io.Copy(c, c) })
	var wg sync.WaitGroup
	errs := make(chan error, flows)
	for i := range flows {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := n.Dial(ctx, srvAP)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			want := make([]byte, size)
			newPattern(byte(i)).Read(want)
			go func() { c.Write(want); c.CloseWrite() }()
			got, err := io.ReadAll(c)
			if err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(want, got) {
				errs <- errors.New("flow bytes differ")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
}

func TestHalfClose(t *testing.T) {
	t.Run("client closes write first", func(t *testing.T) {
		leakCheck(t)
		n := New(t)
		srvGot := make(chan string, 1)
		serve(t, n, srvAP, func(c net.Conn) {
			b, _ := io.ReadAll(c) // returns at the client's FIN
			srvGot <- string(b)
			c.Write([]byte("answer after your FIN"))
			c.(*gonet.TCPConn).CloseWrite()
		})
		c := dial(t, n, srvAP)
		_, err := c.Write([]byte("request"))
		require.NoError(t, err)
		require.NoError(t, c.CloseWrite())
		got, err := io.ReadAll(c)
		require.NoError(t, err)
		assert.Equal(t, "request", <-srvGot)
		assert.Equal(t, "answer after your FIN", string(got))
	})
	t.Run("server closes write first", func(t *testing.T) {
		leakCheck(t)
		n := New(t)
		srvGot := make(chan string, 1)
		serve(t, n, srvAP, func(c net.Conn) {
			c.Write([]byte("banner"))
			c.(*gonet.TCPConn).CloseWrite()
			b, _ := io.ReadAll(c)
			srvGot <- string(b)
		})
		c := dial(t, n, srvAP)
		got, err := io.ReadAll(c) // returns at the server's FIN
		require.NoError(t, err)
		assert.Equal(t, "banner", string(got))
		_, err = c.Write([]byte("reply after your FIN"))
		require.NoError(t, err)
		require.NoError(t, c.CloseWrite())
		assert.Equal(t, "reply after your FIN", <-srvGot)
	})
}

func TestRefusedUpstreamResetsClient(t *testing.T) {
	leakCheck(t)
	n := New(t)
	// Nothing listens on the server: it answers the appliance's SYN with
	// RST, and the appliance must mirror that to the client.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := n.Dial(ctx, netip.AddrPortFrom(ServerAddr, 9))
	require.Error(t, err)
	assert.Regexp(t, "refused|reset", err.Error())
	assert.Less(t, time.Since(start), 5*time.Second, "a refusal must not wait for a timeout")
}

var _ = bytes.Equal
var _ = sha256.New
var _ = errors.Is
var _ = rand.N[int]
var _ = os.Getenv
var _ netstack.Verdict

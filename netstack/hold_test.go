package netstack

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"

	"github.com/interdict/interdict/tunnel/pipe"
)

// scriptHandler answers the chunks to the server with verdicts in
// order (Continue past the end) and reports each chunk it was shown.
type scriptHandler struct {
	mu       sync.Mutex
	verdicts []Verdict
	seen     chan string
	closed   chan FlowStats
}

func newScript(vs ...Verdict) *scriptHandler {
	return &scriptHandler{verdicts: vs, seen: make(chan string, 64), closed: make(chan FlowStats, 1)}
}

func (h *scriptHandler) NewFlow(*FlowInfo) (FlowHandler, Verdict) { return h, Continue }

func (h *scriptHandler) Chunk(dir Direction, b []byte) Verdict {
	if dir != ToServer {
		return Continue
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	v := Continue
	if len(h.verdicts) > 0 {
		v, h.verdicts = h.verdicts[0], h.verdicts[1:]
	}
	h.seen <- string(b)
	return v
}

func (h *scriptHandler) Close(st FlowStats) { h.closed <- st }

// sinkServer accepts one connection and reports every byte it received
// until the connection ended (FIN or RST).
func sinkServer(t *testing.T) (string, <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		b, _ := io.ReadAll(c)
		got <- string(b)
	}()
	return ln.Addr().String(), got
}

type holdRig struct {
	s   *Stack
	h   *scriptHandler
	c   *gonet.TCPConn
	got <-chan string
}

func newHoldRig(t *testing.T, lim Limits, h *scriptHandler) *holdRig {
	t.Helper()
	addr, got := sinkServer(t)
	applianceLink, clientLink := pipe.New(0)
	s, err := New(WithLink(applianceLink), WithDialer(&countingDialer{tcp: addr}), WithHandler(h), WithLimits(lim))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	clientAddr := tcpip.AddrFrom4([4]byte{10, 9, 0, 2})
	cs := clientStack(t, clientLink, clientAddr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := gonet.DialTCPWithBind(ctx, cs, tcpip.FullAddress{NIC: 1, Addr: clientAddr, Port: 40100},
		tcpip.FullAddress{Addr: tcpip.AddrFrom4([4]byte{10, 9, 0, 1}), Port: 80}, ipv4.ProtocolNumber)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
	return &holdRig{s: s, h: h, c: c, got: got}
}

// send writes each piece and waits until the handler was shown it, so
// each piece is one chunk.
func (r *holdRig) send(t *testing.T, pieces ...string) {
	t.Helper()
	for _, p := range pieces {
		_, err := r.c.Write([]byte(p))
		require.NoError(t, err)
		seen := ""
		for len(seen) < len(p) {
			select {
			case s := <-r.h.seen:
				seen += s
			case <-time.After(10 * time.Second):
				t.Fatalf("the handler was not shown %q", p)
			}
		}
		require.Equal(t, p, seen)
	}
}

func (r *holdRig) received(t *testing.T) string {
	t.Helper()
	select {
	case s := <-r.got:
		return s
	case <-time.After(20 * time.Second):
		t.Fatal("the server's connection did not end")
		return ""
	}
}

// TestHoldThenContinue: the handler holds two chunks, then continues:
// the server receives the three in order, the handler was shown each
// once.
func TestHoldThenContinue(t *testing.T) {
	r := newHoldRig(t, Limits{}, newScript(Hold, Hold, Continue))
	r.send(t, "GET /a", "bc HTTP/1.1\r\n", "Host: x\r\n\r\n", "tail")
	require.NoError(t, r.c.CloseWrite())
	assert.Equal(t, "GET /abc HTTP/1.1\r\nHost: x\r\n\r\ntail", r.received(t))
	st := <-r.h.closed
	assert.Equal(t, Continue, st.Verdict)
	assert.EqualValues(t, len("GET /abc HTTP/1.1\r\nHost: x\r\n\r\ntail"), st.BytesToServer)
}

// TestHoldOutgrowsBuffer: held bytes past one read buffer move to a
// larger one and still arrive whole and in order.
func TestHoldOutgrowsBuffer(t *testing.T) {
	r := newHoldRig(t, Limits{RelayBuffer: 1024}, newScript(Hold, Hold, Hold, Continue))
	a, b, c := strings.Repeat("a", 900), strings.Repeat("b", 900), strings.Repeat("c", 900)
	r.send(t, a, b, c, "d")
	require.NoError(t, r.c.CloseWrite())
	assert.Equal(t, a+b+c+"d", r.received(t))
}

// TestHoldThenReject: held bytes are discarded by a terminal verdict:
// the server receives nothing, the client is reset.
func TestHoldThenReject(t *testing.T) {
	r := newHoldRig(t, Limits{}, newScript(Hold, Hold, Reject))
	r.send(t, "\x16\x03\x01", "\x02\x00", "\x01")
	assert.Equal(t, "", r.received(t), "the target received none of the held bytes")
	_, err := r.c.Read(make([]byte, 1))
	require.Error(t, err)
	assert.NotErrorIs(t, err, io.EOF, "the client is reset, not closed")
	assert.Equal(t, Reject, (<-r.h.closed).Verdict)
}

// TestHoldLimit: a handler that holds past HoldLimit fails closed: the
// flow is rejected and counted, and the target receives nothing.
func TestHoldLimit(t *testing.T) {
	vs := make([]Verdict, 64)
	for i := range vs {
		vs[i] = Hold
	}
	r := newHoldRig(t, Limits{HoldLimit: 4096}, newScript(vs...))
	_, err := r.c.Write([]byte(strings.Repeat("x", 5000)))
	require.NoError(t, err)
	assert.Equal(t, "", r.received(t))
	assert.Equal(t, Reject, (<-r.h.closed).Verdict)
	assert.Equal(t, 1.0, testutil.ToFloat64(r.s.m.holdUndecided.WithLabelValues("limit", "reject")))
}

// TestHoldAtEOF: the client's FIN with bytes held asks the handler once
// more (an empty chunk); Continue forwards them before the FIN, Hold
// again rejects the flow.
func TestHoldAtEOF(t *testing.T) {
	t.Run("continue", func(t *testing.T) {
		r := newHoldRig(t, Limits{}, newScript(Hold, Continue))
		r.send(t, "partial")
		require.NoError(t, r.c.CloseWrite())
		assert.Equal(t, "partial", r.received(t))
		assert.Equal(t, "", <-r.h.seen, "the end of the stream is an empty chunk")
	})
	t.Run("hold again", func(t *testing.T) {
		r := newHoldRig(t, Limits{}, newScript(Hold, Hold))
		r.send(t, "partial")
		require.NoError(t, r.c.CloseWrite())
		assert.Equal(t, "", r.received(t))
		assert.Equal(t, Reject, (<-r.h.closed).Verdict)
		assert.Equal(t, 1.0, testutil.ToFloat64(r.s.m.holdUndecided.WithLabelValues("eof", "reject")))
	})
	t.Run("fail open", func(t *testing.T) {
		r := newHoldRig(t, Limits{HoldFailOpen: true}, newScript(Hold, Hold))
		r.send(t, "partial")
		require.NoError(t, r.c.CloseWrite())
		assert.Equal(t, "partial", r.received(t))
		assert.Equal(t, 1.0, testutil.ToFloat64(r.s.m.holdUndecided.WithLabelValues("eof", "forward")))
	})
}

// TestMonitor: after Monitor the handler is still shown every chunk,
// but its verdicts no longer stop anything.
func TestMonitor(t *testing.T) {
	r := newHoldRig(t, Limits{}, newScript(Monitor, Reject, Drop))
	r.send(t, "one", "two", "three")
	require.NoError(t, r.c.CloseWrite())
	assert.Equal(t, "onetwothree", r.received(t))
	assert.Equal(t, Pass, (<-r.h.closed).Verdict)
}

// memLeg is a leg in memory: reads return chunk left times, then EOF;
// writes are counted.
type memLeg struct {
	chunk []byte
	left  int
	wrote int
}

func (l *memLeg) ready() error { return nil }
func (l *memLeg) read(b []byte) (int, error) {
	if l.left == 0 {
		return 0, io.EOF
	}
	l.left--
	return copy(b, l.chunk), nil
}
func (l *memLeg) write(b []byte) error { l.wrote += len(b); return nil }
func (l *memLeg) closeWrite()          {}
func (l *memLeg) abort()               {}
func (l *memLeg) close()               {}
func (l *memLeg) release()             {}
func (l *memLeg) mute()                {}
func (l *memLeg) wake()                {}

// alternate holds every other chunk.
type alternate struct{ n int }

func (a *alternate) Chunk(Direction, []byte) Verdict {
	a.n++
	if a.n%2 == 1 {
		return Hold
	}
	return Continue
}
func (a *alternate) Close(FlowStats) {}

type always Verdict

func (v always) Chunk(Direction, []byte) Verdict { return Verdict(v) }
func (always) Close(FlowStats)                   {}

// BenchmarkRelayPump runs one direction of the relay on legs in memory:
// the relay's own cost per chunk, without gVisor or sockets. Holding
// must not allocate either: the next read lands behind the held bytes.
func BenchmarkRelayPump(b *testing.B) {
	applianceLink, _ := pipe.New(0)
	s, err := New(WithLink(applianceLink))
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	chunk := make([]byte, 1400)
	for _, bc := range []struct {
		name string
		fh   func() FlowHandler
	}{
		{"continue", func() FlowHandler { return always(Continue) }},
		{"hold every other chunk", func() FlowHandler { return &alternate{} }},
		{"monitor", func() FlowHandler { return always(Monitor) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			from, to := &memLeg{chunk: chunk, left: b.N}, &memLeg{}
			info := &FlowInfo{ID: 1, Proto: TCP, Start: time.Now()}
			f := s.newTCPFlow(info, FiveTuple{}, bc.fh(), from, to)
			f.pumps.Store(1)
			s.m.tcp.active.Inc()
			b.SetBytes(int64(len(chunk)))
			b.ReportAllocs()
			b.ResetTimer()
			f.pump(ToServer, from, to)
			b.StopTimer()
			require.Equal(b, b.N*len(chunk), to.wrote)
		})
	}
}

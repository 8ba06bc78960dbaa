package netstack

import (
	"context"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	gvports "gvisor.dev/gvisor/pkg/tcpip/ports"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"

	"github.com/interdict/interdict/tunnel/pipe"
)

// fixedDialer dials one host address whatever the client asked for, so a
// client in a private gVisor stack reaches a loopback test server.
type fixedDialer struct{ addr string }

func (d fixedDialer) Dial(ctx context.Context, network string, _, _ netip.AddrPort) (net.Conn, error) {
	var nd net.Dialer
	return nd.DialContext(ctx, network, d.addr)
}

// echoOnceServer answers one byte with the same byte and closes first,
// so the appliance closes the client leg first and it enters TIME_WAIT.
//
// A connection waits for its byte as long as the test runs: a flow held
// open across a phase of the test (TestSYNFloodValidatesFirst's live
// flow, across 20 exchanges under a flood) must not be ended by the
// server, whatever that phase takes on a loaded machine. A deadline of
// 10 s here ended that flow with EOF under -race. The connections are
// closed at cleanup instead.
func echoOnceServer(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var (
		mu     sync.Mutex
		conns  = map[net.Conn]struct{}{}
		closed bool
		wg     sync.WaitGroup
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		closed = true
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if closed {
				mu.Unlock()
				c.Close()
				return
			}
			conns[c] = struct{}{}
			wg.Add(1)
			mu.Unlock()
			go func() {
				defer wg.Done()
				defer func() { mu.Lock(); delete(conns, c); mu.Unlock(); c.Close() }()
				b := make([]byte, 1)
				if _, err := io.ReadFull(c, b); err == nil {
					_, _ = c.Write(b)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// clientStack is a second gVisor stack playing the client, joined to
// the appliance's stack by a pipe link.
func clientStack(t testing.TB, link stack.LinkEndpoint, addr tcpip.Address) *stack.Stack {
	t.Helper()
	cs := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol},
	})
	t.Cleanup(func() { cs.Close(); cs.Wait() })
	require.Nil(t, cs.CreateNIC(1, link))
	require.Nil(t, cs.AddProtocolAddress(1, tcpip.ProtocolAddress{
		Protocol: ipv4.ProtocolNumber, AddressWithPrefix: addr.WithPrefix(),
	}, stack.AddressProperties{}))
	cs.SetRouteTable([]tcpip.Route{{Destination: header.IPv4EmptySubnet, NIC: 1}})
	return cs
}

// exchange connects from src to dst, sends one byte, reads the answer
// and the server's FIN, then closes.
func exchange(t *testing.T, cs *stack.Stack, src, dst tcpip.FullAddress) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := gonet.DialTCPWithBind(ctx, cs, src, dst, ipv4.ProtocolNumber)
	require.NoError(t, err, "connect from %v", src)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = c.Write([]byte{'x'})
	require.NoError(t, err)
	b := make([]byte, 2)
	n, err := io.ReadAtLeast(c, b, 1)
	require.NoError(t, err)
	assert.Equal(t, "x", string(b[:n]))
	_, err = c.Read(b)
	assert.ErrorIs(t, err, io.EOF, "the server's FIN reaches the client")
}

// portFree reports whether the client stack could bind a.Port again.
// gVisor unregisters a closed endpoint before it releases its port, so
// an endpoint that can no longer be found may still hold the port: under
// -race, binding right after the lookup failed with "port is in use".
func portFree(cs *stack.Stack, a tcpip.FullAddress) bool {
	res := gvports.Reservation{
		Networks: []tcpip.NetworkProtocolNumber{ipv4.ProtocolNumber}, Transport: tcp.ProtocolNumber,
		Addr: a.Addr, Port: a.Port,
	}
	if _, err := cs.ReservePort(cs.SecureRNG(), res, nil); err != nil {
		return false
	}
	cs.ReleasePort(res)
	return true
}

// TestSYNReopensTimeWait reconnects from the port of a connection whose
// client leg is still in TIME_WAIT. gVisor alone drops such a SYN until
// TIME_WAIT ends (here one minute); Linux accepts it, and so must the
// appliance.
func TestSYNReopensTimeWait(t *testing.T) {
	applianceLink, clientLink := pipe.New(0)
	s, err := New(WithLink(applianceLink), WithDialer(fixedDialer{echoOnceServer(t)}),
		WithLimits(Limits{TimeWait: time.Minute}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })

	clientAddr := tcpip.AddrFrom4([4]byte{10, 9, 0, 2})
	cs := clientStack(t, clientLink, clientAddr)
	src := tcpip.FullAddress{NIC: 1, Addr: clientAddr, Port: 40000}
	dst := tcpip.FullAddress{Addr: tcpip.AddrFrom4([4]byte{10, 9, 0, 1}), Port: 80}

	exchange(t, cs, src, dst)
	id := stack.TransportEndpointID{LocalPort: dst.Port, LocalAddress: dst.Addr, RemotePort: src.Port, RemoteAddress: src.Addr}
	require.Eventually(t, func() bool {
		ep, ok := s.gs.FindTransportEndpoint(ipv4.ProtocolNumber, tcp.ProtocolNumber, id, clientNIC).(*tcp.Endpoint)
		return ok && ep.EndpointState() == tcp.StateTimeWait
	}, 5*time.Second, 10*time.Millisecond, "the appliance's client leg enters TIME_WAIT")
	// The client's own socket must be gone before its port can be bound
	// again: it closed second, so it has no TIME_WAIT of its own.
	require.Eventually(t, func() bool {
		return portFree(cs, src)
	}, 5*time.Second, 10*time.Millisecond, "the client's socket closed and its port released")

	exchange(t, cs, src, dst)
	assert.Equal(t, 1.0, testutil.ToFloat64(s.m.timeWaitReopened), "reopened TIME_WAIT 4-tuples")
}

// heldCloseDialer dials like fixedDialer, but the first upstream conn's
// Close blocks until release is closed: that flow's relay is then still
// tearing down (its flow-table entry published) after both legs ended.
type heldCloseDialer struct {
	fixedDialer
	release chan struct{}
	first   atomic.Bool
}

type heldConn struct {
	net.Conn
	release chan struct{}
}

func (c heldConn) Close() error { <-c.release; return c.Conn.Close() }

func (d *heldCloseDialer) Dial(ctx context.Context, network string, src, dst netip.AddrPort) (net.Conn, error) {
	c, err := d.fixedDialer.Dial(ctx, network, src, dst)
	if err != nil || d.first.Swap(true) {
		return c, err
	}
	return heldConn{c, d.release}, nil
}

// TestReconnectWhileRelayEnds reconnects from the same port while the
// previous flow's relay has not yet left the flow table. Under -race the
// relay's goroutines ran late often enough that TestSYNReopensTimeWait
// failed 9 times in 100: the new flow was refused as a duplicate and its
// client reset. Here the old relay is held deterministically.
func TestReconnectWhileRelayEnds(t *testing.T) {
	d := &heldCloseDialer{fixedDialer: fixedDialer{echoOnceServer(t)}, release: make(chan struct{})}
	applianceLink, clientLink := pipe.New(0)
	s, err := New(WithLink(applianceLink), WithDialer(d), WithLimits(Limits{TimeWait: time.Minute}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	var once sync.Once
	releaseOld := func() { once.Do(func() { close(d.release) }) }
	t.Cleanup(releaseOld)

	clientAddr := tcpip.AddrFrom4([4]byte{10, 9, 0, 2})
	cs := clientStack(t, clientLink, clientAddr)
	src := tcpip.FullAddress{NIC: 1, Addr: clientAddr, Port: 40001}
	dst := tcpip.FullAddress{Addr: tcpip.AddrFrom4([4]byte{10, 9, 0, 1}), Port: 80}

	exchange(t, cs, src, dst)
	require.Eventually(t, func() bool {
		return portFree(cs, src)
	}, 5*time.Second, 10*time.Millisecond, "the client's socket closed and its port released")
	tuple := FiveTuple{Proto: TCP, Src: netip.MustParseAddrPort("10.9.0.2:40001"), Dst: netip.MustParseAddrPort("10.9.0.1:80")}
	_, ok := s.Flows().Lookup(tuple)
	require.True(t, ok, "the first flow's relay is still ending")

	exchange(t, cs, src, dst)
	releaseOld()
	require.Eventually(t, func() bool {
		_, ok := s.Flows().Lookup(tuple)
		return !ok
	}, 5*time.Second, 10*time.Millisecond, "both flows leave the table")
	assert.Equal(t, 0.0, testutil.ToFloat64(s.m.flowsRejected.WithLabelValues("table_full")), "no flow refused")
}

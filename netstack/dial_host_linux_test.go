//go:build linux

package netstack

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/interdict/interdict/tests/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func sockopts(t *testing.T, c net.Conn) (mark int, dev string) {
	t.Helper()
	sc, ok := c.(syscall.Conn)
	require.True(t, ok)
	raw, err := sc.SyscallConn()
	require.NoError(t, err)
	var gerr error
	require.NoError(t, raw.Control(func(fd uintptr) {
		mark, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK)
		if gerr == nil {
			dev, gerr = unix.GetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE)
		}
	}))
	require.NoError(t, gerr)
	return mark, dev
}

// echoServer listens on loopback and echoes what each connection sends,
// until the test ends.
func echoServer(t *testing.T) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String())
}

func TestHostDialer(t *testing.T) {
	testenv.RequireRoot(t) // SO_MARK needs CAP_NET_ADMIN, SO_BINDTODEVICE CAP_NET_RAW
	tcpDst := echoServer(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { pc.Close() })

	udpDst := netip.MustParseAddrPort(pc.LocalAddr().String())
	src := netip.MustParseAddrPort("10.9.9.9:40000")
	cases := []struct {
		name     string
		d        HostDialer
		network  string
		dst      netip.AddrPort
		wantErr  string
		wantMark int
		wantDev  string
	}{
		{name: "plain", network: "tcp", dst: tcpDst},
		{name: "mark", d: HostDialer{Mark: 0x1d1c}, network: "tcp", dst: tcpDst, wantMark: 0x1d1c},
		{name: "bind-lo", d: HostDialer{BindDevice: "lo"}, network: "tcp", dst: tcpDst, wantDev: "lo"},
		{name: "mark-and-bind", d: HostDialer{Mark: 7, BindDevice: "lo"}, network: "tcp", dst: tcpDst, wantMark: 7, wantDev: "lo"},
		{name: "udp-mark", d: HostDialer{Mark: 0x1d1c}, network: "udp", dst: udpDst, wantMark: 0x1d1c},
		{name: "bind-missing", d: HostDialer{BindDevice: "nosuchdev0"}, network: "tcp", dst: tcpDst, wantErr: "SO_BINDTODEVICE nosuchdev0"},
		{name: "refused", network: "tcp", dst: netip.MustParseAddrPort("127.0.0.1:1"), wantErr: "connection refused"},
		{name: "bad-network", network: "ip", dst: tcpDst, wantErr: "unsupported network"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := tc.d.Dial(ctx, tc.network, src, tc.dst)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.Contains(t, err.Error(), src.String(), "error names the flow")
				return
			}
			require.NoError(t, err)
			defer c.Close()
			mark, dev := sockopts(t, c)
			assert.Equal(t, tc.wantMark, mark)
			assert.Equal(t, tc.wantDev, dev)
			if tc.network == "tcp" {
				_, err = c.Write([]byte("ping"))
				require.NoError(t, err)
				buf := make([]byte, 4)
				_, err = io.ReadFull(c, buf)
				require.NoError(t, err)
				assert.Equal(t, "ping", string(buf))
			}
		})
	}
}

// The relay resets an upstream leg (SO_LINGER 0); the server must see a
// reset, not an orderly close.
func TestHostDialerReset(t *testing.T) {
	testenv.RequireRoot(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	d := HostDialer{Mark: 0x1d1c}
	c, err := d.Dial(context.Background(), "tcp", netip.MustParseAddrPort("10.9.9.9:40000"), netip.MustParseAddrPort(ln.Addr().String()))
	require.NoError(t, err)
	srv, err := ln.Accept()
	require.NoError(t, err)
	defer srv.Close()

	// The relay's own reset of an upstream leg.
	connLeg{c}.abort()

	require.NoError(t, srv.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = srv.Read(make([]byte, 1))
	require.Error(t, err)
	assert.True(t, errors.Is(err, syscall.ECONNRESET), "server saw %v, want connection reset", err)
}

// fullListener listens on loopback with an accept queue of one and fills
// it, so that the kernel drops the next SYN until the queued connection
// is accepted: a connect that stays in flight.
func fullListener(t *testing.T) (dst netip.AddrPort, accept func()) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(fd) })
	require.NoError(t, unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	require.NoError(t, unix.Listen(fd, 0))
	sa, err := unix.Getsockname(fd)
	require.NoError(t, err)
	dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(sa.(*unix.SockaddrInet4).Port))
	first, err := net.DialTimeout("tcp", dst.String(), 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { first.Close() })
	return dst, func() {
		nfd, _, err := unix.Accept(fd)
		require.NoError(t, err)
		t.Cleanup(func() { unix.Close(nfd) })
	}
}

// A handshake still in flight after connect(2) waits on the poller: it
// ends with the context's deadline, or succeeds once the server answers
// a retransmitted SYN.
func TestHostDialerConnectInFlight(t *testing.T) {
	src := netip.MustParseAddrPort("10.9.9.9:40000")
	t.Run("deadline", func(t *testing.T) {
		dst, _ := fullListener(t)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		c, err := (&HostDialer{}).Dial(ctx, "tcp", src, dst)
		if c != nil {
			c.Close()
		}
		require.Error(t, err)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), src.String(), "error names the flow")
	})
	t.Run("cancel", func(t *testing.T) {
		dst, _ := fullListener(t)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		_, err := (&HostDialer{}).Dial(ctx, "tcp", src, dst)
		require.Error(t, err)
		assert.ErrorIs(t, err, context.Canceled)
	})
	t.Run("completes", func(t *testing.T) {
		dst, accept := fullListener(t)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		type result struct {
			c   net.Conn
			err error
		}
		done := make(chan result, 1)
		go func() {
			c, err := (&HostDialer{}).Dial(ctx, "tcp", src, dst)
			done <- result{c, err}
		}()
		// The kernel drops the dial's SYN while the queue is full (the
		// first retransmission is a second later), so the dial waits.
		select {
		case r := <-done:
			t.Fatalf("dial returned while the server's queue was full: %v", r.err)
		case <-time.After(100 * time.Millisecond):
		}
		accept() // the retransmitted SYN is answered
		r := <-done
		require.NoError(t, r.err)
		defer r.c.Close()
		assert.Equal(t, dst.String(), r.c.RemoteAddr().String())
		assert.Equal(t, "127.0.0.1", netip.MustParseAddrPort(r.c.LocalAddr().String()).Addr().String())
	})
}

// The relay propagates a half-close with CloseWrite: the server reads
// EOF and can still answer. Over IPv4, IPv6 and to an IPv4-mapped IPv6
// address (an IPv4 socket).
func TestHostDialerHalfClose(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6", "mapped"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "tcp6" {
				addr = "[::1]:0"
			}
			ln, err := net.Listen(strings.Replace(network, "mapped", "tcp4", 1), addr)
			if network == "tcp6" && err != nil {
				t.Skipf("no IPv6 loopback: %v", err)
			}
			require.NoError(t, err)
			defer ln.Close()
			got := make(chan string, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					got <- err.Error()
					return
				}
				defer c.Close()
				b, _ := io.ReadAll(c) // until the client's FIN
				_, _ = c.Write([]byte("bye"))
				got <- string(b)
			}()
			dst := netip.MustParseAddrPort(ln.Addr().String())
			if network == "mapped" {
				dst = netip.AddrPortFrom(netip.AddrFrom16(dst.Addr().As16()), dst.Port())
			}
			c, err := (&HostDialer{}).Dial(context.Background(), "tcp", netip.MustParseAddrPort("10.9.9.9:40000"), dst)
			require.NoError(t, err)
			defer c.Close()
			_, err = c.Write([]byte("hello"))
			require.NoError(t, err)
			connLeg{c}.closeWrite()
			assert.Equal(t, "hello", <-got)
			require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
			answer, err := io.ReadAll(c)
			require.NoError(t, err)
			assert.Equal(t, "bye", string(answer), "the answer after the half-close arrives, then EOF")
		})
	}
}

// The host dialer's own TCP connect sets the socket options net.Dialer
// sets (TCP_NODELAY, keepalive and its timing) for every KeepAlive
// setting.
func TestHostDialerSocketOptionsMatchNetDialer(t *testing.T) {
	dst := echoServer(t)
	src := netip.MustParseAddrPort("10.9.9.9:40000")
	opts := func(c net.Conn) map[string]int {
		sc, ok := c.(syscall.Conn)
		require.True(t, ok)
		raw, err := sc.SyscallConn()
		require.NoError(t, err)
		got := map[string]int{}
		require.NoError(t, raw.Control(func(fd uintptr) {
			for name, o := range map[string][2]int{
				"TCP_NODELAY":   {unix.IPPROTO_TCP, unix.TCP_NODELAY},
				"SO_KEEPALIVE":  {unix.SOL_SOCKET, unix.SO_KEEPALIVE},
				"TCP_KEEPIDLE":  {unix.IPPROTO_TCP, unix.TCP_KEEPIDLE},
				"TCP_KEEPINTVL": {unix.IPPROTO_TCP, unix.TCP_KEEPINTVL},
				"TCP_KEEPCNT":   {unix.IPPROTO_TCP, unix.TCP_KEEPCNT},
			} {
				v, err := unix.GetsockoptInt(int(fd), o[0], o[1])
				require.NoError(t, err, name)
				got[name] = v
			}
		}))
		return got
	}
	for _, ka := range []time.Duration{0, 30 * time.Second, 1500 * time.Millisecond, -1} {
		t.Run(ka.String(), func(t *testing.T) {
			d := &HostDialer{KeepAlive: ka}
			ours, err := d.dialTCP(context.Background(), src, dst)
			require.NoError(t, err)
			defer ours.Close()
			theirs, err := d.dialNet(context.Background(), "tcp", src, dst)
			require.NoError(t, err)
			defer theirs.Close()
			assert.Equal(t, opts(theirs), opts(ours))
		})
	}
}

//go:build linux

package netstack

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
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

func TestHostDialer(t *testing.T) {
	testenv.RequireRoot(t) // SO_MARK needs CAP_NET_ADMIN, SO_BINDTODEVICE CAP_NET_RAW
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
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { pc.Close() })

	tcpDst := netip.MustParseAddrPort(ln.Addr().String())
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

// The relay resets an upstream leg with SetLinger(0); the server must see
// a reset, not an orderly close.
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

	tc, ok := c.(*net.TCPConn)
	require.True(t, ok, "host dialer conns are *net.TCPConn, which the relay resets with SetLinger(0)")
	require.NoError(t, tc.SetLinger(0))
	require.NoError(t, tc.Close())

	require.NoError(t, srv.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = srv.Read(make([]byte, 1))
	require.Error(t, err)
	assert.True(t, errors.Is(err, syscall.ECONNRESET), "server saw %v, want connection reset", err)
}

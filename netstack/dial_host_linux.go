//go:build linux

package netstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// control sets the loop-prevention options before connect, so even the
// SYN is routed by them.
func (d *HostDialer) control(network, address string, c syscall.RawConn) error {
	if d.Mark == 0 && d.BindDevice == "" {
		return nil
	}
	var serr error
	err := c.Control(func(fd uintptr) { serr = d.setLoopOptions(int(fd)) })
	if err != nil {
		return err
	}
	return serr
}

func (d *HostDialer) setLoopOptions(fd int) error {
	if d.Mark != 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, int(d.Mark)); err != nil {
			return fmt.Errorf("SO_MARK %#x: %w", d.Mark, err)
		}
	}
	if d.BindDevice != "" {
		if err := unix.BindToDevice(fd, d.BindDevice); err != nil {
			return fmt.Errorf("SO_BINDTODEVICE %s: %w", d.BindDevice, err)
		}
	}
	return nil
}

// What net.Dialer sets (net.KeepAliveConfig's defaults): the first probe
// after KeepAlive idle (15 s when zero), then one every 15 s, 9 of them.
const (
	defaultKeepAlive       = 15 * time.Second
	defaultKeepAliveProbes = 9
)

// dialTCP connects a TCP socket to dst with the same options as
// net.Dialer (non-blocking, close-on-exec, TCP_NODELAY, keepalive) plus
// the loop-prevention ones, without the net package's dialer. On a link
// to a local or nearby server the kernel usually completes the whole
// handshake inside connect(2) (the SYN, the server's SYN-ACK and the ACK
// are processed in the caller's softirq); net.Dialer then still parked
// the goroutine until the poller reported the socket writable, armed a
// deadline timer and a context callback, and asked for both addresses,
// which cost about a tenth of the appliance's CPU per connection in
// tests/bench/throughput.sh's connect loop. Here a connected socket is
// recognised at once (getpeername) and only a handshake still in
// flight waits on the poller, bounded by ctx.
func (d *HostDialer) dialTCP(ctx context.Context, src, dst netip.AddrPort) (net.Conn, error) {
	addr := dst.Addr().Unmap()
	if addr.Zone() != "" {
		// A scoped IPv6 address needs its zone resolved to an index;
		// rare enough for the net package's dialer.
		return d.dialNet(ctx, "tcp", src, dst)
	}
	var (
		family int
		sa     unix.Sockaddr
	)
	if addr.Is4() {
		family, sa = unix.AF_INET, &unix.SockaddrInet4{Port: int(dst.Port()), Addr: addr.As4()}
	} else {
		family, sa = unix.AF_INET6, &unix.SockaddrInet6{Port: int(dst.Port()), Addr: addr.As16()}
	}
	fail := func(what string, err error) (net.Conn, error) {
		return nil, fmt.Errorf("dial tcp %s for %s: %s: %w", dst, src, what, err)
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fail("socket", err)
	}
	if err := d.setTCPOptions(fd); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("dial tcp %s for %s: %w", dst, src, err)
	}
	switch err := unix.Connect(fd, sa); err {
	case nil, unix.EINPROGRESS, unix.EINTR, unix.EALREADY:
	default:
		unix.Close(fd)
		return fail("connect", err)
	}
	// The fd is non-blocking, so the file joins the runtime poller.
	f := os.NewFile(uintptr(fd), "tcp "+dst.String())
	c, err := newHostConn(f, dst)
	if err == nil {
		err = c.awaitConnect(ctx)
	}
	if err != nil {
		f.Close()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// The poller's deadline is ctx's, and may fire before
			// ctx's own timer has marked it done.
			err = context.DeadlineExceeded
			if ctx.Err() != nil {
				err = ctx.Err()
			}
		}
		return fail("connect", err)
	}
	return c, nil
}

func (d *HostDialer) setTCPOptions(fd int) error {
	if err := d.setLoopOptions(fd); err != nil {
		return err
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		return fmt.Errorf("TCP_NODELAY: %w", err)
	}
	if d.KeepAlive < 0 {
		return nil
	}
	idle := d.KeepAlive
	if idle == 0 {
		idle = defaultKeepAlive
	}
	secs := func(d time.Duration) int { return max(int((d+time.Second-1)/time.Second), 1) }
	for _, o := range []struct {
		level, opt, v int
		name          string
	}{
		{unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1, "SO_KEEPALIVE"},
		{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, secs(idle), "TCP_KEEPIDLE"},
		{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, secs(defaultKeepAlive), "TCP_KEEPINTVL"},
		{unix.IPPROTO_TCP, unix.TCP_KEEPCNT, defaultKeepAliveProbes, "TCP_KEEPCNT"},
	} {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, o.v); err != nil {
			return fmt.Errorf("%s: %w", o.name, err)
		}
	}
	return nil
}

// awaitConnect returns once the socket is connected, or why it will not
// be.
func (c *hostConn) awaitConnect(ctx context.Context) error {
	var cerr error
	connected := func(fd uintptr) bool {
		if _, err := unix.Getpeername(int(fd)); err == nil {
			return true
		}
		// Not (yet) connected: a pending error ends the wait, no error
		// means the handshake is still in flight.
		switch soerr, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR); {
		case err != nil:
			cerr = err
		case soerr != 0:
			cerr = syscall.Errno(soerr)
		default:
			return false
		}
		return true
	}
	// The common case first: no deadline timer, no context callback.
	var done bool
	if err := c.rc.Control(func(fd uintptr) { done = connected(fd) }); err != nil {
		return err
	}
	if done {
		return cerr
	}
	if dl, ok := ctx.Deadline(); ok {
		if err := c.f.SetWriteDeadline(dl); err != nil {
			return err
		}
	}
	stop := context.AfterFunc(ctx, func() { _ = c.f.SetWriteDeadline(aLongTimeAgo) })
	// Write calls connected again whenever the poller reports the
	// socket writable, which it does once the handshake ended either way.
	err := c.rc.Write(connected)
	if !stop() {
		return ctx.Err()
	}
	if err != nil {
		return err
	}
	if cerr != nil {
		return cerr
	}
	return c.f.SetWriteDeadline(time.Time{})
}

// aLongTimeAgo is a deadline in the past: it wakes a waiting I/O at once.
var aLongTimeAgo = time.Unix(1, 0)

// hostConn is a connected host TCP socket from dialTCP: a net.Conn on an
// *os.File (which reads and writes through the runtime poller), with
// CloseWrite and Abort for the relay.
type hostConn struct {
	f      *os.File
	rc     syscall.RawConn
	remote *net.TCPAddr
}

var (
	_ net.Conn                        = (*hostConn)(nil)
	_ Aborter                         = (*hostConn)(nil)
	_ syscall.Conn                    = (*hostConn)(nil)
	_ interface{ CloseWrite() error } = (*hostConn)(nil)
)

func newHostConn(f *os.File, dst netip.AddrPort) (*hostConn, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &hostConn{f: f, rc: rc, remote: net.TCPAddrFromAddrPort(dst)}, nil
}

// Read implements net.Conn.Read; it returns io.EOF after the peer's FIN.
func (c *hostConn) Read(b []byte) (int, error) { return c.f.Read(b) }

// Write implements net.Conn.Write.
func (c *hostConn) Write(b []byte) (int, error) { return c.f.Write(b) }

// Close implements net.Conn.Close (FIN).
func (c *hostConn) Close() error { return c.f.Close() }

// CloseWrite shuts the sending side down (FIN), as net.TCPConn does.
func (c *hostConn) CloseWrite() error {
	var serr error
	if err := c.rc.Control(func(fd uintptr) { serr = unix.Shutdown(int(fd), unix.SHUT_WR) }); err != nil {
		return err
	}
	return serr
}

// Abort implements Aborter: linger 0 makes the close send RST.
func (c *hostConn) Abort() {
	_ = c.rc.Control(func(fd uintptr) {
		_ = unix.SetsockoptLinger(int(fd), unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	})
	_ = c.f.Close()
}

// LocalAddr implements net.Conn.LocalAddr; it asks the kernel, since
// nothing on the data path needs it.
func (c *hostConn) LocalAddr() net.Addr {
	var a net.Addr = &net.TCPAddr{}
	_ = c.rc.Control(func(fd uintptr) {
		sa, err := unix.Getsockname(int(fd))
		if err != nil {
			return
		}
		switch sa := sa.(type) {
		case *unix.SockaddrInet4:
			a = &net.TCPAddr{IP: sa.Addr[:], Port: sa.Port}
		case *unix.SockaddrInet6:
			a = &net.TCPAddr{IP: sa.Addr[:], Port: sa.Port}
		}
	})
	return a
}

// RemoteAddr implements net.Conn.RemoteAddr.
func (c *hostConn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline implements net.Conn.SetDeadline.
func (c *hostConn) SetDeadline(t time.Time) error { return c.f.SetDeadline(t) }

// SetReadDeadline implements net.Conn.SetReadDeadline.
func (c *hostConn) SetReadDeadline(t time.Time) error { return c.f.SetReadDeadline(t) }

// SetWriteDeadline implements net.Conn.SetWriteDeadline.
func (c *hostConn) SetWriteDeadline(t time.Time) error { return c.f.SetWriteDeadline(t) }

// SyscallConn implements syscall.Conn.
func (c *hostConn) SyscallConn() (syscall.RawConn, error) { return c.rc, nil }

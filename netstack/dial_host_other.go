//go:build !linux

package netstack

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
)

// control refuses the Linux-only options rather than dialing without
// them, which could loop upstream traffic into the appliance's link.
func (d *HostDialer) control(network, address string, c syscall.RawConn) error {
	if d.Mark != 0 || d.BindDevice != "" {
		return errors.New("host dialer: SO_MARK and SO_BINDTODEVICE are Linux-only")
	}
	return nil
}

// dialTCP dials with the net package's dialer; the faster connect is
// Linux-only (dial_host_linux.go).
func (d *HostDialer) dialTCP(ctx context.Context, src, dst netip.AddrPort) (net.Conn, error) {
	return d.dialNet(ctx, "tcp", src, dst)
}

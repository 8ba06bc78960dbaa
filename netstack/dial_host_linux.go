//go:build linux

package netstack

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// control sets the loop-prevention options before connect, so even the
// SYN is routed by them.
func (d *HostDialer) control(network, address string, c syscall.RawConn) error {
	if d.Mark == 0 && d.BindDevice == "" {
		return nil
	}
	var serr error
	err := c.Control(func(fd uintptr) {
		if d.Mark != 0 {
			if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, int(d.Mark)); err != nil {
				serr = fmt.Errorf("SO_MARK %#x: %w", d.Mark, err)
				return
			}
		}
		if d.BindDevice != "" {
			if err := unix.BindToDevice(int(fd), d.BindDevice); err != nil {
				serr = fmt.Errorf("SO_BINDTODEVICE %s: %w", d.BindDevice, err)
			}
		}
	})
	if err != nil {
		return err
	}
	return serr
}

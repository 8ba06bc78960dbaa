//go:build !linux

package netstack

import (
	"errors"
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

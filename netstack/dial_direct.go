package netstack

import (
	"context"
	"fmt"
	"net"
	"net/netip"
)

// DirectDialer dials upstream with the host's own sockets (a plain
// net.Dialer). The client's source address is not kept. Socket options
// such as SO_MARK live in dial_host*.go.
type DirectDialer struct {
	// Dialer is the template; its zero value is fine.
	Dialer net.Dialer
}

// Dial implements Dialer.
func (d *DirectDialer) Dial(ctx context.Context, network string, src, dst netip.AddrPort) (net.Conn, error) {
	c, err := d.Dialer.DialContext(ctx, network, dst.String())
	if err != nil {
		return nil, fmt.Errorf("dial %s %s for %s: %w", network, dst, src, err)
	}
	return c, nil
}

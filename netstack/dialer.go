package netstack

import (
	"context"
	"net"
	"net/netip"
)

// Dialer opens the upstream leg of a flow. The forwarder dials before it
// completes the client's handshake, so a refused or unreachable upstream is
// mirrored to the client (RST, or ICMP unreachable for UDP).
type Dialer interface {
	// Dial connects to dst on behalf of the client src. network is "tcp"
	// or "udp". Implementations must never route the connection back into
	// the appliance's own link (see the host dialer's SO_MARK).
	Dial(ctx context.Context, network string, src, dst netip.AddrPort) (net.Conn, error)
}

// Aborter is implemented by upstream conns that can be reset (RST) rather
// than closed gracefully. *net.TCPConn is reset with SetLinger(0) instead.
type Aborter interface {
	Abort()
}

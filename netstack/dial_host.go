package netstack

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// HostDialer dials the upstream leg with the host's own sockets and keeps
// them out of the appliance's own link. On a host whose routes send
// traffic into the appliance's TUN, an upstream socket routed like any
// other would enter the TUN again and loop. Two socket options prevent
// that (Linux only; elsewhere setting either is an error):
//
//   - Mark sets SO_MARK on every upstream socket. Pair it with a policy
//     rule that routes marked packets around the TUN, placed before the
//     rule or route that sends traffic into it, for example:
//
//     ip rule add pref 100 fwmark 0x1d1c lookup main
//     ip rule add pref 200 to 10.0.0.0/8 lookup 100
//     ip route add default dev interdict0 table 100
//
//     Replies to marked sockets carry no mark, so set rp_filter to 2
//     (loose) or 0 on the egress interface, or strict reverse-path
//     filtering drops them. Needs CAP_NET_ADMIN.
//
//   - BindDevice sets SO_BINDTODEVICE: the socket only uses routes through
//     that interface (the egress NIC), whatever the main table says.
//     Needs CAP_NET_RAW.
//
// UDP conns are *net.UDPConn. TCP conns are reset by the relay with
// SO_LINGER 0: on Linux they implement Aborter, elsewhere they are
// *net.TCPConn.
type HostDialer struct {
	// Mark is the SO_MARK value; 0 sets none.
	Mark uint32
	// BindDevice is the egress interface for SO_BINDTODEVICE; empty sets
	// none.
	BindDevice string
	// KeepAlive is the TCP keepalive period of upstream conns; zero keeps
	// Go's default (15 s), negative disables keepalives.
	KeepAlive time.Duration
}

var _ Dialer = (*HostDialer)(nil)

// Dial implements Dialer. src is the client; it names the flow in errors
// but is not used as the source address (that is the transparent mode).
func (d *HostDialer) Dial(ctx context.Context, network string, src, dst netip.AddrPort) (net.Conn, error) {
	switch network {
	case "tcp", "udp":
	default:
		return nil, fmt.Errorf("dial %s %s for %s: unsupported network", network, dst, src)
	}
	if network == "tcp" {
		return d.dialTCP(ctx, src, dst)
	}
	return d.dialNet(ctx, network, src, dst)
}

// dialNet dials with the net package's dialer.
func (d *HostDialer) dialNet(ctx context.Context, network string, src, dst netip.AddrPort) (net.Conn, error) {
	nd := net.Dialer{KeepAlive: d.KeepAlive, Control: d.control}
	c, err := nd.DialContext(ctx, network, dst.String())
	if err != nil {
		return nil, fmt.Errorf("dial %s %s for %s: %w", network, dst, src, err)
	}
	return c, nil
}

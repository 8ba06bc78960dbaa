package netstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// TransparentDialer dials upstream through the stack's second NIC (see
// WithUpstreamLink) with the client's source address, so the server sees
// the real client. The source port is chosen by the stack.
type TransparentDialer struct{ s *Stack }

// TransparentConn is a TCP conn dialed by TransparentDialer. It keeps the
// raw gVisor endpoint so the relay can reset it (Abort) and wait for
// readability without holding a buffer.
type TransparentConn struct {
	*gonet.TCPConn
	ep tcpip.Endpoint
	wq *waiter.Queue
}

// Abort resets the connection (RST).
func (c *TransparentConn) Abort() { c.ep.Abort() }

func netProto(a netip.Addr) tcpip.NetworkProtocolNumber {
	if a.Is4() {
		return header.IPv4ProtocolNumber
	}
	return header.IPv6ProtocolNumber
}

// Dial implements Dialer.
func (d *TransparentDialer) Dial(ctx context.Context, network string, src, dst netip.AddrPort) (net.Conn, error) {
	if src.Addr().Is4() != dst.Addr().Is4() {
		return nil, fmt.Errorf("transparent dial %s %s for %s: address families differ", network, dst, src)
	}
	local := tcpip.FullAddress{NIC: upstreamNIC, Addr: tcpip.AddrFromSlice(src.Addr().AsSlice())}
	remote := tcpip.FullAddress{NIC: upstreamNIC, Addr: tcpip.AddrFromSlice(dst.Addr().AsSlice()), Port: dst.Port()}
	proto := netProto(dst.Addr())
	switch network {
	case "tcp":
		c, err := d.dialTCP(ctx, local, remote, proto)
		if err != nil {
			return nil, fmt.Errorf("transparent dial tcp %s for %s: %w", dst, src, err)
		}
		return c, nil
	case "udp":
		c, err := gonet.DialUDP(d.s.gs, &local, &remote, proto)
		if err != nil {
			return nil, fmt.Errorf("transparent dial udp %s for %s: %w", dst, src, err)
		}
		return c, nil
	}
	return nil, fmt.Errorf("transparent dial %s: unsupported network", network)
}

// ErrRefused is wrapped by dial errors when the upstream answered RST.
var ErrRefused = errors.New("connection refused")

func (d *TransparentDialer) dialTCP(ctx context.Context, local, remote tcpip.FullAddress, proto tcpip.NetworkProtocolNumber) (*TransparentConn, error) {
	var wq waiter.Queue
	ep, terr := d.s.gs.NewEndpoint(tcp.ProtocolNumber, proto, &wq)
	if terr != nil {
		return nil, errors.New(terr.String())
	}
	entry, ch := waiter.NewChannelEntry(waiter.WritableEvents | waiter.EventHUp | waiter.EventErr)
	wq.EventRegister(&entry)
	defer wq.EventUnregister(&entry)
	if terr := ep.Bind(local); terr != nil {
		ep.Close()
		return nil, fmt.Errorf("bind %v: %s", local.Addr, terr)
	}
	terr = ep.Connect(remote)
	if _, ok := terr.(*tcpip.ErrConnectStarted); ok {
		select {
		case <-ctx.Done():
			ep.Abort()
			ep.Close()
			return nil, ctx.Err()
		case <-ch:
		}
		terr = ep.LastError()
	}
	if terr != nil {
		ep.Close()
		if _, ok := terr.(*tcpip.ErrConnectionRefused); ok {
			return nil, ErrRefused
		}
		return nil, errors.New(terr.String())
	}
	return &TransparentConn{TCPConn: gonet.NewTCPConn(&wq, ep), ep: ep, wq: &wq}, nil
}

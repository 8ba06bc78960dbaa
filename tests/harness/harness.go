package harness

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/interdict/interdict/netstack"
	"github.com/interdict/interdict/tunnel/pipe"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// Addresses of the harness network. The client and server are on
// different prefixes so nothing but the appliance joins them.
var (
	ClientAddr  = netip.MustParseAddr("10.0.0.2")
	ServerAddr  = netip.MustParseAddr("10.99.0.1")
	ClientAddr6 = netip.MustParseAddr("fd00::2")
	ServerAddr6 = netip.MustParseAddr("fd99::1")
)

// Net is one harness network.
type Net struct {
	Client    *stack.Stack
	Server    *stack.Stack
	Appliance *netstack.Stack
}

// New builds client, appliance and server and tears them down when the
// test ends. opts go to netstack.New after the harness's own link
// options.
func New(t testing.TB, opts ...netstack.Option) *Net {
	t.Helper()
	n, err := Build(opts...)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	t.Cleanup(n.Close)
	return n
}

// Build is New without a testing.TB, for benchmarks and tools; the
// caller must Close the Net.
func Build(opts ...netstack.Option) (*Net, error) {
	cliEnd, appCli := pipe.New(0)
	appUp, srvEnd := pipe.New(0)
	client, err := endStack(cliEnd, ClientAddr, ClientAddr6)
	if err != nil {
		return nil, fmt.Errorf("client stack: %w", err)
	}
	server, err := endStack(srvEnd, ServerAddr, ServerAddr6)
	if err != nil {
		closeStack(client)
		return nil, fmt.Errorf("server stack: %w", err)
	}
	all := append([]netstack.Option{netstack.WithLink(appCli), netstack.WithUpstreamLink(appUp), netstack.WithNICName("pipe0")}, opts...)
	app, err := netstack.New(all...)
	if err != nil {
		closeStack(client)
		closeStack(server)
		return nil, fmt.Errorf("appliance stack: %w", err)
	}
	return &Net{Client: client, Server: server, Appliance: app}, nil
}

// endStack is a plain host: one NIC with one address per family and
// default routes through it.
func endStack(ep stack.LinkEndpoint, v4, v6 netip.Addr) (*stack.Stack, error) {
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6},
	})
	if err := s.CreateNIC(1, ep); err != nil {
		closeStack(s)
		return nil, fmt.Errorf("create NIC: %s", err)
	}
	for _, a := range []netip.Addr{v4, v6} {
		proto := header.IPv4ProtocolNumber
		if a.Is6() {
			proto = header.IPv6ProtocolNumber
		}
		pa := tcpip.ProtocolAddress{Protocol: proto, AddressWithPrefix: tcpip.AddrFromSlice(a.AsSlice()).WithPrefix()}
		if err := s.AddProtocolAddress(1, pa, stack.AddressProperties{}); err != nil {
			closeStack(s)
			return nil, fmt.Errorf("add address %s: %s", a, err)
		}
	}
	s.SetRouteTable([]tcpip.Route{
		{Destination: header.IPv4EmptySubnet, NIC: 1},
		{Destination: header.IPv6EmptySubnet, NIC: 1},
	})
	// Short TIME_WAIT on the end hosts too: tests open many flows.
	tw := tcpip.TCPTimeWaitTimeoutOption(100_000_000)
	s.SetTransportProtocolOption(tcp.ProtocolNumber, &tw)
	return s, nil
}

func closeStack(s *stack.Stack) {
	s.Close()
	s.Wait()
}

// Close tears down appliance, client and server.
func (n *Net) Close() {
	_ = n.Appliance.Close()
	closeStack(n.Client)
	closeStack(n.Server)
}

func full(ap netip.AddrPort) (tcpip.FullAddress, tcpip.NetworkProtocolNumber) {
	proto := header.IPv4ProtocolNumber
	if ap.Addr().Is6() {
		proto = header.IPv6ProtocolNumber
	}
	return tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFromSlice(ap.Addr().AsSlice()), Port: ap.Port()}, proto
}

// Listen opens a TCP listener on the server.
func (n *Net) Listen(ap netip.AddrPort) (*gonet.TCPListener, error) {
	fa, proto := full(ap)
	return gonet.ListenTCP(n.Server, fa, proto)
}

// Dial connects from the client to dst (through the appliance).
func (n *Net) Dial(ctx context.Context, dst netip.AddrPort) (*gonet.TCPConn, error) {
	fa, proto := full(dst)
	return gonet.DialContextTCP(ctx, n.Client, fa, proto)
}

// ListenUDP opens a UDP socket on the server.
func (n *Net) ListenUDP(ap netip.AddrPort) (*gonet.UDPConn, error) {
	fa, proto := full(ap)
	return gonet.DialUDP(n.Server, &fa, nil, proto)
}

// DialUDP opens a connected UDP socket on the client.
func (n *Net) DialUDP(dst netip.AddrPort) (*gonet.UDPConn, error) {
	fa, proto := full(dst)
	return gonet.DialUDP(n.Client, nil, &fa, proto)
}

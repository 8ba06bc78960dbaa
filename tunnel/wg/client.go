package wg

import (
	"context"
	"fmt"
	"net/netip"

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

// Client is a WireGuard peer in process with its own small TCP/IP stack:
// `interdict demo` and the tests use it as a runner, with no TUN and no
// privileges. It is a Device like the hub's, with one peer (the hub) and
// a plain gVisor stack holding the client's overlay addresses.
type Client struct {
	dev *Device
	st  *stack.Stack
}

// ClientConfig configures NewClient.
type ClientConfig struct {
	PrivateKey Key
	// Addresses are the client's overlay addresses (from the hub's pool).
	Addresses []netip.Addr
	// HubKey and HubEndpoint are the hub's public key and UDP endpoint.
	HubKey      Key
	HubEndpoint netip.AddrPort
	// AllowedIPs are routed to the hub; empty is everything.
	AllowedIPs   []netip.Prefix
	PresharedKey Key
	MTU          int
}

// NewClient starts a client. Its socket is bound to the loopback address
// of the hub endpoint's family; the handshake happens on first use.
func NewClient(cfg ClientConfig) (*Client, error) {
	if len(cfg.AllowedIPs) == 0 {
		cfg.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}
	}
	local := netip.IPv6Loopback()
	if cfg.HubEndpoint.Addr().Is4() {
		local = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	dev, err := Open(Config{PrivateKey: cfg.PrivateKey, ListenAddr: local, MTU: cfg.MTU})
	if err != nil {
		return nil, fmt.Errorf("wireguard client: %w", err)
	}
	if err := dev.AddPeer(Peer{PublicKey: cfg.HubKey, PresharedKey: cfg.PresharedKey, AllowedIPs: cfg.AllowedIPs, Endpoint: cfg.HubEndpoint}); err != nil {
		dev.Close()
		return nil, fmt.Errorf("wireguard client: %w", err)
	}
	st := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6},
	})
	c := &Client{dev: dev, st: st}
	if err := st.CreateNIC(1, dev); err != nil {
		c.Close()
		return nil, fmt.Errorf("wireguard client: create NIC: %s", err)
	}
	for _, a := range cfg.Addresses {
		proto := header.IPv4ProtocolNumber
		if a.Is6() {
			proto = header.IPv6ProtocolNumber
		}
		pa := tcpip.ProtocolAddress{Protocol: proto, AddressWithPrefix: tcpip.AddrFromSlice(a.AsSlice()).WithPrefix()}
		if err := st.AddProtocolAddress(1, pa, stack.AddressProperties{}); err != nil {
			c.Close()
			return nil, fmt.Errorf("wireguard client: add address %s: %s", a, err)
		}
	}
	st.SetRouteTable([]tcpip.Route{{Destination: header.IPv4EmptySubnet, NIC: 1}, {Destination: header.IPv6EmptySubnet, NIC: 1}})
	return c, nil
}

func fullAddr(ap netip.AddrPort) (tcpip.FullAddress, tcpip.NetworkProtocolNumber) {
	proto := header.IPv4ProtocolNumber
	if ap.Addr().Is6() {
		proto = header.IPv6ProtocolNumber
	}
	return tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFromSlice(ap.Addr().AsSlice()), Port: ap.Port()}, proto
}

// DialTCP connects through the tunnel.
func (c *Client) DialTCP(ctx context.Context, dst netip.AddrPort) (*gonet.TCPConn, error) {
	fa, proto := fullAddr(dst)
	return gonet.DialContextTCP(ctx, c.st, fa, proto)
}

// DialUDP opens a connected UDP socket through the tunnel.
func (c *Client) DialUDP(dst netip.AddrPort) (*gonet.UDPConn, error) {
	fa, proto := fullAddr(dst)
	return gonet.DialUDP(c.st, nil, &fa, proto)
}

// Device is the client's WireGuard device (its counters, its peer).
func (c *Client) Device() *Device { return c.dev }

// Close stops the client: its connections are aborted, the device is
// closed and every goroutine has ended when it returns.
func (c *Client) Close() {
	c.st.Close()
	for id := range c.st.NICInfo() {
		_ = c.st.RemoveNIC(id) // closes the device
	}
	c.dev.Close()
	c.st.Wait()
}

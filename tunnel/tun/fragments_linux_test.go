//go:build linux

package tun

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip/header"

	"github.com/interdict/interdict/netstack"
	"github.com/interdict/interdict/tests/craft"
	"github.com/interdict/interdict/tests/testenv"
)

// loopbackUDP dials every UDP session to one host address.
type loopbackUDP struct{ addr string }

func (d loopbackUDP) Dial(ctx context.Context, network string, _, _ netip.AddrPort) (net.Conn, error) {
	var nd net.Dialer
	return nd.DialContext(ctx, network, d.addr)
}

// sendRaw sends whole IP packets (headers included) from a raw socket in
// the namespace, so the kernel routes them into the TUN unchanged.
func sendRaw(t *testing.T, ns string, v6 bool, dst netip.Addr, pkts [][]byte) {
	t.Helper()
	inNetns(t, ns, func() {
		family := unix.AF_INET
		if v6 {
			family = unix.AF_INET6
		}
		// IPPROTO_RAW implies IP_HDRINCL (and IPV6_HDRINCL).
		fd, err := unix.Socket(family, unix.SOCK_RAW, unix.IPPROTO_RAW)
		if !assert.NoError(t, err) {
			return
		}
		defer unix.Close(fd)
		var sa unix.Sockaddr
		if v6 {
			sa = &unix.SockaddrInet6{Addr: dst.As16()}
		} else {
			sa = &unix.SockaddrInet4{Addr: dst.As4()}
		}
		for _, b := range pkts {
			assert.NoError(t, unix.Sendto(fd, b, 0, sa))
		}
	})
}

// TestFragmentsThroughTUN sends IPv4 and IPv6 fragments from the kernel
// through a real TUN into the stack: a fragmented UDP datagram with a
// wrong checksum is dropped and counted, the same datagram with a right
// one reaches the upstream server byte for byte.
func TestFragmentsThroughTUN(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "ip")
	ns := newNetns(t)
	var (
		dev *Device
		err error
	)
	inNetns(t, ns, func() {
		dev, err = Open(Config{Name: "itun0", Addresses: []netip.Prefix{
			netip.MustParsePrefix("10.99.0.1/24"), netip.MustParsePrefix("fd00:99::1/64"),
		}})
	})
	require.NoError(t, err)

	up, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { up.Close() })
	got := make(chan []byte, 8)
	go func() {
		for {
			b := make([]byte, 65536)
			n, _, err := up.ReadFrom(b)
			if err != nil {
				return
			}
			got <- b[:n]
		}
	}()
	s, err := netstack.New(netstack.WithLink(dev), netstack.WithDialer(loopbackUDP{up.LocalAddr().String()}),
		netstack.WithMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })

	payload := make([]byte, 4000)
	for i := range payload {
		payload[i] = byte(i * 13)
	}
	for i, fam := range []struct {
		name     string
		src, dst netip.AddrPort
	}{
		{"ipv4", netip.MustParseAddrPort("10.99.0.1:5000"), netip.MustParseAddrPort("10.99.0.2:53")},
		{"ipv6", netip.MustParseAddrPort("[fd00:99::1]:5000"), netip.MustParseAddrPort("[fd00:99::2]:53")},
	} {
		t.Run(fam.name, func(t *testing.T) {
			p := craft.Packet{Src: fam.src, Dst: fam.dst, Proto: header.UDPProtocolNumber, Payload: payload, ID: 0x4242}
			bad := p
			bad.BadChecksum = true
			bad.ID++
			sendRaw(t, ns, fam.dst.Addr().Is6(), fam.dst.Addr(), bad.Fragments(1400))
			sendRaw(t, ns, fam.dst.Addr().Is6(), fam.dst.Addr(), p.Fragments(1400))
			select {
			case b := <-got:
				assert.Equal(t, payload, b, "the good datagram, byte for byte")
			case <-time.After(5 * time.Second):
				t.Fatal("the good fragmented datagram never arrived")
			}
			select {
			case b := <-got:
				t.Fatalf("a second datagram (%d bytes) arrived: the corrupted one was relayed", len(b))
			case <-time.After(300 * time.Millisecond):
			}
			assert.EqualValues(t, i+1, s.Guard().Drops()[netstack.DropFragmentChecksum], "corrupted datagrams counted")
		})
	}
	assert.Zero(t, dev.Stats().RxDropped, "the TUN passed the fragments on")
}

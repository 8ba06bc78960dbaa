package replay

import (
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
)

// greWrap puts each raw IP packet of c inside GRE between two tunnel
// endpoints, as a capture taken on the tunnel's underlay shows it.
func greWrap(t *testing.T, c *capture, a, b netip.Addr) {
	t.Helper()
	for i, inner := range c.pkts {
		src, dst := a, b
		if i%2 == 1 {
			src, dst = b, a
		}
		buf := gopacket.NewSerializeBuffer()
		require.NoError(t, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolGRE, SrcIP: net4(src), DstIP: net4(dst)},
			&layers.GRE{Protocol: layers.EthernetTypeIPv4},
			gopacket.Payload(inner)))
		c.pkts[i] = append([]byte(nil), buf.Bytes()...)
		c.cis[i].CaptureLength, c.cis[i].Length = len(c.pkts[i]), len(c.pkts[i])
	}
}

func TestGREInnerFlowIsOneFlow(t *testing.T) {
	c := newCapture(t, layers.LinkTypeRaw).handshake(cli, srv).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "PA", data: "GET / HTTP/1.1\r\n\r\n"}).
		tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1019, flags: "PA", data: "HTTP/1.1 200 OK\r\n\r\n"})
	// The tunnel endpoints alternate independently of the inner flow's
	// direction: only the inner header says who is client and server.
	greWrap(t, c, netip.MustParseAddr("192.168.0.23"), netip.MustParseAddr("192.168.0.20"))
	e := &fakeEngine{}
	_, evs := run(t, c.pcap(), e, Config{})
	require.Len(t, e.flows, 1, "one inner flow, not one per outer address pair")
	assert.Equal(t, "GET / HTTP/1.1\r\n\r\n", e.flows[0].stream(inspect.ToServer))
	assert.Equal(t, "HTTP/1.1 200 OK\r\n\r\n", e.flows[0].stream(inspect.ToClient))
	fl := evs.ofType("flow")
	require.Len(t, fl, 1)
	assert.Equal(t, cli.Addr().String(), fl[0]["src_ip"])
	assert.Equal(t, srv.Addr().String(), fl[0]["dest_ip"])
}

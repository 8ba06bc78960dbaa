package netstack

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gvisor.dev/gvisor/pkg/tcpip/header"

	"github.com/interdict/interdict/tests/craft"
	"github.com/interdict/interdict/tunnel/pipe"
)

// TestProbeListener: a cookie listener answers the drain's sentinel SYN
// (IPv4 and IPv6), and the answer never leaves the appliance.
func TestProbeListener(t *testing.T) {
	applianceLink, clientLink := pipe.New(0)
	rec := recorder{pkts: make(chan []byte, 64)}
	clientLink.Attach(rec)
	s, err := New(WithLink(applianceLink), WithDialer(&countingDialer{}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	s.enterValidateFirst("test")
	for _, dst := range []string{"10.9.0.1", "fd00::1"} {
		p := &parsed{src: netip.MustParseAddr("10.9.0.2"), dst: netip.MustParseAddr(dst), sport: 1000, dport: 80, syn: true}
		s.cookieListener(p)
		assert.True(t, s.probeListener(listenerKey{v6: p.dst.Is6(), port: 80}, time.Now().Add(5*time.Second)), dst)
	}
	// Without a listener on the port nothing answers, and the probe
	// gives up at its deadline.
	assert.False(t, s.probeListener(listenerKey{port: 81}, time.Now().Add(50*time.Millisecond)))
	assert.Empty(t, rec.pkts, "the sentinel's answer left the appliance")
	assert.Nil(t, s.guard.probe.Load())
}

// TestQuietListenerClose: while a listener closes, the RSTs sent from its
// port are dropped and counted; other ports' RSTs, and the port's RSTs
// after the close, go out.
func TestQuietListenerClose(t *testing.T) {
	applianceLink, clientLink := pipe.New(0)
	rec := recorder{pkts: make(chan []byte, 64)}
	clientLink.Attach(rec)
	s, err := New(WithLink(applianceLink), WithDialer(&countingDialer{}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	// An ACK for a connection the stack does not have is answered with
	// RST.
	stray := func(port uint16) []byte {
		return craft.Packet{Src: netip.MustParseAddrPort("10.9.0.2:5000"), Dst: netip.AddrPortFrom(netip.MustParseAddr("10.9.0.1"), port),
			Proto: header.TCPProtocolNumber, Seq: 1, Ack: 1, Flags: header.TCPFlagAck}.Whole()
	}
	rst := func() uint16 {
		select {
		case b := <-rec.pkts:
			tcp := header.TCP(header.IPv4(b).Payload())
			require.NotZero(t, tcp.Flags()&header.TCPFlagRst)
			return tcp.SourcePort()
		case <-time.After(5 * time.Second):
			return 0
		}
	}

	s.guard.quietPort.Store(80 + 1)
	inject(clientLink, [][]byte{stray(80), stray(81)})
	assert.Equal(t, uint16(81), rst(), "another port's RST goes out")
	assert.Equal(t, uint64(1), s.guard.Drops()[DropListenerClose])
	s.guard.quietPort.Store(0)
	inject(clientLink, [][]byte{stray(80)})
	assert.Equal(t, uint16(80), rst())
	assert.Empty(t, rec.pkts)
}

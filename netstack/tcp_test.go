package netstack

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gvisor.dev/gvisor/pkg/tcpip/header"

	"github.com/interdict/interdict/tests/craft"
	"github.com/interdict/interdict/tunnel/pipe"
)

// TestHalfOpenBounded sends a SYN whose client never completes the
// handshake, as a spoofed one: the upstream connection made for it is
// closed and the half-open state is gone after HandshakeTimeout, not
// after gVisor's two minutes of SYN-ACK retransmissions.
func TestHalfOpenBounded(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	closed := make(chan time.Time, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = c.Read(make([]byte, 1))
		closed <- time.Now()
		c.Close()
	}()
	d := &countingDialer{tcp: ln.Addr().String()}
	applianceLink, clientLink := pipe.New(0)
	s, err := New(WithLink(applianceLink), WithDialer(d), WithLimits(Limits{HandshakeTimeout: 300 * time.Millisecond}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })

	start := time.Now()
	inject(clientLink, [][]byte{craft.Packet{
		Src: netip.MustParseAddrPort("10.9.0.2:7000"), Dst: netip.MustParseAddrPort("10.9.0.1:80"),
		Proto: header.TCPProtocolNumber, Seq: 1,
	}.Whole()})
	select {
	case at := <-closed:
		took := at.Sub(start)
		assert.GreaterOrEqual(t, took, 300*time.Millisecond, "the client had its handshake timeout")
		assert.Less(t, took, 3*time.Second, "half-open state ended within the bound")
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream connection of a never-completed handshake stayed open")
	}
	require.Eventually(t, func() bool { return len(s.gs.RegisteredEndpoints()) == 0 }, 5*time.Second, 10*time.Millisecond,
		"no endpoint left in SYN-RCVD")
	assert.EqualValues(t, 1, d.n.Load())
	// Counted after the upstream conn is closed: wait for it.
	assert.Eventually(t, func() bool {
		return testutil.ToFloat64(s.m.flowsTotal.WithLabelValues("tcp", "handshake_failed")) == 1
	}, 5*time.Second, 10*time.Millisecond, "the failed handshake is counted")
}

package replay

import (
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
)

func flowEvent(t *testing.T, evs *events) (flow, tcp map[string]any) {
	t.Helper()
	fl := evs.ofType("flow")
	require.Len(t, fl, 1)
	tcp, _ = fl[0]["tcp"].(map[string]any)
	return fl[0]["flow"].(map[string]any), tcp
}

func TestFlowEventTCPState(t *testing.T) {
	cases := []struct {
		name      string
		capture   func(c *capture) *capture
		midstream bool
		// Expected flow.state, tcp.state ("" = not logged), tcp_flags_ts
		// and tcp_flags_tc.
		state, tcpState, ts, tc string
	}{
		{"lone SYN", func(c *capture) *capture {
			return c.tcp(tcpSeg{src: cli, dst: srv, seq: 1000, flags: "S"})
		}, false, "new", "syn_sent", "02", "00"},
		{"SYN never answered, then data", func(c *capture) *capture {
			return c.tcp(tcpSeg{src: cli, dst: srv, seq: 1000, flags: "S"}).
				tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 7, flags: "PA", data: "GET /"}).
				tcp(tcpSeg{src: cli, dst: srv, seq: 1006, ack: 7, flags: "FA"})
		}, true, "new", "syn_sent", "1b", "00"},
		{"handshake", func(c *capture) *capture { return c.handshake(cli, srv) }, false, "established", "established", "12", "12"},
		{"client closes first", func(c *capture) *capture {
			return c.handshake(cli, srv).
				tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "FA"}).
				tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1002, flags: "A"})
		}, false, "established", "close_wait", "13", "12"},
		{"client closes first, both FINs acknowledged", func(c *capture) *capture {
			return c.handshake(cli, srv).
				tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "FA"}).
				tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1002, flags: "FA"}).
				tcp(tcpSeg{src: cli, dst: srv, seq: 1002, ack: 5002, flags: "A"})
		}, false, "closed", "closed", "13", "13"},
		{"server closes first", func(c *capture) *capture {
			return c.handshake(cli, srv).
				tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1001, flags: "FA"}).
				tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5002, flags: "A"})
		}, false, "established", "fin_wait2", "12", "13"},
		{"server closes first, client answers FIN-ACK", func(c *capture) *capture {
			return c.handshake(cli, srv).
				tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1001, flags: "FA"}).
				tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5002, flags: "FA"})
		}, false, "closed", "time_wait", "13", "13"},
		{"reset", func(c *capture) *capture {
			return c.handshake(cli, srv).tcp(tcpSeg{src: srv, dst: cli, seq: 5001, flags: "R"})
		}, false, "closed", "closed", "12", "16"},
		{"mid-stream pickup", func(c *capture) *capture {
			return c.tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "PA", data: "GET /"}).
				tcp(tcpSeg{src: cli, dst: srv, seq: 1006, ack: 5001, flags: "FA"})
		}, true, "established", "close_wait", "19", "00"},
		{"mid-stream without pickup: no session", func(c *capture) *capture {
			return c.tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "PA", data: "GET /"})
		}, false, "new", "", "00", "00"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.capture(newCapture(t, layers.LinkTypeEthernet))
			_, evs := run(t, c.pcap(), &fakeEngine{}, Config{Midstream: tc.midstream})
			fl, tcp := flowEvent(t, evs)
			assert.Equal(t, tc.state, fl["state"])
			require.NotNil(t, tcp)
			assert.Equal(t, tc.ts, tcp["tcp_flags_ts"])
			assert.Equal(t, tc.tc, tcp["tcp_flags_tc"])
			if tc.tcpState == "" {
				assert.NotContains(t, tcp, "state")
				assert.NotContains(t, tcp, "ts_max_regions")
			} else {
				assert.Equal(t, tc.tcpState, tcp["state"])
				assert.EqualValues(t, 1, tcp["ts_max_regions"])
			}
		})
	}
}

func TestDataAfterUnansweredSYNIsNotInspected(t *testing.T) {
	c := newCapture(t, layers.LinkTypeEthernet).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1000, flags: "S"}).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 7, flags: "PA", data: "GET /"})
	e := &fakeEngine{}
	run(t, c.pcap(), e, Config{Midstream: true})
	for _, f := range e.flows {
		assert.Empty(t, f.stream(inspect.ToServer))
	}
}

func TestFlowAgeSubtractsSeconds(t *testing.T) {
	c := newCapture(t, layers.LinkTypeEthernet).handshake(cli, srv)
	// 23.9 s to 33.2 s: 9.3 s apart, but Suricata's age is 33 - 23.
	base := time.Date(2011, 1, 25, 18, 52, 23, 900_000_000, time.UTC)
	c.cis[0].Timestamp = base
	c.cis[1].Timestamp = base.Add(time.Second)
	c.cis[2].Timestamp = base.Add(9300 * time.Millisecond)
	_, evs := run(t, c.pcap(), &fakeEngine{}, Config{})
	fl, _ := flowEvent(t, evs)
	assert.EqualValues(t, 10, fl["age"])
}

func TestMaxRegionsCountsOutOfOrderData(t *testing.T) {
	c := newCapture(t, layers.LinkTypeEthernet).handshake(cli, srv).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1011, ack: 5001, flags: "PA", data: "later"}).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1021, ack: 5001, flags: "PA", data: "last"}).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "PA", data: "0123456789"}).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1016, ack: 5001, flags: "PA", data: "01234"})
	e := &fakeEngine{}
	_, evs := run(t, c.pcap(), e, Config{})
	require.Len(t, e.flows, 1)
	assert.Equal(t, "0123456789later01234last", e.flows[0].stream(inspect.ToServer))
	_, tcp := flowEvent(t, evs)
	assert.EqualValues(t, 3, tcp["ts_max_regions"], "delivered data, then two disjoint pending runs")
	assert.EqualValues(t, 1, tcp["tc_max_regions"])
	assert.NotContains(t, tcp, "ts_gap")
}

// Data carried by a RST is not part of the stream; what the RST
// acknowledges of the other side still is.
func TestRSTDataIsNotStream(t *testing.T) {
	c := newCapture(t, layers.LinkTypeEthernet).handshake(cli, srv).
		tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1001, flags: "PA", data: "Please Let Me In!"}).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5018, flags: "RA", data: "Access Denied"})
	e := &fakeEngine{}
	run(t, c.pcap(), e, Config{})
	require.Len(t, e.flows, 1)
	assert.Empty(t, e.flows[0].stream(inspect.ToServer))
	assert.Equal(t, "Please Let Me In!", e.flows[0].stream(inspect.ToClient))
}

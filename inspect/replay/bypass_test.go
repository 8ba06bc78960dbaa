package replay

import (
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
)

// TestBypassSkipsLaterPackets: once a bypass rule matched, the flow's
// later packets are counted but neither inspected nor flushed at the
// end, and the flow event says bypassed (local), as Suricata's.
func TestBypassSkipsLaterPackets(t *testing.T) {
	e := bypassEngine()
	c := newCapture(t, layers.LinkTypeEthernet).handshake(cli, srv).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "PA", data: "GET /video\r\n"}).
		tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1013, flags: "PA", data: "EVIL response"}).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1013, ack: 5014, flags: "PA", data: "EVIL request"})
	sum, evs := run(t, c.pcap(), e, Config{StreamInline: true})
	assert.Equal(t, map[uint32]uint64{1: 1}, sum.AlertsBySID, "nothing after the bypass is inspected")
	require.Len(t, e.flows, 1)
	assert.Equal(t, "GET /video\r\n", e.flows[0].stream(inspect.ToServer))
	assert.Empty(t, e.flows[0].stream(inspect.ToClient))
	assert.Zero(t, e.flows[0].closes, "a bypassed flow is not flushed at its end")
	flows := evs.ofType("flow")
	require.Len(t, flows, 1)
	fl := flows[0]["flow"].(map[string]any)
	assert.Equal(t, "bypassed", fl["state"])
	assert.Equal(t, "local", fl["bypass"])
	assert.EqualValues(t, 4, fl["pkts_toserver"], "bypassed packets are still counted")
}

// TestBypassAtFlowEnd: bytes that waited for their acknowledgement are
// flushed together at the flow's end (Suricata's pseudo packets), so a
// bypass decided on one direction's flush does not skip the other's.
func TestBypassAtFlowEnd(t *testing.T) {
	e := bypassEngine()
	c := newCapture(t, layers.LinkTypeEthernet).handshake(cli, srv).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "PA", data: "GET /video\r\n"}).
		tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1001, flags: "PA", data: "EVIL response"})
	sum, evs := run(t, c.pcap(), e, Config{})
	assert.Equal(t, map[uint32]uint64{1: 1, 2: 1}, sum.AlertsBySID)
	flows := evs.ofType("flow")
	require.Len(t, flows, 1)
	assert.Equal(t, "bypassed", flows[0]["flow"].(map[string]any)["state"])
}

// bypassEngine has a bypass rule on "/video" and a plain one on "EVIL".
func bypassEngine() *fakeEngine {
	return &fakeEngine{rules: []fakeRule{
		{content: "/video", info: &inspect.RuleInfo{SID: 1, Action: inspect.ActionAlert, Bypass: true}},
		{content: "EVIL", info: &inspect.RuleInfo{SID: 2, Action: inspect.ActionAlert}},
	}}
}

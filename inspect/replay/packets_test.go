package replay

import (
	"bytes"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
)

// pktEngine makes flows that record the packets announced to them and
// answer EndPacket with end (once per call) when it is set.
type pktEngine struct {
	flows []*pktFlow
	end   func(p pktCall) inspect.Result
}

type pktCall struct {
	dir     inspect.Direction
	payload int
	est     bool
}

type pktFlow struct {
	fakeFlow
	e      *pktEngine
	pkts   []pktCall
	counts [][2]uint64
	cur    pktCall
}

func (e *pktEngine) NewFlow(meta inspect.FlowMeta) inspect.FlowInspector {
	f := &pktFlow{fakeFlow: fakeFlow{e: &fakeEngine{}, meta: meta}, e: e}
	e.flows = append(e.flows, f)
	return f
}

func (f *pktFlow) BeginPacket(p inspect.Packet) {
	f.cur = pktCall{p.Dir, p.Payload, p.Established}
	f.pkts = append(f.pkts, f.cur)
	f.counts = append(f.counts, p.Pkts)
}

func (f *pktFlow) EndPacket() inspect.Result {
	if f.e.end != nil {
		return f.e.end(f.cur)
	}
	return inspect.Result{}
}

func TestPacketsAreAnnounced(t *testing.T) {
	c := newCapture(t, layers.LinkTypeEthernet).handshake(cli, srv).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "PA", data: "GET /"}).
		tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1006, flags: "A"}).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1006, ack: 5001, flags: "FA"})
	e := &pktEngine{}
	sum, err := Run(bytes.NewReader(c.pcap()), e, Config{})
	require.NoError(t, err)
	require.EqualValues(t, 1, sum.Flows)
	require.Len(t, e.flows, 1)
	f := e.flows[0]
	assert.True(t, f.meta.Packets)
	assert.Equal(t, []pktCall{
		{inspect.ToServer, 0, false}, // SYN
		{inspect.ToClient, 0, false}, // SYN-ACK
		{inspect.ToServer, 0, false}, // the ACK that completes the handshake
		{inspect.ToServer, 5, true},
		{inspect.ToClient, 0, true},
		{inspect.ToServer, 0, true},
	}, f.pkts)
	assert.Equal(t, "GET /", f.stream(inspect.ToServer))
	assert.Equal(t, [][2]uint64{{1, 0}, {1, 1}, {2, 1}, {3, 1}, {3, 2}, {4, 2}}, f.counts, "packets so far, each included")
}

// A drop that a rate_filter caused is logged with Suricata's reason.
func TestRateFilteredDropReason(t *testing.T) {
	drop := &inspect.RuleInfo{GID: 1, SID: 7, Action: inspect.ActionDrop}
	e := &pktEngine{end: func(p pktCall) inspect.Result {
		if !p.est {
			return inspect.Result{}
		}
		return inspect.Result{Action: inspect.ActionDrop, Alerts: []inspect.Alert{{Rule: drop, Dir: p.dir, RateFiltered: true}}}
	}}
	c := newCapture(t, layers.LinkTypeEthernet).handshake(cli, srv).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "A"}).
		tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1001, flags: "A"})
	evs := &events{}
	_, err := Run(bytes.NewReader(c.pcap()), e, Config{Mode: ModeIPS, Events: evs})
	require.NoError(t, err)
	drops := evs.ofType("drop")
	require.Len(t, drops, 2)
	assert.Equal(t, "threshold detection_filter", drops[0]["drop"].(map[string]any)["reason"])
	assert.Equal(t, "flow drop", drops[1]["drop"].(map[string]any)["reason"])
	al := evs.ofType("alert")
	require.Len(t, al, 1)
	assert.Equal(t, "blocked", al[0]["alert"].(map[string]any)["action"])
}

// With DropStart a dropped flow's later packets are logged once per
// direction; the packet the rule dropped is always logged.
func TestDropStartLogsOncePerDirection(t *testing.T) {
	drop := &inspect.RuleInfo{GID: 1, SID: 7, Action: inspect.ActionDrop}
	e := &fakeEngine{rules: []fakeRule{{content: "bad", info: drop}}}
	c := newCapture(t, layers.LinkTypeEthernet).handshake(cli, srv).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "PA", data: "bad"}).
		tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1004, flags: "A"}).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1004, ack: 5001, flags: "PA", data: "more"}).
		tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1008, flags: "PA", data: "reply"}).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1008, ack: 5006, flags: "A"})
	for _, tc := range []struct {
		start bool
		want  []string // drop reasons in order
	}{
		{false, []string{"rules", "flow drop", "flow drop", "flow drop", "flow drop"}},
		{true, []string{"rules", "flow drop"}},
	} {
		_, evs := run(t, c.pcap(), e, Config{Mode: ModeIPS, DropStart: tc.start})
		var got []string
		for _, d := range evs.ofType("drop") {
			got = append(got, d["drop"].(map[string]any)["reason"].(string))
		}
		assert.Equal(t, tc.want, got, "DropStart %v", tc.start)
	}
}

// In ids mode a direction's bytes wait until the other side sent a
// packet (Suricata's IDS reassembly follows acknowledgements), or the
// flow's end, whose events name no packet; their alerts are logged with
// the direction's next packet (Suricata inspects a packet's own
// direction), else at the flow's end. AsyncOneside and ips mode inspect
// them at once.
func TestOneSidedBytesWait(t *testing.T) {
	alert := &inspect.RuleInfo{GID: 1, SID: 3, Action: inspect.ActionAlert}
	oneSided := newCapture(t, layers.LinkTypeEthernet).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "PA", data: "GET /"}).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1006, ack: 5001, flags: "A"})
	twoSided := newCapture(t, layers.LinkTypeEthernet).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "PA", data: "GET /"}).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1006, ack: 5001, flags: "A"}).
		tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1006, flags: "A"})
	twoSidedMore := newCapture(t, layers.LinkTypeEthernet).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "PA", data: "GET /"}).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1006, ack: 5001, flags: "A"}).
		tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1006, flags: "A"}).
		tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1006, flags: "A"}).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1006, ack: 5001, flags: "A"})
	cases := []struct {
		name    string
		pcap    []byte
		cfg     Config
		pcapCnt any // of the alert; nil: none
	}{
		{"one-sided ids: at the end", oneSided.pcap(), Config{Midstream: true}, nil},
		{"async-oneside: at once", oneSided.pcap(), Config{Midstream: true, AsyncOneside: true}, 1.0},
		{"ips: at once", oneSided.pcap(), Config{Midstream: true, Mode: ModeIPS}, 1.0},
		{"two-sided ids: acknowledged, no later packet of its side: at the end", twoSided.pcap(), Config{Midstream: true}, nil},
		{"two-sided ids: at its side's next packet", twoSidedMore.pcap(), Config{Midstream: true}, 5.0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := &fakeEngine{rules: []fakeRule{{content: "GET", info: alert}}}
			_, evs := run(t, tc.pcap, e, tc.cfg)
			al := evs.ofType("alert")
			require.Len(t, al, 1)
			assert.Equal(t, tc.pcapCnt, al[0]["pcap_cnt"])
		})
	}
}

// In ids mode bytes are delivered as far as the receiver acknowledged
// them, a segment split at the acknowledgement; stream.inline delivers
// them as they arrive.
func TestBytesFollowAcknowledgements(t *testing.T) {
	c := newCapture(t, layers.LinkTypeEthernet).handshake(cli, srv).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "PA", data: "0123456789"}).
		tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1005, flags: "A"}).
		tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1011, flags: "A"})
	for _, tc := range []struct {
		name string
		cfg  Config
		want []call
	}{
		{"ids", Config{}, []call{{inspect.ToServer, "0123"}, {inspect.ToServer, "456789"}}},
		{"stream.inline", Config{StreamInline: true}, []call{{inspect.ToServer, "0123456789"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &fakeEngine{}
			run(t, c.pcap(), e, tc.cfg)
			require.Len(t, e.flows, 1)
			assert.Equal(t, tc.want, e.flows[0].calls)
		})
	}
}

// An acknowledgement past a hole (bytes the capture lost) does not skip
// it: the bytes after it wait as before, for the hole or the flow's end.
func TestAcknowledgedHoleWaits(t *testing.T) {
	c := newCapture(t, layers.LinkTypeEthernet).handshake(cli, srv).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "PA", data: "0123456789"}).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1016, ack: 5001, flags: "PA", data: "later"}).
		tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1018, flags: "A"})
	e := &fakeEngine{}
	sum, _ := run(t, c.pcap(), e, Config{})
	require.Len(t, e.flows, 1)
	assert.Equal(t, []call{{inspect.ToServer, "0123456789"}, {inspect.ToServer, "later"}}, e.flows[0].calls)
	assert.EqualValues(t, 1, sum.Gaps)
}

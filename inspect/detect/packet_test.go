package detect

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
	"github.com/interdict/interdict/inspect/rules"
)

// pkt is one TCP packet as replay reports it: direction, payload and
// Suricata's per-packet established state.
type pkt struct {
	dir  inspect.Direction
	data string
	est  bool
}

// handshake is SYN, SYN-ACK, ACK: none of them established.
var handshake = []pkt{{inspect.ToServer, "", false}, {inspect.ToClient, "", false}, {inspect.ToServer, "", false}}

// runPackets feeds packets to a flow reporting packets and returns each
// packet's Result.
func runPackets(t *testing.T, e *Engine, pkts []pkt) []inspect.Result {
	t.Helper()
	return runPacketsOn(t, e, tcpMeta, pkts)
}

// runPacketsOn is runPackets on a flow described by meta.
func runPacketsOn(t *testing.T, e *Engine, meta inspect.FlowMeta, pkts []pkt) []inspect.Result {
	t.Helper()
	meta.Packets = true
	f := e.NewFlow(meta)
	pi, ok := f.(inspect.PacketInspector)
	require.True(t, ok)
	out := make([]inspect.Result, len(pkts))
	for i, p := range pkts {
		pi.BeginPacket(inspect.Packet{Dir: p.dir, Payload: len(p.data), Established: p.est})
		var res inspect.Result
		if p.data != "" {
			res = f.Inspect(p.dir, []byte(p.data))
		}
		end := pi.EndPacket()
		res.Alerts = append(res.Alerts, end.Alerts...)
		if end.Action != inspect.ActionNone {
			res.Action = end.Action
		}
		out[i] = res
	}
	return out
}

// sidsOf returns the sids each Result logs as alerts.
func sidsOf(rs []inspect.Result) [][]uint32 {
	out := make([][]uint32, len(rs))
	for i, r := range rs {
		for _, a := range r.Alerts {
			if a.Logged() {
				out[i] = append(out[i], a.Rule.SID)
			}
		}
	}
	return out
}

func TestPacketRules(t *testing.T) {
	data := []pkt{{inspect.ToServer, "GET / HTTP/1.0\r\n\r\n", true}, {inspect.ToClient, "", true}, {inspect.ToClient, "HTTP/1.0 200 OK\r\n\r\n", true}}
	cases := []struct {
		name, rule string
		want       [][]uint32 // per packet: handshake then data
	}{
		{"IP-only: first packet of each direction", `alert tcp any any -> any any (msg:"t"; sid:1;)`,
			[][]uint32{{1}, {1}, nil, nil, nil, nil}},
		{"flow keyword: every matching packet", `alert tcp any any -> any any (msg:"t"; flow:established; sid:1;)`,
			[][]uint32{nil, nil, nil, {1}, {1}, {1}}},
		{"not_established: the handshake", `alert tcp any any -> any any (msg:"t"; flow:not_established; sid:1;)`,
			[][]uint32{{1}, {1}, {1}, nil, nil, nil}},
		{"dsize of each packet", `alert tcp any any -> any any (msg:"t"; dsize:0; sid:1;)`,
			[][]uint32{{1}, {1}, {1}, nil, {1}, nil}},
		{"dsize < matches empty packets", `alert tcp any any -> any any (msg:"t"; dsize:<5; sid:1;)`,
			[][]uint32{{1}, {1}, {1}, nil, {1}, nil}},
		{"dsize != needs a payload", `alert tcp any any -> any any (msg:"t"; dsize:!18; sid:1;)`,
			[][]uint32{nil, nil, nil, nil, nil, {1}}},
		{"dsize >= needs a payload", `alert tcp any any -> any any (msg:"t"; dsize:>=0; sid:1;)`,
			[][]uint32{nil, nil, nil, {1}, nil, {1}}},
		{"content rules stay on the stream", `alert tcp any any -> any any (msg:"t"; content:"200"; sid:1;)`,
			[][]uint32{nil, nil, nil, nil, nil, {1}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := mustEngine(t, tc.rule, Options{})
			assert.Equal(t, tc.want, sidsOf(runPackets(t, e, append(append([]pkt(nil), handshake...), data...))))
		})
	}
}

// A contentless http rule matches every packet once the protocol is
// known, from the packet that revealed it on.
func TestPacketRuleNeedsAppProto(t *testing.T) {
	e := mustEngine(t, `alert http any any -> any any (msg:"t"; sid:1;)`, Options{Protos: []applayer.Proto{fakeProto}})
	got := sidsOf(runPackets(t, e, append(append([]pkt(nil), handshake...),
		pkt{inspect.ToServer, "GET /x\n", true}, pkt{inspect.ToClient, "", true}, pkt{inspect.ToServer, "", true})))
	assert.Equal(t, [][]uint32{nil, nil, nil, {1}, {1}, {1}}, got)
}

// A pass from a rule with per-packet conditions passes that packet (the
// alerts ranked after it are dropped) but not the flow; an IP-only pass
// passes the flow.
func TestPacketPassScope(t *testing.T) {
	t.Run("packet", func(t *testing.T) {
		e := mustEngine(t, `pass tcp any any -> any any (msg:"hs"; flow:not_established; sid:1;)
drop tcp any any -> any any (msg:"d"; flow:established; sid:2;)`, Options{})
		rs := runPackets(t, e, append(append([]pkt(nil), handshake...), pkt{inspect.ToServer, "x", true}))
		for _, r := range rs[:3] {
			assert.NotEqual(t, inspect.ActionPass, r.Action, "only the packet is passed")
		}
		assert.Equal(t, inspect.ActionDrop, rs[3].Action, "the flow is still inspected")
	})
	t.Run("flow", func(t *testing.T) {
		e := mustEngine(t, `pass tcp any any -> any any (msg:"ip"; sid:1;)
drop tcp any any -> any any (msg:"d"; flow:established; sid:2;)`, Options{})
		rs := runPackets(t, e, append(append([]pkt(nil), handshake...), pkt{inspect.ToServer, "x", true}))
		assert.Equal(t, inspect.ActionPass, rs[0].Action)
		assert.Empty(t, rs[3].Alerts, "a passed flow is not inspected")
	})
}

// Rules a packet matches on the packet and on its bytes compete in one
// Result under the action order.
func TestPacketAndStreamRulesShareOneResult(t *testing.T) {
	order, err := ParseActionOrder([]string{"drop", "alert", "reject", "pass"})
	require.NoError(t, err)
	e := mustEngine(t, `alert tcp any any -> any any (msg:"ip"; sid:1;)
pass tcp any any -> any any (msg:"p"; content:"Hi"; sid:2;)
drop tcp any any -> any any (msg:"d"; sid:3;)`, Options{ActionOrder: order})
	rs := runPackets(t, e, []pkt{{inspect.ToServer, "Hi all", false}})
	assert.Equal(t, inspect.ActionDrop, rs[0].Action)
	assert.ElementsMatch(t, []uint32{1, 3}, sidsOf(rs)[0], "pass is ranked after alert and drop; it logs nothing")
}

func TestRateFilter(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	load := func(line string) *rules.ThresholdConfig {
		tc, err := rules.LoadThresholds(strings.NewReader(line), "threshold.config")
		require.NoError(t, err)
		return tc
	}
	rule := `alert tcp any any -> any any (msg:"t"; content:"hit"; sid:9;)`
	hit := func(e *Engine, dir inspect.Direction) inspect.Alert {
		f := e.NewFlow(tcpMeta) // rate filters count across flows
		res := f.Inspect(dir, []byte("hit"))
		require.Len(t, res.Alerts, 1)
		return res.Alerts[0]
	}
	t.Run("new action after count, until timeout", func(t *testing.T) {
		e := mustEngine(t, rule, Options{Now: clock, Thresholds: load("rate_filter gen_id 1, sig_id 9, track by_rule, count 2, seconds 60, new_action drop, timeout 10\n")})
		var acts []inspect.Action
		var rated []bool
		for _, step := range []time.Duration{0, 1, 1, 1, 10, 1, 1} {
			now = now.Add(step * time.Second)
			a := hit(e, inspect.ToServer)
			acts = append(acts, a.Rule.Action)
			rated = append(rated, a.RateFiltered)
		}
		d, al := inspect.ActionDrop, inspect.ActionAlert
		// Matches 1-2 alert; the 3rd starts drop at t=2; it holds while
		// at most 10 s passed (t=3; t=13 is 11 s: it ends, and that
		// match counts nowhere). The window opened at t=0 still runs
		// (60 s) and has seen more than 2, so t=14 starts drop again.
		assert.Equal(t, []inspect.Action{al, al, d, d, al, d, d}, acts)
		assert.Equal(t, []bool{false, false, true, true, false, true, true}, rated)
	})
	t.Run("by_both counts a pair in both directions", func(t *testing.T) {
		e := mustEngine(t, rule, Options{Now: clock, Thresholds: load("rate_filter gen_id 1, sig_id 9, track by_both, count 1, seconds 60, new_action pass, timeout 10\n")})
		assert.Equal(t, inspect.ActionAlert, hit(e, inspect.ToServer).Rule.Action)
		assert.Equal(t, inspect.ActionPass, hit(e, inspect.ToClient).Rule.Action, "the reply is the same pair")
	})
}

// app-layer-protocol:!x matches only once the protocol is decided and is
// not x; as the rule's only condition (PD-only) it matches on the packet
// that decided it, not on every packet.
func TestNegatedAppProtocol(t *testing.T) {
	protos := []applayer.Proto{fakeProto}
	flow := append(append([]pkt(nil), handshake...),
		pkt{inspect.ToServer, "GET /x\n", true}, pkt{inspect.ToClient, "", true}, pkt{inspect.ToClient, "200\n", true})
	cases := []struct {
		name, rule string
		want       [][]uint32
	}{
		{"PD-only: the deciding packet", `alert tcp any any -> any any (msg:"t"; app-layer-protocol:!tls; sid:1;)`,
			[][]uint32{nil, nil, nil, {1}, nil, nil}},
		{"the flow's own protocol never", `alert tcp any any -> any any (msg:"t"; app-layer-protocol:!http; sid:1;)`,
			[][]uint32{nil, nil, nil, nil, nil, nil}},
		{"with a flow condition: every packet after", `alert tcp any any -> any any (msg:"t"; flow:established; app-layer-protocol:!tls; sid:1;)`,
			[][]uint32{nil, nil, nil, {1}, {1}, {1}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := mustEngine(t, tc.rule, Options{Protos: protos})
			assert.Equal(t, tc.want, sidsOf(runPackets(t, e, flow)))
		})
	}
}

// Without packets (the live path) a pass rule with per-packet conditions
// fires once per direction, so it passes the flow.
func TestPacketPassScopeWithoutPackets(t *testing.T) {
	e := mustEngine(t, `pass tcp any any -> any any (msg:"p"; flow:to_server; sid:1;)
drop tcp any any -> any any (msg:"d"; content:"EVIL"; sid:2;)`, Options{})
	f := e.NewFlow(tcpMeta)
	assert.Equal(t, inspect.ActionPass, f.Inspect(inspect.ToServer, []byte("hello")).Action)
	assert.Empty(t, f.Inspect(inspect.ToServer, []byte("EVIL")).Alerts, "the flow was passed")
}

// flow.pkts and flow.bytes need packets: refused on the live path, and
// with packets they read the counts BeginPacket reports.
func TestFlowCounts(t *testing.T) {
	const rule = `alert tcp any any -> any any (msg:"t"; flow.pkts:toserver,=3; sid:1;)`
	set := &rules.Set{}
	require.NoError(t, set.Load(strings.NewReader(rule), "test.rules", nil))
	e, err := New(set.Rules, Options{Protos: []applayer.Proto{}})
	require.NoError(t, err)
	require.Len(t, e.Rejected(), 1)
	assert.Contains(t, e.Rejected()[0].Reason, "only replay sees")

	e = mustEngine(t, rule, Options{Packets: true})
	meta := tcpMeta
	meta.Packets = true
	f := e.NewFlow(meta).(*Flow)
	var got []int
	for i, p := range []inspect.Packet{
		{Dir: inspect.ToServer, Pkts: [2]uint64{1, 0}},
		{Dir: inspect.ToClient, Pkts: [2]uint64{1, 1}},
		{Dir: inspect.ToServer, Pkts: [2]uint64{2, 1}},
		{Dir: inspect.ToServer, Pkts: [2]uint64{3, 1}, Established: true},
		{Dir: inspect.ToClient, Pkts: [2]uint64{3, 2}, Established: true},
		{Dir: inspect.ToServer, Pkts: [2]uint64{4, 2}, Established: true},
	} {
		f.BeginPacket(p)
		if len(f.EndPacket().Alerts) > 0 {
			got = append(got, i)
		}
	}
	assert.Equal(t, []int{3, 4}, got, "while three packets went to the server")
}

func TestThresholdBackoffSequence(t *testing.T) {
	e := mustEngine(t, `alert tcp any any -> any any (msg:"t"; flow:to_server; threshold:type backoff, track by_flow, count 2, multiplier 3; sid:1;)`, Options{})
	var pkts []pkt
	for range 20 {
		pkts = append(pkts, pkt{inspect.ToServer, "", true})
	}
	var got []int
	for i, sids := range sidsOf(runPackets(t, e, pkts)) {
		if len(sids) > 0 {
			got = append(got, i+1)
		}
	}
	assert.Equal(t, []int{2, 6, 18}, got, "the 2nd match, then each 3 times further")
	// Counted per flow: another flow starts again at 1.
	other := tcpMeta
	other.ID = 2
	assert.Equal(t, [][]uint32{nil, {1}}, sidsOf(runPacketsOn(t, e, other, pkts[:2])))
}

package replay

import (
	"bytes"
	"encoding/binary"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
	"github.com/interdict/interdict/inspect/eve"
)

var (
	ruleDrop  = &inspect.RuleInfo{GID: 1, SID: 10, Rev: 1, Msg: "evil", Action: inspect.ActionDrop, Category: "Misc", Severity: 2}
	ruleAlert = &inspect.RuleInfo{GID: 1, SID: 20, Rev: 2, Msg: "note", Action: inspect.ActionAlert, Severity: 3}
	rulePass  = &inspect.RuleInfo{GID: 1, SID: 30, Msg: "trusted", Action: inspect.ActionPass}
)

// TestCaptureOrderAcrossDirections: the engine must see a request before
// its response and each direction in order, as the capture interleaves
// them, in every supported file format and link type.
func TestCaptureOrderAcrossDirections(t *testing.T) {
	for _, tt := range []struct {
		name   string
		lt     layers.LinkType
		cl, sv netip.AddrPort
		ng     bool
	}{
		{"ethernet ipv4 pcap", layers.LinkTypeEthernet, cli, srv, false},
		{"ethernet ipv6 pcapng", layers.LinkTypeEthernet, cli6, srv6, true},
		{"linux sll ipv4", layers.LinkTypeLinuxSLL, cli, srv, false},
		{"raw ipv6", layers.LinkTypeRaw, cli6, srv6, false},
		{"raw ipv4 pcapng", layers.LinkTypeRaw, cli, srv, true},
		{"DLT_RAW 12 ipv4", 12, cli, srv, false},
		{"DLT_RAW 14 ipv6", 14, cli6, srv6, false},
		{"LINKTYPE_IPV4", layers.LinkTypeIPv4, cli, srv, false},
		{"LINKTYPE_IPV6 pcapng", layers.LinkTypeIPv6, cli6, srv6, true},
		{"linux sll2 ipv6", layers.LinkTypeLinuxSLL2, cli6, srv6, false},
		{"linux sll2 ipv4 pcapng", layers.LinkTypeLinuxSLL2, cli, srv, true},
		{"null ipv4", layers.LinkTypeNull, cli, srv, false},
		{"null ipv6", layers.LinkTypeNull, cli6, srv6, false},
		{"loop ipv4", layers.LinkTypeLoop, cli, srv, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCapture(t, tt.lt).handshake(tt.cl, tt.sv).
				tcp(tcpSeg{src: tt.cl, dst: tt.sv, seq: 1001, ack: 5001, flags: "PA", data: "GET / HTTP/1.1\r\n"}).
				tcp(tcpSeg{src: tt.cl, dst: tt.sv, seq: 1017, ack: 5001, flags: "PA", data: "\r\n"}).
				tcp(tcpSeg{src: tt.sv, dst: tt.cl, seq: 5001, ack: 1019, flags: "PA", data: "HTTP/1.1 200 OK\r\n\r\n"}).
				tcp(tcpSeg{src: tt.cl, dst: tt.sv, seq: 1019, ack: 5020, flags: "FA"}).
				tcp(tcpSeg{src: tt.sv, dst: tt.cl, seq: 5020, ack: 1020, flags: "FA"}).
				tcp(tcpSeg{src: tt.cl, dst: tt.sv, seq: 1020, ack: 5021, flags: "A"})
			data := c.pcap()
			if tt.ng {
				data = c.pcapng()
			}
			e := &fakeEngine{}
			sum, evs := run(t, data, e, Config{})
			require.Len(t, e.flows, 1)
			f := e.flows[0]
			assert.Equal(t, []call{
				{inspect.ToServer, "GET / HTTP/1.1\r\n"},
				{inspect.ToServer, "\r\n"},
				{inspect.ToClient, "HTTP/1.1 200 OK\r\n\r\n"},
			}, f.calls)
			assert.Equal(t, tt.cl, f.meta.Src)
			assert.Equal(t, tt.sv, f.meta.Dst)
			assert.Equal(t, inspect.ProtoTCP, f.meta.Proto)
			assert.False(t, f.meta.NotEstablished)
			assert.Equal(t, 1, f.closes, "closed once at the FINs")
			assert.EqualValues(t, 9, sum.Packets)
			assert.EqualValues(t, 1, sum.Flows)
			assert.Zero(t, sum.Undecoded)

			flows := evs.ofType("flow")
			require.Len(t, flows, 1)
			fo := flows[0]["flow"].(map[string]any)
			assert.EqualValues(t, 6, fo["pkts_toserver"])
			assert.EqualValues(t, 3, fo["pkts_toclient"])
			assert.Equal(t, "closed", fo["state"])
			assert.Equal(t, false, fo["alerted"])
			assert.Equal(t, "closed", flows[0]["tcp"].(map[string]any)["state"])
			assert.Equal(t, "1b", flows[0]["tcp"].(map[string]any)["tcp_flags"])
			assert.Equal(t, tt.cl.Addr().String(), flows[0]["src_ip"])
			assert.Len(t, evs.ofType("stats"), 1)
		})
	}
}

// TestReassemblyOverlapsFirstWins: retransmissions, out-of-order segments
// and overlaps with different bytes; the bytes that arrived first win.
func TestReassemblyOverlapsFirstWins(t *testing.T) {
	for _, tt := range []struct {
		name string
		segs []tcpSeg // client data after the handshake; seq relative to 1001
		want string
		gaps uint64
	}{
		{"in order", []tcpSeg{{seq: 0, data: "abcd"}, {seq: 4, data: "efgh"}}, "abcdefgh", 0},
		{"retransmission with other bytes", []tcpSeg{{seq: 0, data: "abcd"}, {seq: 0, data: "XXXX"}, {seq: 4, data: "efgh"}}, "abcdefgh", 0},
		{"out of order", []tcpSeg{{seq: 4, data: "efgh"}, {seq: 8, data: "ijkl"}, {seq: 0, data: "abcd"}}, "abcdefghijkl", 0},
		{"overlap into delivered data", []tcpSeg{{seq: 0, data: "abcd"}, {seq: 2, data: "XXef"}}, "abcdef", 0},
		{"later segment overlapping pending one", []tcpSeg{{seq: 4, data: "efgh"}, {seq: 2, data: "XXXXXXij"}, {seq: 0, data: "ab"}}, "abXXefghij", 0},
		{"pending segment covering later ones", []tcpSeg{{seq: 2, data: "cdefgh"}, {seq: 4, data: "XX"}, {seq: 0, data: "ab"}}, "abcdefgh", 0},
		{"gap skipped at close", []tcpSeg{{seq: 0, data: "abcd"}, {seq: 8, data: "ijkl"}}, "abcdijkl", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCapture(t, layers.LinkTypeEthernet).handshake(cli, srv)
			for _, s := range tt.segs {
				c.tcp(tcpSeg{src: cli, dst: srv, seq: 1001 + s.seq, ack: 5001, flags: "PA", data: s.data})
			}
			e := &fakeEngine{}
			sum, _ := run(t, c.pcap(), e, Config{})
			require.Len(t, e.flows, 1)
			assert.Equal(t, tt.want, e.flows[0].stream(inspect.ToServer))
			assert.Equal(t, tt.gaps, sum.Gaps)
			assert.Equal(t, 1, e.flows[0].closes, "closed at the end of the capture")
		})
	}
}

func TestSequenceWraparound(t *testing.T) {
	c := newCapture(t, layers.LinkTypeEthernet).
		tcp(tcpSeg{src: cli, dst: srv, seq: 0xFFFFFFFD, flags: "S"}).
		tcp(tcpSeg{src: srv, dst: cli, seq: 7, ack: 0xFFFFFFFE, flags: "SA"}).
		tcp(tcpSeg{src: cli, dst: srv, seq: 0xFFFFFFFE, ack: 8, flags: "PA", data: "abcd"}).
		tcp(tcpSeg{src: cli, dst: srv, seq: 2, ack: 8, flags: "PA", data: "efgh"})
	e := &fakeEngine{}
	run(t, c.pcap(), e, Config{})
	require.Len(t, e.flows, 1)
	assert.Equal(t, "abcdefgh", e.flows[0].stream(inspect.ToServer))
}

func TestMidstreamPickup(t *testing.T) {
	mid := func(t *testing.T) []byte {
		return newCapture(t, layers.LinkTypeEthernet).
			tcp(tcpSeg{src: cli, dst: srv, seq: 777, ack: 1, flags: "PA", data: "uid=0(root)"}).
			tcp(tcpSeg{src: srv, dst: cli, seq: 1, ack: 788, flags: "PA", data: "ok"}).pcap()
	}
	for _, tt := range []struct {
		name           string
		cfg            Config
		notEstablished bool
		calls          int
		drops          uint64
	}{
		{"not established by default", Config{}, true, 2, 0},
		{"stream.midstream picks it up as established", Config{Midstream: true}, false, 2, 0},
		{"midstream drop-flow in ips mode", Config{Mode: ModeIPS, MidstreamDrop: true}, false, 0, 2},
		{"midstream drop-flow ignored in ids mode", Config{MidstreamDrop: true}, true, 2, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := &fakeEngine{}
			sum, evs := run(t, mid(t), e, tt.cfg)
			assert.Equal(t, tt.drops, sum.Drops)
			assert.Len(t, evs.ofType("drop"), int(tt.drops))
			if tt.calls == 0 {
				assert.Empty(t, e.flows, "a dropped mid-stream flow is never inspected")
				fl := evs.ofType("flow")
				require.Len(t, fl, 1)
				assert.Equal(t, "drop", fl[0]["flow"].(map[string]any)["action"])
				return
			}
			require.Len(t, e.flows, 1)
			assert.Equal(t, tt.notEstablished, e.flows[0].meta.NotEstablished)
			assert.Len(t, e.flows[0].calls, tt.calls)
			assert.Equal(t, cli, e.flows[0].meta.Src, "the first packet's sender is the client")
		})
	}
}

func TestSynAckFirstMakesReceiverTheClient(t *testing.T) {
	c := newCapture(t, layers.LinkTypeEthernet).
		tcp(tcpSeg{src: srv, dst: cli, seq: 5000, ack: 1001, flags: "SA"}).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "PA", data: "hello"})
	e := &fakeEngine{}
	run(t, c.pcap(), e, Config{})
	require.Len(t, e.flows, 1)
	assert.Equal(t, cli, e.flows[0].meta.Src)
	assert.Equal(t, "hello", e.flows[0].stream(inspect.ToServer))
}

// TestIPSDropStopsInspection: after a drop, the flow's later data is not
// inspected and each later packet is logged as a drop; in IDS mode the
// same capture is inspected to its end and the alert says allowed.
func TestIPSDropStopsInspection(t *testing.T) {
	capture := func(t *testing.T) []byte {
		return newCapture(t, layers.LinkTypeEthernet).handshake(cli, srv).
			tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "PA", data: "hello"}).
			tcp(tcpSeg{src: cli, dst: srv, seq: 1006, ack: 5001, flags: "PA", data: "EVIL"}).
			tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1010, flags: "PA", data: "reply"}).
			tcp(tcpSeg{src: cli, dst: srv, seq: 1010, ack: 5006, flags: "PA", data: "more"}).pcap()
	}
	for _, tt := range []struct {
		name   string
		mode   Mode
		calls  int
		drops  int
		action string
		// pcapCnt is the packet the alert names: in ips mode the one
		// that completed the match, in ids mode the client's packet
		// after the one that acknowledged it (Suricata's IDS
		// reassembly, and detection of a packet's own direction).
		pcapCnt int
	}{
		{"ips", ModeIPS, 2, 3, "blocked", 5},
		{"ids", ModeIDS, 4, 0, "allowed", 7},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := &fakeEngine{rules: []fakeRule{{content: "EVIL", info: ruleDrop}}}
			sum, evs := run(t, capture(t), e, Config{Mode: tt.mode})
			require.Len(t, e.flows, 1)
			assert.Len(t, e.flows[0].calls, tt.calls)
			alerts := evs.ofType("alert")
			require.Len(t, alerts, 1)
			al := alerts[0]["alert"].(map[string]any)
			assert.Equal(t, tt.action, al["action"])
			assert.EqualValues(t, 10, al["signature_id"])
			assert.EqualValues(t, tt.pcapCnt, alerts[0]["pcap_cnt"])
			assert.Equal(t, "10.0.0.1", alerts[0]["src_ip"])
			assert.Equal(t, map[uint32]uint64{10: 1}, sum.AlertsBySID)
			drops := evs.ofType("drop")
			require.Len(t, drops, tt.drops)
			if tt.drops > 0 {
				assert.EqualValues(t, 10, drops[0]["alert"].(map[string]any)["signature_id"], "the first drop names the rule")
				assert.Equal(t, "rules", drops[0]["drop"].(map[string]any)["reason"])
				assert.Equal(t, "flow drop", drops[1]["drop"].(map[string]any)["reason"])
				assert.Equal(t, "10.0.0.2", drops[1]["src_ip"], "the reply was dropped too")
				assert.Equal(t, "drop", evs.ofType("flow")[0]["flow"].(map[string]any)["action"])
			}
			assert.Equal(t, true, evs.ofType("flow")[0]["flow"].(map[string]any)["alerted"])
		})
	}
}

func TestToClientAlertHasServerAsSource(t *testing.T) {
	c := newCapture(t, layers.LinkTypeEthernet).handshake(cli, srv).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "PA", data: "GET"}).
		tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1004, flags: "PA", data: "note"})
	e := &fakeEngine{rules: []fakeRule{{content: "note", info: ruleAlert}}}
	_, evs := run(t, c.pcap(), e, Config{Mode: ModeIPS})
	alerts := evs.ofType("alert")
	require.Len(t, alerts, 1)
	assert.Equal(t, "10.0.0.2", alerts[0]["src_ip"])
	assert.EqualValues(t, 80, alerts[0]["src_port"])
	assert.Equal(t, "10.0.0.1", alerts[0]["dest_ip"])
	assert.Equal(t, "to_client", alerts[0]["direction"])
	assert.Equal(t, "allowed", alerts[0]["alert"].(map[string]any)["action"])
}

func TestPassAndNoalert(t *testing.T) {
	c := newCapture(t, layers.LinkTypeEthernet).handshake(cli, srv).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "PA", data: "trusted"}).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1008, ack: 5001, flags: "PA", data: "EVIL"})
	e := &fakeEngine{rules: []fakeRule{
		{content: "trusted", info: rulePass},
		{content: "trusted", info: ruleAlert, noalert: true},
		{content: "EVIL", info: ruleDrop},
	}}
	sum, evs := run(t, c.pcap(), e, Config{Mode: ModeIPS})
	assert.Empty(t, evs.ofType("alert"), "no alert for pass or noalert rules, and no rule decides after pass")
	assert.Empty(t, evs.ofType("drop"))
	// The inspector is still fed after pass, so that its app-layer
	// records are logged (Suricata logs passed flows).
	assert.Equal(t, []call{{inspect.ToServer, "trusted"}, {inspect.ToServer, "EVIL"}}, e.flows[0].calls)
	assert.Zero(t, sum.Alerts)
	assert.Equal(t, "pass", evs.ofType("flow")[0]["flow"].(map[string]any)["action"])
}

func TestUDPDatagramsAndAppEvents(t *testing.T) {
	dnsCli := netip.MustParseAddrPort("10.0.0.1:5353")
	dnsSrv := netip.MustParseAddrPort("10.0.0.53:53")
	c := newCapture(t, layers.LinkTypeEthernet).
		udp(dnsCli, dnsSrv, "query-one").
		udp(dnsCli, dnsSrv, "query-two").
		udp(dnsSrv, dnsCli, "answer")
	ev := &inspect.Event{Dir: inspect.ToServer, TxID: 0, DNS: &inspect.DNSTx{Type: "query", ID: 1, RRName: "example.com", RRType: "A"}}
	e := &fakeEngine{rules: []fakeRule{{content: "query-one", info: ruleAlert, event: ev}}}
	_, evs := run(t, c.pcap(), e, Config{})
	require.Len(t, e.flows, 1)
	assert.Equal(t, []call{{inspect.ToServer, "query-one"}, {inspect.ToServer, "query-two"}, {inspect.ToClient, "answer"}}, e.flows[0].calls)
	assert.Equal(t, inspect.ProtoUDP, e.flows[0].meta.Proto)
	dns := evs.ofType("dns")
	require.Len(t, dns, 1)
	assert.Equal(t, []any{map[string]any{"rrname": "example.com", "rrtype": "A"}}, dns[0]["dns"].(map[string]any)["queries"])
	assert.Equal(t, "UDP", dns[0]["proto"])
	assert.Equal(t, "established", evs.ofType("flow")[0]["flow"].(map[string]any)["state"])
}

func TestICMPMessagesAreDatagrams(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.9")
	c := newCapture(t, layers.LinkTypeEthernet).icmpEcho(a, b, 8, "ping").icmpEcho(b, a, 0, "ping").icmpEcho(a, b, 8, "ping")
	e := &fakeEngine{}
	_, evs := run(t, c.pcap(), e, Config{})
	require.Len(t, e.flows, 1, "echo requests and replies share a flow")
	calls := e.flows[0].calls
	require.Len(t, calls, 3)
	assert.Equal(t, byte(8), calls[0].data[0], "the ICMP type is the first byte")
	assert.Equal(t, inspect.ToClient, calls[1].dir)
	assert.Equal(t, "ICMP", evs.ofType("flow")[0]["proto"])
}

func TestRSTAndPortReuseStartsNewFlow(t *testing.T) {
	c := newCapture(t, layers.LinkTypeEthernet).handshake(cli, srv).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "PA", data: "one"}).
		tcp(tcpSeg{src: srv, dst: cli, seq: 5001, flags: "R"}).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1004, ack: 5001, flags: "PA", data: "late"}).
		handshake(cli, srv).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "PA", data: "two"})
	e := &fakeEngine{}
	sum, evs := run(t, c.pcap(), e, Config{})
	require.Len(t, e.flows, 2)
	// As Suricata (RST injection, security #4710): an endpoint may have
	// ignored the reset, so what follows it is inspected too.
	assert.Equal(t, "onelate", e.flows[0].stream(inspect.ToServer), "data after the RST is inspected")
	assert.Equal(t, "two", e.flows[1].stream(inspect.ToServer))
	assert.EqualValues(t, 2, sum.Flows)
	fl := evs.ofType("flow")
	require.Len(t, fl, 2)
	assert.Equal(t, "closed", fl[0]["flow"].(map[string]any)["state"])
	assert.NotEqual(t, fl[0]["flow_id"], fl[1]["flow_id"])
}

func TestVLANIsLogged(t *testing.T) {
	c := newCapture(t, layers.LinkTypeEthernet).udp(cli, srv, "x")
	// Insert an 802.1Q tag after the MAC addresses by hand.
	p := c.pkts[0]
	tagged := append(append(append([]byte(nil), p[:12]...), 0x81, 0x00, 0x0c, 0x40), p[12:]...)
	c.pkts[0] = tagged
	c.cis[0].CaptureLength, c.cis[0].Length = len(tagged), len(tagged)
	e := &fakeEngine{}
	_, evs := run(t, c.pcap(), e, Config{})
	require.Len(t, e.flows, 1)
	assert.Equal(t, []any{3136.0}, evs.ofType("flow")[0]["vlan"])
}

func TestFlowBoundEvictsOldest(t *testing.T) {
	c := newCapture(t, layers.LinkTypeEthernet)
	for i := range 5 {
		c.udp(netip.AddrPortFrom(cli.Addr(), uint16(1000+i)), srv, "x")
	}
	e := &fakeEngine{}
	sum, evs := run(t, c.pcap(), e, Config{MaxFlows: 2})
	assert.EqualValues(t, 5, sum.Flows)
	fl := evs.ofType("flow")
	require.Len(t, fl, 5)
	assert.Equal(t, "forced", fl[0]["flow"].(map[string]any)["reason"])
	assert.Equal(t, "shutdown", fl[4]["flow"].(map[string]any)["reason"])
}

func TestPendingBoundSkipsGap(t *testing.T) {
	c := newCapture(t, layers.LinkTypeEthernet).handshake(cli, srv)
	// The first segment is missing; the rest arrive and exceed the bound.
	for i := 1; i <= 4; i++ {
		c.tcp(tcpSeg{src: cli, dst: srv, seq: 1001 + uint32(i*4), ack: 5001, flags: "PA", data: "abcd"})
	}
	e := &fakeEngine{}
	sum, _ := run(t, c.pcap(), e, Config{MaxPendingSegments: 2})
	assert.EqualValues(t, 1, sum.Gaps)
	assert.Equal(t, "abcdabcdabcdabcd", e.flows[0].stream(inspect.ToServer))
	assert.Greater(t, len(e.flows[0].calls), 1, "delivered once over the bound, before the end")
}

func TestBadInput(t *testing.T) {
	good := newCapture(t, layers.LinkTypeEthernet).handshake(cli, srv).pcap()
	for _, tt := range []struct {
		name      string
		data      []byte
		err       string
		truncated bool
	}{
		{"empty", nil, "not a pcap", false},
		{"garbage", []byte("this is not a capture file at all"), "pcap", false},
		{"truncated record", good[:len(good)-10], "", true},
		{"unreadable record", badCaplen(good), "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sum, err := Run(bytes.NewReader(tt.data), &fakeEngine{}, Config{})
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.truncated, sum.Truncated)
			if tt.name == "unreadable record" {
				assert.Contains(t, sum.Unreadable, "record 2:")
				assert.EqualValues(t, 1, sum.Packets, "the packets before the bad record are replayed")
			}
		})
	}
	_, err := File(filepath.Join(t.TempDir(), "missing.pcap"), &fakeEngine{}, Config{})
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.ErrorContains(t, err, "missing.pcap")
}

func TestParseMode(t *testing.T) {
	m, err := ParseMode("ips")
	require.NoError(t, err)
	assert.Equal(t, ModeIPS, m)
	m, err = ParseMode("ids")
	require.NoError(t, err)
	assert.Equal(t, ModeIDS, m)
	_, err = ParseMode("inline")
	assert.ErrorContains(t, err, "inline")
}

func FuzzRun(f *testing.F) {
	t := &testing.T{}
	c := newCapture(t, layers.LinkTypeEthernet).handshake(cli, srv).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1005, ack: 5001, flags: "PA", data: "later"}).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "PA", data: "firstXX"}).
		tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1010, flags: "FPA", data: "reply"}).
		udp(cli, srv, "datagram")
	f.Add(c.pcap())
	f.Add(c.pcapng())
	f.Add([]byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0})
	probe := func(dir inspect.Direction, data []byte) applayer.ProbeResult {
		if dir == inspect.ToClient && bytes.HasPrefix(data, []byte("re")) {
			return applayer.ProbeYes
		}
		return applayer.ProbeNo
	}
	protos := []applayer.Proto{{Name: "toy", Transport: inspect.ProtoTCP, Probe: probe}}
	f.Fuzz(func(t *testing.T, data []byte) {
		e := &fakeEngine{rules: []fakeRule{{content: "XX", info: ruleDrop}}}
		_, _ = Run(bytes.NewReader(data), e, Config{Mode: ModeIPS, Events: &events{}, MaxPendingSegments: 8, MaxFlows: 16})
		_, _ = Run(bytes.NewReader(data), e, Config{Midstream: true, MidstreamDrop: true, Protos: protos, Events: &events{}, MaxPendingBytes: 64})
	})
}

// BenchmarkReplay measures reassembly and dispatch (decode, flow table,
// reassembly, EVE encoding of flow events) with a no-op engine: 64 TCP
// flows of 64 x 1,400-byte segments each, every fourth pair of segments
// out of order.
func BenchmarkReplay(b *testing.B) {
	t := &testing.T{}
	c := newCapture(t, layers.LinkTypeEthernet)
	seg := string(bytes.Repeat([]byte("a"), 1400))
	var payload int64
	for f := range 64 {
		cl := netip.AddrPortFrom(cli.Addr(), uint16(20000+f))
		c.handshake(cl, srv)
		for i := 0; i < 64; i += 2 {
			s1 := tcpSeg{src: cl, dst: srv, seq: 1001 + uint32(i*1400), ack: 5001, flags: "PA", data: seg}
			s2 := tcpSeg{src: cl, dst: srv, seq: 1001 + uint32((i+1)*1400), ack: 5001, flags: "PA", data: seg}
			if i%8 == 0 {
				s1, s2 = s2, s1
			}
			c.tcp(s1).tcp(s2)
			payload += 2 * 1400
		}
	}
	data := c.pcap()
	b.SetBytes(payload)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := Run(bytes.NewReader(data), &fakeEngine{}, Config{Events: eve.NewWriter(io.Discard)}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestMidstreamResponseFirstIsReversed(t *testing.T) {
	probe := func(dir inspect.Direction, data []byte) applayer.ProbeResult {
		if dir == inspect.ToClient && strings.HasPrefix(string(data), "RESP") ||
			dir == inspect.ToServer && strings.HasPrefix(string(data), "REQ") {
			return applayer.ProbeYes
		}
		return applayer.ProbeNo
	}
	protos := []applayer.Proto{{Name: "toy", Transport: inspect.ProtoTCP, Probe: probe}}
	for _, tt := range []struct {
		name     string
		first    string
		cfg      Config
		reversed bool
	}{
		{"response first, midstream", "RESP 200", Config{Midstream: true, Protos: protos}, true},
		{"request first, midstream", "REQ /", Config{Midstream: true, Protos: protos}, false},
		{"unknown bytes stay as sent", "hello", Config{Midstream: true, Protos: protos}, false},
		{"without midstream pickup", "RESP 200", Config{Protos: protos}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCapture(t, layers.LinkTypeEthernet).
				tcp(tcpSeg{src: srv, dst: cli, seq: 9000, ack: 1, flags: "PA", data: tt.first}).
				tcp(tcpSeg{src: cli, dst: srv, seq: 1, ack: 9000 + uint32(len(tt.first)), flags: "PA", data: "next"})
			e := &fakeEngine{}
			_, evs := run(t, c.pcap(), e, tt.cfg)
			require.Len(t, e.flows, 1)
			f := e.flows[0]
			fl := evs.ofType("flow")[0]["flow"].(map[string]any)
			if tt.reversed {
				assert.Equal(t, cli, f.meta.Src, "the receiver of the response is the client")
				assert.Equal(t, []call{{inspect.ToClient, tt.first}, {inspect.ToServer, "next"}}, f.calls)
				assert.EqualValues(t, 1, fl["pkts_toclient"])
				return
			}
			assert.Equal(t, srv, f.meta.Src)
			assert.Equal(t, inspect.ToServer, f.calls[0].dir)
		})
	}
}

// badCaplen returns a pcap whose second record claims a capture length
// far beyond the snaplen, as a corrupt capture does.
func badCaplen(p []byte) []byte {
	out := append([]byte(nil), p...)
	first := 24 + 16 + int(binary.LittleEndian.Uint32(out[24+8:]))
	binary.LittleEndian.PutUint32(out[first+8:], 4325376)
	return out
}

// TestFlowEventAppProto: flow events carry the protocol the inspector
// detected and Suricata 8's ip_v, for IPv4 and IPv6.
func TestFlowEventAppProto(t *testing.T) {
	for _, tc := range []struct {
		cl, sv netip.AddrPort
		ipv    float64
	}{{cli, srv, 4}, {cli6, srv6, 6}} {
		c := newCapture(t, layers.LinkTypeEthernet).handshake(tc.cl, tc.sv)
		c.tcp(tcpSeg{src: tc.cl, dst: tc.sv, seq: 1001, ack: 5001, flags: "PA", data: "GET / HTTP/1.1\r\n\r\n"})
		_, evs := run(t, c.pcap(), &fakeEngine{app: "http"}, Config{})
		flows := evs.ofType("flow")
		require.Len(t, flows, 1)
		assert.Equal(t, "http", flows[0]["app_proto"])
		assert.Equal(t, tc.ipv, flows[0]["ip_v"])
	}
}

// TestPcapngInterfaces: a pcapng file with one interface per link type
// (an Ethernet tap for the client side, a raw-IP tunnel for the server
// side) is read per packet with its own interface's link type.
func TestPcapngInterfaces(t *testing.T) {
	eth := newCapture(t, layers.LinkTypeEthernet).handshake(cli, srv).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "PA", data: "ping"})
	raw := newCapture(t, layers.LinkTypeRaw).
		tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1005, flags: "PA", data: "pong"})
	var b bytes.Buffer
	w, err := pcapgo.NewNgWriterInterface(&b, pcapgo.NgInterface{Name: "eth0", LinkType: layers.LinkTypeEthernet, SnapLength: 65535},
		pcapgo.DefaultNgWriterOptions)
	require.NoError(t, err)
	id, err := w.AddInterface(pcapgo.NgInterface{Name: "tun0", LinkType: layers.LinkTypeRaw, SnapLength: 65535})
	require.NoError(t, err)
	for i := range eth.pkts {
		require.NoError(t, w.WritePacket(eth.cis[i], eth.pkts[i]))
	}
	ci := raw.cis[0]
	ci.Timestamp, ci.InterfaceIndex = eth.ts.Add(time.Millisecond), id
	require.NoError(t, w.WritePacket(ci, raw.pkts[0]))
	require.NoError(t, w.Flush())

	e := &fakeEngine{}
	sum, _ := run(t, b.Bytes(), e, Config{})
	assert.Zero(t, sum.Undecoded)
	require.Len(t, e.flows, 1)
	assert.Equal(t, []call{{inspect.ToServer, "ping"}, {inspect.ToClient, "pong"}}, e.flows[0].calls)
}

// TCP Fast Open: the request in the SYN is inspected once the handshake
// completed, on an established flow, before the data that follows it.
func TestFastOpenDataInSYN(t *testing.T) {
	c := newCapture(t, layers.LinkTypeEthernet).
		tcp(tcpSeg{src: cli, dst: srv, seq: 100, flags: "S", data: "GET / HTTP/1.0\r\n"}).
		tcp(tcpSeg{src: srv, dst: cli, seq: 7, ack: 117, flags: "SA"}).
		tcp(tcpSeg{src: cli, dst: srv, seq: 117, ack: 8, flags: "PA", data: "\r\n"}).
		tcp(tcpSeg{src: srv, dst: cli, seq: 8, ack: 119, flags: "PA", data: "HTTP/1.0 200 OK\r\n\r\n"})
	e := &fakeEngine{}
	run(t, c.pcap(), e, Config{})
	require.Len(t, e.flows, 1)
	assert.False(t, e.flows[0].meta.NotEstablished, "the handshake completed before any data was inspected")
	assert.Equal(t, "GET / HTTP/1.0\r\n\r\n", e.flows[0].stream(inspect.ToServer))
	assert.Equal(t, "HTTP/1.0 200 OK\r\n\r\n", e.flows[0].stream(inspect.ToClient))
}

// TestRawAlertNamesFlowAppProto: an alert on the raw stream carries the
// flow's protocol, as Suricata's do, but no transaction; a flow whose
// protocol is unknown gives none.
func TestRawAlertNamesFlowAppProto(t *testing.T) {
	for _, app := range []string{"http", ""} {
		c := newCapture(t, layers.LinkTypeEthernet).handshake(cli, srv).
			tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "PA", data: "GET / HTTP/1.1\r\n\r\n"})
		e := &fakeEngine{app: app, rules: []fakeRule{{content: "GET", info: ruleAlert}}}
		_, evs := run(t, c.pcap(), e, Config{Mode: ModeIPS})
		alerts := evs.ofType("alert")
		require.Len(t, alerts, 1)
		if app == "" {
			assert.NotContains(t, alerts[0], "app_proto")
		} else {
			assert.Equal(t, app, alerts[0]["app_proto"])
		}
		assert.NotContains(t, alerts[0], "tx_id")
	}
}

// TestNetflow: with Netflow each flow ends with one netflow event per
// direction, from that direction's sender, with its packets, bytes and
// TCP flags; a flow the server never answered has only the first.
func TestNetflow(t *testing.T) {
	c := newCapture(t, layers.LinkTypeEthernet).handshake(cli, srv).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "PA", data: "GET / HTTP/1.1\r\n\r\n"}).
		tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1019, flags: "PA", data: "HTTP/1.1 200 OK\r\n\r\n"}).
		udp(netip.MustParseAddrPort("10.0.0.1:5353"), netip.MustParseAddrPort("10.0.0.3:53"), "query")
	_, evs := run(t, c.pcap(), &fakeEngine{app: "http"}, Config{Netflow: true})
	nf := evs.ofType("netflow")
	require.Len(t, nf, 3)
	assert.Equal(t, "10.0.0.1", nf[0]["src_ip"])
	assert.Equal(t, "10.0.0.2", nf[0]["dest_ip"])
	assert.Equal(t, "http", nf[0]["app_proto"])
	assert.EqualValues(t, 3, nf[0]["netflow"].(map[string]any)["pkts"])
	assert.Equal(t, "1a", nf[0]["tcp"].(map[string]any)["tcp_flags"])
	assert.Equal(t, "10.0.0.2", nf[1]["src_ip"])
	assert.EqualValues(t, 80, nf[1]["src_port"])
	assert.EqualValues(t, 2, nf[1]["netflow"].(map[string]any)["pkts"])
	assert.Equal(t, "1a", nf[1]["tcp"].(map[string]any)["tcp_flags"])
	assert.Equal(t, "10.0.0.3", nf[2]["dest_ip"])
	assert.EqualValues(t, 1, nf[2]["netflow"].(map[string]any)["pkts"])

	_, evs = run(t, c.pcap(), &fakeEngine{app: "http"}, Config{})
	assert.Empty(t, evs.ofType("netflow"))
}

// TestMetadataVars: a packet whose matches stored packet variables is a
// metadata event carrying them with the flow's variables; flow variables
// keep their latest value and go on the alerts and the flow event, as
// Suricata's EVE metadata object.
func TestMetadataVars(t *testing.T) {
	c := newCapture(t, layers.LinkTypeEthernet).handshake(cli, srv).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "PA", data: "GET /a"}).
		tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1007, flags: "PA", data: "uid=0 gid=1"}).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1007, ack: 5012, flags: "PA", data: "gid=2"})
	e := &fakeEngine{rules: []fakeRule{
		{content: "uid=", info: ruleAlert, noalert: true, vars: []inspect.Var{{Kind: "pkt", Name: "uid", Value: "0"}}},
		{content: "gid=1", info: ruleAlert, noalert: true, vars: []inspect.Var{{Kind: "flow", Name: "gid", Value: "1"}}},
		{content: "gid=2", info: ruleAlert, vars: []inspect.Var{{Kind: "flow", Name: "gid", Value: "2"}}},
	}}
	_, evs := run(t, c.pcap(), e, Config{StreamInline: true})
	md := evs.ofType("metadata")
	require.Len(t, md, 1)
	assert.Equal(t, "10.0.0.2", md[0]["src_ip"])
	assert.Equal(t, map[string]any{"pktvars": []any{map[string]any{"uid": "0"}}, "flowvars": []any{map[string]any{"gid": "1"}}}, md[0]["metadata"])
	alerts := evs.ofType("alert")
	require.Len(t, alerts, 1)
	assert.Equal(t, map[string]any{"flowvars": []any{map[string]any{"gid": "2"}}}, alerts[0]["metadata"])
	flows := evs.ofType("flow")
	require.Len(t, flows, 1)
	assert.Equal(t, map[string]any{"flowvars": []any{map[string]any{"gid": "2"}}}, flows[0]["metadata"])
}

// TestMetadataFlowState: what the inspector reports of its flow state
// is the metadata object of alerts and the flow event: entropy values,
// flowbits (but for Suricata 8's traffic/id/ and traffic/label/ bits,
// which are the traffic object's) and flowints.
func TestMetadataFlowState(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    *fakeEngine
		want map[string]any
	}{
		{"entropy", &fakeEngine{entropy: map[string]float64{"file_data": 4.150007324019584}},
			map[string]any{"entropy": map[string]any{"file_data": 4.150007324019584}}},
		{"flowbits and flowints", &fakeEngine{bits: []string{"traffic/label/web", "seen", "traffic/id/curl", "later"},
			ints: map[string]int64{"http.anomaly.count": 2}},
			map[string]any{"flowbits": []any{"seen", "later"}, "flowints": map[string]any{"http.anomaly.count": float64(2)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCapture(t, layers.LinkTypeEthernet).handshake(cli, srv).
				tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "PA", data: "GET /a"})
			tc.e.rules = []fakeRule{{content: "GET", info: ruleAlert}}
			_, evs := run(t, c.pcap(), tc.e, Config{Mode: ModeIPS})
			alerts := evs.ofType("alert")
			require.Len(t, alerts, 1)
			assert.Equal(t, tc.want, alerts[0]["metadata"])
			flows := evs.ofType("flow")
			require.Len(t, flows, 1)
			assert.Equal(t, tc.want, flows[0]["metadata"])
		})
	}
}

package replay

import (
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
)

// TestUrgentPolicy: the byte a segment's urgent pointer marks is read
// in band (inline), taken out of band with the stream closing over it
// (oob), skipped as a gap (gap), or its segment dropped in ips mode
// (drop), as Suricata's stream.reassembly.urgent.policy says. The
// client sends "GET /malic", then "X" with URG (pointer 1), then
// "ious"; the server acknowledges everything.
func TestUrgentPolicy(t *testing.T) {
	capture := func(t *testing.T) []byte {
		return newCapture(t, layers.LinkTypeEthernet).handshake(cli, srv).
			tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "PA", data: "GET /malic"}).
			tcp(tcpSeg{src: cli, dst: srv, seq: 1011, ack: 5001, flags: "PAU", data: "X", urgent: 1}).
			tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1012, flags: "A"}).
			tcp(tcpSeg{src: cli, dst: srv, seq: 1012, ack: 5001, flags: "PA", data: "ious HTTP/1.1\r\n"}).
			tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1027, flags: "A"}).
			pcap()
	}
	for _, tc := range []struct {
		name   string
		cfg    Config
		stream string
		drops  int
	}{
		{"inline", Config{}, "GET /malicXious HTTP/1.1\r\n", 0},
		{"oob", Config{Urgent: UrgentOOB}, "GET /malicious HTTP/1.1\r\n", 0},
		{"gap", Config{Urgent: UrgentGap}, "GET /malicious HTTP/1.1\r\n", 0},
		{"drop in ids mode reads inline", Config{Urgent: UrgentDrop}, "GET /malicXious HTTP/1.1\r\n", 0},
		{"drop in ips mode", Config{Urgent: UrgentDrop, Mode: ModeIPS}, "GET /malicious HTTP/1.1\r\n", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &fakeEngine{}
			_, evs := run(t, capture(t), e, tc.cfg)
			require.Len(t, e.flows, 1)
			assert.Equal(t, tc.stream, e.flows[0].stream(inspect.ToServer))
			drops := evs.ofType("drop")
			require.Len(t, drops, tc.drops)
			for _, d := range drops {
				assert.Equal(t, "stream urgent", d["drop"].(map[string]any)["reason"])
			}
		})
	}
	t.Run("gap leaves a gap", func(t *testing.T) {
		e := &fakeEngine{}
		_, evs := run(t, capture(t), e, Config{Urgent: UrgentGap})
		flows := evs.ofType("flow")
		require.Len(t, flows, 1)
		assert.Equal(t, true, flows[0]["tcp"].(map[string]any)["ts_gap"])
	})
}

func TestParseUrgentPolicy(t *testing.T) {
	for name, want := range map[string]UrgentPolicy{"inline": UrgentInline, "oob": UrgentOOB, "gap": UrgentGap, "drop": UrgentDrop} {
		got, err := ParseUrgentPolicy(name)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	_, err := ParseUrgentPolicy("OOB ")
	assert.Error(t, err)
}

// TestUrgentOOBLimit: past 64k bytes out of band in one direction, oob
// gives way to the oob-limit policy: inline keeps the byte, gap skips
// it without shifting, drop drops the segment.
func TestUrgentOOBLimit(t *testing.T) {
	seg := &layers.TCP{Seq: 100_000, URG: true, Urgent: 2}
	for _, tc := range []struct {
		limit     UrgentPolicy
		data      string
		drop      bool
		oobBefore uint32
	}{
		{UrgentInline, "XY", false, maxOOB},
		{UrgentGap, "X", false, maxOOB},
		{UrgentDrop, "XY", true, maxOOB},
		{UrgentInline, "X", false, maxOOB - 1}, // the last byte within the limit
	} {
		rp := &replayer{cfg: Config{Urgent: UrgentOOB, UrgentOOBLimit: tc.limit}}
		st := &stream{oob: tc.oobBefore}
		seq, data, drop := rp.urgent(st, seg, []byte("XY"))
		assert.Equal(t, seg.Seq-tc.oobBefore, seq, "shifted by the bytes taken out before")
		assert.Equal(t, tc.data, string(data))
		assert.Equal(t, tc.drop, drop)
		assert.LessOrEqual(t, st.oob, uint32(maxOOB))
	}
}

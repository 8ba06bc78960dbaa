package detect

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/interdict/interdict/inspect"
)

var icmpMeta = inspect.FlowMeta{ID: 9, Proto: inspect.ProtoICMP,
	Src: netip.MustParseAddrPort("192.168.0.89:0"), Dst: netip.MustParseAddrPort("192.168.0.1:0")}

// echo builds an ICMP echo message: type, code, checksum, id, seq, data.
func echo(typ, code byte, id, seq uint16, data string) string {
	return string([]byte{typ, code, 0, 0, byte(id >> 8), byte(id), byte(seq >> 8), byte(seq)}) + data
}

// ICMP keyword semantics from docs.suricata.io (itype, icode, icmp_id,
// icmp_seq; ranges are exclusive).
func TestICMPKeywords(t *testing.T) {
	req := chunk{inspect.ToServer, echo(8, 0, 0x200, 9, "abcdefgh")}
	reply := chunk{inspect.ToClient, echo(0, 0, 0x200, 9, "abcdefgh")}
	unreach := chunk{inspect.ToClient, echo(3, 3, 0, 0, "orig")}
	cases := []struct {
		name, opts string
		proto      string
		chunks     []chunk
		want       []uint32
	}{
		{"itype request", `itype:8;`, "icmp", []chunk{req, reply}, []uint32{1}},
		{"itype reply", `itype:0;`, "icmp", []chunk{req, reply}, []uint32{1}},
		{"itype greater", `itype:>2;`, "icmp", []chunk{req, reply, unreach}, []uint32{1, 1}},
		{"itype less", `itype:<3;`, "icmp", []chunk{req, reply, unreach}, []uint32{1}},
		{"itype range exclusive", `itype:0<>8;`, "icmp", []chunk{req, reply, unreach}, []uint32{1}},
		{"icode", `itype:3; icode:3;`, "icmp", []chunk{req, unreach}, []uint32{1}},
		{"icode mismatch", `icode:1;`, "icmp", []chunk{unreach}, nil},
		{"icmp_id", `icmp_id:512;`, "icmp", []chunk{req}, []uint32{1}},
		{"icmp_id wrong", `icmp_id:513;`, "icmp", []chunk{req}, nil},
		{"icmp_id not on unreachable", `icmp_id:0;`, "icmp", []chunk{unreach}, nil},
		{"icmp_seq", `icmp_seq:9;`, "icmp", []chunk{req, reply}, []uint32{1, 1}},
		{"content in payload after header", `itype:8; content:"cdef"; offset:2; depth:4;`, "icmp", []chunk{req}, []uint32{1}},
		{"content not in header", `content:"|08 00|";`, "icmp", []chunk{req}, nil},
		{"dsize counts payload", `dsize:8;`, "icmp", []chunk{req}, []uint32{1}},
		{"ip rule sees icmp", `content:"abc";`, "ip", []chunk{req}, []uint32{1}},
		{"tcp rule does not", `content:"abc";`, "tcp", []chunk{req}, nil},
		{"flow to_server", `flow:to_server; itype:>=0;`, "icmp", []chunk{req, reply}, []uint32{1}},
		{"established after both directions", `flow:established;`, "icmp", []chunk{req, reply, req}, []uint32{1, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := mustEngine(t, `alert `+tc.proto+` any any -> any any (msg:"t"; `+tc.opts+` sid:1;)`, Options{})
			assert.Equal(t, tc.want, flat(run(e, icmpMeta, tc.chunks)))
		})
	}
}

// detection_filter by_flow over ICMP messages, as suricata-verify's
// threshold/detection_filter-rule-flow: the first count matches are
// swallowed, every later one alerts.
func TestICMPDetectionFilter(t *testing.T) {
	for _, tc := range []struct {
		count int
		want  int
	}{{1, 7}, {2, 6}, {4, 4}, {7, 1}, {8, 0}} {
		t.Run(string(rune('0'+tc.count)), func(t *testing.T) {
			now := time.Unix(1000, 0)
			e := mustEngine(t, `alert icmp any any -> any any (itype:8; detection_filter:track by_flow, count `+
				string(rune('0'+tc.count))+`, seconds 3600; sid:2;)`, Options{Now: func() time.Time { return now }})
			f := e.NewFlow(icmpMeta)
			got := 0
			for i := 0; i < 8; i++ {
				got += len(f.Inspect(inspect.ToServer, []byte(echo(8, 0, 1, uint16(i), "x"))).Alerts)
				got += len(f.Inspect(inspect.ToClient, []byte(echo(0, 0, 1, uint16(i), "x"))).Alerts)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

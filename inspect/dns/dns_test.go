package dns

import (
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// wireName encodes a dotted name as labels (RFC 1035 3.1).
func wireName(n string) []byte {
	var b []byte
	if n != "" {
		for _, l := range strings.Split(n, ".") {
			b = append(b, byte(len(l)))
			b = append(b, l...)
		}
	}
	return append(b, 0)
}

type q struct {
	name  []byte // wire form
	qtype uint16
}

// buildMsg assembles a message: header, questions, then raw records.
func buildMsg(id uint16, flags uint16, qs []q, an int, records []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, id)
	b = binary.BigEndian.AppendUint16(b, flags)
	b = binary.BigEndian.AppendUint16(b, uint16(len(qs)))
	b = binary.BigEndian.AppendUint16(b, uint16(an))
	b = append(b, 0, 0, 0, 0)
	for _, x := range qs {
		b = append(b, x.name...)
		b = binary.BigEndian.AppendUint16(b, x.qtype)
		b = append(b, 0, 1)
	}
	return append(b, records...)
}

// aRecord is an A record whose name is a pointer to offset 12.
func aRecord() []byte {
	return []byte{0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1}
}

const (
	flagsQuery    = 0x0100 // RD
	flagsAnswer   = 0x8180 // QR RD RA
	flagsNXDomain = 0x8183
)

type got struct {
	queries []string
	txIDs   []uint64
	events  []inspect.DNSTx
	anoms   []string
}

func (g *got) emit(u *applayer.Unit) {
	for _, b := range u.Multi[applayer.DNSQuery] {
		g.queries = append(g.queries, string(b))
	}
	g.txIDs = append(g.txIDs, u.TxID)
	if u.Event != nil {
		// TestQuestionsAndFlags checks these; the table compares the rest.
		d := *u.Event.DNS
		d.Flags, d.Queries, d.Answers, d.Authorities, d.Additionals = 0, nil, nil, nil, nil
		g.events = append(g.events, d)
	}
	for _, a := range u.Anomalies {
		g.anoms = append(g.anoms, a.Event)
	}
}

func TestMessages(t *testing.T) {
	tests := []struct {
		name    string
		dir     inspect.Direction
		msg     []byte
		queries []string
		events  []inspect.DNSTx
		anoms   []string
	}{
		{
			name:    "A query",
			dir:     inspect.ToServer,
			msg:     buildMsg(0x1234, flagsQuery, []q{{wireName("www.Example.com"), 1}}, 0, nil),
			queries: []string{"www.Example.com"},
			events:  []inspect.DNSTx{{Type: "query", ID: 0x1234, RRName: "www.Example.com", RRType: "A", RCode: "NOERROR"}},
		},
		{
			name: "answer with compressed record",
			dir:  inspect.ToClient,
			msg:  buildMsg(7, flagsAnswer, []q{{wireName("a.example"), 28}}, 1, aRecord()),
			// dns.query is the request's only
			events: []inspect.DNSTx{{Type: "answer", ID: 7, RRName: "a.example", RRType: "AAAA", RCode: "NOERROR"}},
		},
		{
			name: "NXDOMAIN",
			dir:  inspect.ToClient,
			msg:  buildMsg(8, flagsNXDomain, []q{{wireName("nope.example"), 16}}, 0, nil),
			// dns.query is the request's only
			events: []inspect.DNSTx{{Type: "answer", ID: 8, RRName: "nope.example", RRType: "TXT", RCode: "NXDOMAIN"}},
		},
		{
			name:    "two questions, second compressed",
			dir:     inspect.ToServer,
			msg:     buildMsg(9, flagsQuery, []q{{wireName("x.example.org"), 1}, {append(wireName("y")[:2], 0xc0, 14), 65}}, 0, nil),
			queries: []string{"x.example.org", "y.example.org"},
			events:  []inspect.DNSTx{{Type: "query", ID: 9, RRName: "x.example.org", RRType: "A", RCode: "NOERROR"}},
		},
		{
			name:    "root name",
			dir:     inspect.ToServer,
			msg:     buildMsg(10, flagsQuery, []q{{wireName(""), 2}}, 0, nil),
			queries: []string{""},
			events:  []inspect.DNSTx{{Type: "query", ID: 10, RRName: "<root>", RRType: "NS", RCode: "NOERROR"}},
		},
		{
			name:    "unknown type is numeric",
			dir:     inspect.ToServer,
			msg:     buildMsg(11, flagsQuery, []q{{wireName("t.example"), 65280}}, 0, nil),
			queries: []string{"t.example"},
			events:  []inspect.DNSTx{{Type: "query", ID: 11, RRName: "t.example", RRType: "65280", RCode: "NOERROR"}},
		},
		{
			name:   "pointer loop",
			dir:    inspect.ToServer,
			msg:    buildMsg(12, flagsQuery, []q{{[]byte{1, 'a', 0xc0, 12}, 1}}, 0, nil),
			events: []inspect.DNSTx{{Type: "query", ID: 12, RCode: "NOERROR"}},
			anoms:  []string{EvInfiniteLoop},
		},
		{
			name:   "self pointer",
			dir:    inspect.ToServer,
			msg:    buildMsg(13, flagsQuery, []q{{[]byte{0xc0, 12}, 1}}, 0, nil),
			events: []inspect.DNSTx{{Type: "query", ID: 13, RCode: "NOERROR"}},
			anoms:  []string{EvInfiniteLoop},
		},
		{
			name:   "name too long",
			dir:    inspect.ToServer,
			msg:    buildMsg(14, flagsQuery, []q{{wireName(strings.Repeat("abcdefghi.", 30) + "com"), 1}}, 0, nil),
			events: []inspect.DNSTx{{Type: "query", ID: 14, RCode: "NOERROR"}},
			anoms:  []string{EvNameTooLong},
		},
		{
			name: "record truncated",
			dir:  inspect.ToClient,
			msg:  buildMsg(15, flagsAnswer, []q{{wireName("a.b"), 1}}, 1, aRecord()[:12]),
			// dns.query is the request's only
			events: []inspect.DNSTx{{Type: "answer", ID: 15, RRName: "a.b", RRType: "A", RCode: "NOERROR"}},
			anoms:  []string{EvMalformedData},
		},
		{
			name:    "response sent to the server, Z flag",
			dir:     inspect.ToServer,
			msg:     buildMsg(16, flagsAnswer|0x0040, []q{{wireName("z.example"), 1}}, 0, nil),
			queries: []string{"z.example"},
			events:  []inspect.DNSTx{{Type: "answer", ID: 16, RRName: "z.example", RRType: "A", RCode: "NOERROR"}},
			anoms:   []string{EvNotARequest, EvZFlagSet},
		},
		{
			name:  "short header",
			dir:   inspect.ToServer,
			msg:   []byte{1, 2, 3},
			anoms: []string{EvMalformedData},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var g got
			New(false).Feed(tc.dir, tc.msg, g.emit)
			assert.Equal(t, tc.queries, g.queries)
			assert.Equal(t, tc.events, g.events)
			assert.Equal(t, tc.anoms, g.anoms)

			// The same message over TCP, length-prefixed, a byte at a time.
			var gt got
			p := New(true)
			framed := append(binary.BigEndian.AppendUint16(nil, uint16(len(tc.msg))), tc.msg...)
			for i := range framed {
				p.Feed(tc.dir, framed[i:i+1], gt.emit)
			}
			assert.Equal(t, g, gt, "tcp bytewise")
		})
	}
}

// As in Suricata 8, each message is a transaction: an answer is not
// paired with its query's, and dns.query is only the queries'.
func TestTransactionPerMessage(t *testing.T) {
	p := New(false)
	var g got
	p.Feed(inspect.ToServer, buildMsg(1, flagsQuery, []q{{wireName("one"), 1}}, 0, nil), g.emit)
	p.Feed(inspect.ToServer, buildMsg(2, flagsQuery, []q{{wireName("two"), 1}}, 0, nil), g.emit)
	p.Feed(inspect.ToClient, buildMsg(2, flagsAnswer, []q{{wireName("two"), 1}}, 0, nil), g.emit)
	p.Feed(inspect.ToClient, buildMsg(1, flagsAnswer, []q{{wireName("one"), 1}}, 0, nil), g.emit)
	assert.Equal(t, []uint64{0, 1, 2, 3}, g.txIDs)
	assert.Equal(t, []string{"one", "two"}, g.queries)
}

func TestTCPStream(t *testing.T) {
	var stream []byte
	var want []string
	for i, n := range []string{"a.example", "b.example", "c.example"} {
		m := buildMsg(uint16(i), flagsQuery, []q{{wireName(n), 1}}, 0, nil)
		stream = append(stream, binary.BigEndian.AppendUint16(nil, uint16(len(m)))...)
		stream = append(stream, m...)
		want = append(want, n)
	}
	stream = append(stream, 0, 0) // an empty message is skipped
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 30 {
		var g got
		p := New(true)
		for b := stream; len(b) > 0; {
			n := 1 + rng.IntN(len(b))
			if i == 0 {
				n = len(b)
			}
			p.Feed(inspect.ToServer, b[:n], g.emit)
			b = b[n:]
		}
		p.Close(g.emit)
		assert.Equal(t, want, g.queries)
		assert.Equal(t, []uint64{0, 1, 2}, g.txIDs)
	}
}

func TestProbe(t *testing.T) {
	query := buildMsg(1, flagsQuery, []q{{wireName("p.example"), 1}}, 0, nil)
	answer := buildMsg(1, flagsAnswer, []q{{wireName("p.example"), 1}}, 1, aRecord())
	framed := append(binary.BigEndian.AppendUint16(nil, uint16(len(query))), query...)
	tests := []struct {
		name  string
		probe func(inspect.Direction, []byte) applayer.ProbeResult
		dir   inspect.Direction
		data  []byte
		want  applayer.ProbeResult
	}{
		{"udp query", ProbeUDP, inspect.ToServer, query, applayer.ProbeYes},
		{"udp answer", ProbeUDP, inspect.ToClient, answer, applayer.ProbeYes},
		{"udp answer towards server", ProbeUDP, inspect.ToServer, answer, applayer.ProbeNo},
		{"udp short", ProbeUDP, inspect.ToServer, query[:10], applayer.ProbeNo},
		{"udp counts exceed size", ProbeUDP, inspect.ToServer, buildMsg(1, flagsQuery, []q{{wireName("p"), 1}}, 300, nil), applayer.ProbeNo},
		{"udp HTTP", ProbeUDP, inspect.ToServer, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), applayer.ProbeNo},
		{"udp no question", ProbeUDP, inspect.ToServer, buildMsg(1, flagsQuery, nil, 0, nil), applayer.ProbeNo},
		// As Suricata's probe: an unassigned opcode (9) is DNS, parsed
		// with the event invalid_opcode (TestInvalidOpcodeParsed).
		{"udp unassigned opcode", ProbeUDP, inspect.ToServer, buildMsg(1, flagsQuery|9<<11, []q{{wireName("p.example"), 1}}, 0, nil), applayer.ProbeYes},
		{"tcp query", ProbeTCP, inspect.ToServer, framed, applayer.ProbeYes},
		{"tcp header only so far", ProbeTCP, inspect.ToServer, framed[:16], applayer.ProbeYes},
		{"tcp prefix only", ProbeTCP, inspect.ToServer, framed[:5], applayer.ProbeMore},
		{"tcp tiny length", ProbeTCP, inspect.ToServer, []byte{0, 3, 1, 2, 3}, applayer.ProbeNo},
		{"tcp TLS", ProbeTCP, inspect.ToServer, []byte{22, 3, 1, 2, 0, 1, 0, 1, 252, 3, 3, 1, 2, 3, 4, 5}, applayer.ProbeNo},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.probe(tc.dir, tc.data))
		})
	}
}

func TestRegistered(t *testing.T) {
	var trs []inspect.Proto
	for _, p := range applayer.Protos() {
		if p.Name == AppProto {
			trs = append(trs, p.Transport)
			require.NotNil(t, p.New())
		}
	}
	assert.ElementsMatch(t, []inspect.Proto{inspect.ProtoUDP, inspect.ProtoTCP}, trs)
}

func FuzzDNS(f *testing.F) {
	f.Add(buildMsg(1, flagsAnswer, []q{{wireName("f.example"), 1}}, 1, aRecord()), uint64(1))
	f.Add(buildMsg(2, flagsQuery, []q{{[]byte{1, 'a', 0xc0, 12}, 1}}, 0, nil), uint64(2))
	f.Fuzz(func(t *testing.T, msg []byte, seed uint64) {
		var udp got
		p := New(false)
		for _, dir := range []inspect.Direction{inspect.ToServer, inspect.ToClient} {
			p.Feed(dir, msg, udp.emit)
		}
		for _, n := range udp.queries {
			require.LessOrEqual(t, len(n), maxName)
		}
		if len(msg) > 0xffff {
			return
		}
		// TCP framing at random chunking must see the same message.
		framed := append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...)
		var tcp got
		pt := New(true)
		rng := rand.New(rand.NewPCG(seed, 9))
		for _, dir := range []inspect.Direction{inspect.ToServer, inspect.ToClient} {
			for b := framed; len(b) > 0; {
				n := 1 + rng.IntN(len(b))
				pt.Feed(dir, b[:n], tcp.emit)
				b = b[n:]
			}
		}
		pt.Close(tcp.emit)
		if len(msg) == 0 {
			return // a zero-length TCP message carries nothing
		}
		require.Equal(t, udp, tcp)
	})
}

func BenchmarkQuery(b *testing.B) {
	m := buildMsg(1, flagsAnswer, []q{{wireName("www.example.com"), 1}}, 1, aRecord())
	p := New(false)
	b.SetBytes(int64(len(m)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		p.Feed(inspect.ToClient, m, func(*applayer.Unit) { n++ })
	}
}

// TestQuestionsAndFlags: the record carries the header flags and every
// question, for EVE's dns v3 object.
func TestQuestionsAndFlags(t *testing.T) {
	var ev *inspect.DNSTx
	p := New(false)
	msg := buildMsg(5, flagsNXDomain, []q{{wireName("a.example"), 1}, {wireName(""), 2}}, 0, nil)
	p.Feed(inspect.ToClient, msg, func(u *applayer.Unit) {
		if u.Event != nil {
			d := *u.Event.DNS
			ev = &d
		}
	})
	require.NotNil(t, ev)
	assert.EqualValues(t, flagsNXDomain, ev.Flags)
	assert.Equal(t, []inspect.DNSQuestion{{RRName: "a.example", RRType: "A"}, {RRName: "<root>", RRType: "NS"}}, ev.Queries)
}

// TestInvalidOpcodeParsed: a message with an unassigned opcode is read
// as DNS and raises invalid_opcode.
func TestInvalidOpcodeParsed(t *testing.T) {
	m := buildMsg(1, flagsQuery|9<<11, []q{{wireName("p.example"), 1}}, 0, nil)
	var events []string
	queries := 0
	New(false).Feed(inspect.ToServer, m, func(u *applayer.Unit) {
		for _, a := range u.Anomalies {
			events = append(events, a.Event)
		}
		queries += len(u.Multi[applayer.DNSQuery])
	})
	assert.Contains(t, events, EvInvalidOpcode)
	assert.Equal(t, 1, queries)
}

package detect

import (
	"bytes"
	"fmt"
	"math/rand"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
	"github.com/interdict/interdict/inspect/http1"
	"github.com/interdict/interdict/inspect/rules"
)

// fakeHTTP is a tiny request-line parser: "METHOD URI\n" per transaction,
// enough to prove the engine is protocol-agnostic.
type fakeHTTP struct {
	buf [2][]byte
	tx  uint64
	app string // the Units' AppProto; "" is http
}

func (p *fakeHTTP) Feed(dir inspect.Direction, data []byte, emit func(*applayer.Unit)) {
	p.buf[dir] = append(p.buf[dir], data...)
	for {
		i := bytes.IndexByte(p.buf[dir], '\n')
		if i < 0 {
			return
		}
		line := p.buf[dir][:i]
		p.buf[dir] = p.buf[dir][i+1:]
		u := &applayer.Unit{Dir: dir, TxID: p.tx, AppProto: "http"}
		if p.app != "" {
			u.AppProto = p.app
		}
		if dir == inspect.ToServer {
			m, uri, _ := bytes.Cut(line, []byte(" "))
			u.Buffers[applayer.HTTPMethod] = m
			u.Buffers[applayer.HTTPURI] = uri
			u.Buffers[applayer.HTTPHost] = []byte("Example.COM")
		} else {
			u.Buffers[applayer.HTTPStatCode] = line
			p.tx++
		}
		emit(u)
	}
}

func (p *fakeHTTP) Close(func(*applayer.Unit)) {}

var fakeProto = applayer.Proto{
	Name: "http", Transport: inspect.ProtoTCP,
	Probe: func(dir inspect.Direction, data []byte) applayer.ProbeResult {
		for _, m := range []string{"GET ", "POST "} {
			if bytes.HasPrefix(data, []byte(m)) {
				return applayer.ProbeYes
			}
			if bytes.HasPrefix([]byte(m), data) {
				return applayer.ProbeMore
			}
		}
		return applayer.ProbeNo
	},
	New:     func() applayer.Parser { return &fakeHTTP{} },
	Buffers: []applayer.Buffer{applayer.HTTPMethod, applayer.HTTPURI, applayer.HTTPHost, applayer.HTTPStatCode},
}

func TestStickyBuffers(t *testing.T) {
	ruleText := `
alert http any any -> any any (msg:"uri"; flow:to_server; http.uri; content:"/admin"; startswith; sid:1;)
alert http any any -> any any (msg:"method+uri"; http.method; content:"POST"; http.uri; content:".php"; endswith; sid:2;)
alert tcp any any -> any any (msg:"legacy"; content:"GET"; http_method; content:"/admin"; http_uri; sid:3;)
alert http any any -> any any (msg:"uricontent"; uricontent:"/admin"; sid:4;)
alert http any any -> any any (msg:"pcre U"; pcre:"/^\/adm/U"; sid:5;)
alert http any any -> any any (msg:"host lower"; http.host; to_lowercase; content:"example.com"; bsize:11; sid:6;)
alert http any any -> any any (msg:"dotprefix"; http.host; dotprefix; to_lowercase; content:".example.com"; endswith; sid:7;)
alert http any any -> any any (msg:"stat"; http.stat_code; content:"404"; sid:8;)
alert http any any -> any any (msg:"raw content on http"; content:"GET /admin"; sid:9;)
alert tcp any any -> any any (msg:"uri absent"; http.uri; content:"/nothere"; sid:10;)
`
	set := &rules.Set{}
	require.NoError(t, set.Load(strings.NewReader(ruleText), "t.rules", nil))
	require.Empty(t, set.Errors)
	e, err := New(set.Rules, Options{Protos: []applayer.Proto{fakeProto}})
	require.NoError(t, err)
	require.Empty(t, e.Rejected())

	collect := func(f inspect.FlowInspector, dir inspect.Direction, data string) (sids []uint32, txs []uint64) {
		r := f.Inspect(dir, []byte(data))
		for _, a := range r.Alerts {
			sids = append(sids, a.Rule.SID)
			txs = append(txs, a.TxID)
			if a.Rule.SID != 9 {
				assert.Equal(t, "http", a.AppProto)
			}
		}
		return
	}
	f := e.NewFlow(tcpMeta)
	// Split the request line so probe needs more and the unit comes later.
	s, _ := collect(f, inspect.ToServer, "GE")
	assert.Empty(t, s)
	s, _ = collect(f, inspect.ToServer, "T /admin/x\n")
	assert.ElementsMatch(t, []uint32{1, 3, 4, 5, 6, 7, 9}, s)
	s, _ = collect(f, inspect.ToClient, "404\n")
	assert.ElementsMatch(t, []uint32{8}, s, "request rules are not re-run on the response unit")
	s, tx := collect(f, inspect.ToServer, "POST /admin/a.php\n")
	assert.ElementsMatch(t, []uint32{1, 2, 4, 5, 6, 7}, s, "second transaction alerts again; raw sid 9 fired once per direction")
	for _, x := range tx {
		assert.Equal(t, uint64(1), x)
	}

	t.Run("no protocol detected", func(t *testing.T) {
		f := e.NewFlow(tcpMeta)
		s, _ := collect(f, inspect.ToServer, "HELO GET /admin\n")
		assert.Empty(t, s)
	})
}

// Random chunking of the same stream gives the same alerts as one chunk.
// Rules 9-18 fail in ways that more bytes can or cannot change, which
// decides whether a pending rule waits for its fast pattern again.
// Rules here are monotone (no negation, endswith or isdataat:!), whose
// verdict can legitimately change as a stream grows. With a stream depth
// the same holds: where the chunk boundaries fall never moves the depth.
func TestChunkingProperty(t *testing.T) {
	for _, depth := range []int64{0, 300, 1000} {
		t.Run(fmt.Sprintf("depth=%d", depth), func(t *testing.T) { testChunking(t, depth) })
	}
}

func testChunking(t *testing.T, depth int64) {
	e := mustEngine(t, `
alert tcp any any -> any any (msg:"a"; content:"attack"; sid:1;)
alert tcp any any -> any any (msg:"b"; content:"user="; content:"root"; distance:0; within:20; sid:2;)
alert tcp any any -> any any (msg:"c"; content:"cmd"; nocase; pcre:"/cmd\s+\d+/Ri"; sid:3;)
alert tcp any any -> any any (msg:"d"; content:"LEN"; byte_test:1,>,200,0,relative; sid:4;)
alert tcp any any -> any any (msg:"e"; content:"HDR"; byte_jump:1,0,relative; content:"END"; within:3; sid:5;)
alert tcp any any -> any any (msg:"f"; content:"|00 01 02 03 04 05|"; sid:6;)
alert tcp any any -> any any (msg:"g"; content:"aaaa"; content:"bbbb"; distance:100; sid:7;)
alert tcp any any -> any any (msg:"h"; content:"zz"; depth:50; sid:8;)
alert tcp any any -> any any (msg:"anchored bounded pcre"; content:"ASIA"; pcre:"/^[A-Z0-9]{4}/R"; sid:9;)
alert tcp any any -> any any (msg:"fast pattern not first"; content:"k="; content:"LONGFP"; distance:0; within:30; sid:10;)
alert tcp any any -> any any (msg:"partial fast pattern"; content:"ABCDEF"; fast_pattern:0,3; sid:11;)
alert tcp any any -> any any (msg:"isdataat"; content:"ASIA"; isdataat:6,relative; sid:12;)
alert tcp any any -> any any (msg:"byte_test past end"; content:"ASIA"; byte_test:1,=,0x5a,5,relative; sid:13;)
alert tcp any any -> any any (msg:"unanchored pcre"; content:"ASIA"; pcre:"/[0-9]{3}/R"; sid:14;)
alert tcp any any -> any any (msg:"unbounded after first"; content:"q:"; content:"LONGFP"; distance:0; sid:15;)
alert tcp any any -> any any (msg:"optional group"; content:"ASIA"; pcre:"/^(-|[0-9]{2})?[A-Z]{2}Z/R"; sid:16;)
alert tcp any any -> any any (msg:"jump past end"; content:"JMP"; byte_jump:1,0,relative; content:"END"; within:3; sid:17;)
alert tcp any any -> any any (msg:"bounded first"; content:"GO"; depth:40; content:"LONGFP"; distance:0; sid:18;)
`, Options{StreamDepth: depth})
	rng := rand.New(rand.NewSource(1))
	pieces := []string{"attack", "user=", "root", "cmd 12", "CMD", "LEN\xff", "LEN\x01", "HDR\x02xyEND", "\x00\x01\x02\x03\x04\x05", "aaaa", "bbbb", "zz", "filler", " ", "\n",
		"ASIA", "ASIA", "ASIA-", "AB12", "ZZ", "Z", "12", "k=", "LONGFP", "q:", "ABC", "DEF", "123", "END", "JMP", "\x02", "GO"}
	for iter := 0; iter < 1000; iter++ {
		var sb strings.Builder
		for n := rng.Intn(40); n > 0; n-- {
			sb.WriteString(pieces[rng.Intn(len(pieces))])
			if rng.Intn(5) == 0 {
				sb.WriteString(strings.Repeat("x", rng.Intn(120)))
			}
		}
		stream := sb.String()
		whole := flat(run(e, tcpMeta, cs(stream)))
		var parts []string
		for rest := stream; len(rest) > 0; {
			n := 1 + rng.Intn(min(len(rest), 17))
			parts, rest = append(parts, rest[:n]), rest[n:]
		}
		chunked := flat(run(e, tcpMeta, cs(parts...)))
		require.Equal(t, whole, chunked, "stream %q split %q", stream, parts)
	}
}

func FuzzInspect(f *testing.F) {
	e := mustEngine(f, `
alert tcp any any -> any any (msg:"a"; content:"GET"; depth:3; content:"/x"; distance:0; pcre:"/x\d+/R"; sid:1;)
alert tcp any any -> any any (msg:"b"; content:"L"; byte_extract:2,0,n,relative; byte_jump:2,0,relative,little; isdataat:n,relative; sid:2;)
alert tcp any any -> any any (msg:"c"; content:"T"; byte_test:4,>,7,-2,relative,string,hex; sid:3;)
alert tcp any any -> any any (msg:"d"; content:!"zz"; flowbits:toggle,q; sid:4;)
alert tcp any any -> any any (msg:"e"; content:"end"; endswith; nocase; sid:5;)
alert http any any -> any any (msg:"f"; http.uri; content:"/x"; sid:6;)
`, Options{Window: 64, Protos: []applayer.Proto{fakeProto}})
	f.Add([]byte("GET /x12 HTTP/1.1\n"), []byte{3, 5, 7})
	f.Add([]byte("L\x00\x05\x00\x01\xffT0000000aEND"), []byte{1})
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		fl := e.NewFlow(tcpMeta)
		rest := data
		for i := 0; len(rest) > 0; i++ {
			n := len(rest)
			if i < len(cuts) {
				n = min(n, int(cuts[i])+1)
			}
			dir := inspect.Direction(i % 2)
			fl.Inspect(dir, rest[:n])
			rest = rest[n:]
		}
		fl.Close()
	})
}

// A transaction's buffers are re-sent with each Unit; skipping unchanged
// ones and scanning only a body's new bytes must not lose matches that
// need a later piece (in the same or another buffer, or split across two
// pieces), nor repeat alerts. Uses the real HTTP/1 parser.
func TestUnitBuffersAcrossPieces(t *testing.T) {
	e := mustEngine(t, `
alert http any any -> any any (msg:"body"; flow:to_client; http.response_body; content:"needle"; sid:1;)
alert http any any -> any any (msg:"uri+body"; flow:to_client; http.uri; content:"/a"; http.response_body; content:"late"; sid:2;)
alert http any any -> any any (msg:"uri"; http.uri; content:"/a"; sid:3;)
`, Options{Protos: applayer.Protos()})
	req := "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
	head := "HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n"
	chunks := []chunk{
		{inspect.ToServer, req},
		{inspect.ToClient, head},
		{inspect.ToClient, "0123456789"},
		{inspect.ToClient, "01needle89"},
		{inspect.ToClient, "late456789"},
		{inspect.ToServer, req},
		{inspect.ToClient, head + "0123456789"},
		{inspect.ToClient, "0123456789"},
		{inspect.ToClient, "lateneedle"},
		{inspect.ToServer, req},
		{inspect.ToClient, head + "0123456nee"},
		{inspect.ToClient, "dle34567"},
		{inspect.ToClient, "01234567la"},
		{inspect.ToClient, "te"},
	}
	got := run(e, tcpMeta, chunks)
	want := [][]uint32{{3}, nil, nil, {1}, {2}, {3}, nil, nil, {1, 2}, {3}, nil, {1}, nil, {2}}
	for i := range want {
		assert.Equal(t, want[i], got[i], "chunk %d %q", i, chunks[i].data)
	}
}

// A first chunk longer than the probe bound is parsed whole: the bytes past
// the bound used to be lost, so a request whose headers ran past 4 KiB lost
// every header rule.
func TestProbeBoundKeepsChunk(t *testing.T) {
	e := mustEngine(t, `alert http any any -> any any (msg:"late"; flow:to_server; http.uri; content:"/late"; sid:1;)`, Options{Protos: []applayer.Proto{fakeProto}, MaxProbe: 64})
	f := e.NewFlow(tcpMeta)
	chunk := "GET /early" + strings.Repeat("x", 100) + "\nGET /late\n"
	r := f.Inspect(inspect.ToServer, []byte(chunk))
	require.Len(t, r.Alerts, 1)
	assert.Equal(t, uint32(1), r.Alerts[0].Rule.SID)
}

// The flow says which protocol was detected and why; a flow to an HTTP
// port that no parser recognises is an anomaly the policy can refuse.
func TestAppProtoReason(t *testing.T) {
	e := mustEngine(t, `alert tcp any any -> any any (msg:"x"; content:"zzz"; sid:1;)`, Options{Protos: []applayer.Proto{fakeProto}, HTTPPorts: []uint16{80}})
	f := e.NewFlow(tcpMeta)
	f.Inspect(inspect.ToServer, []byte("GET /x\n"))
	assert.Equal(t, "content to_server", f.(inspect.AppProtoReasoner).AppProtoReason())

	for _, tc := range []struct {
		port  uint16
		anoms []string
	}{{80, []string{"HTTP_PORT_NOT_HTTP"}}, {8443, nil}} {
		meta := tcpMeta
		meta.Dst = netip.AddrPortFrom(meta.Dst.Addr(), tc.port)
		f := e.NewFlow(meta)
		r := f.Inspect(inspect.ToServer, []byte("\x16\x03\x01 not http\n"))
		var got []string
		for _, ev := range r.Events {
			if ev.Anomaly != nil {
				got = append(got, ev.Anomaly.Event)
			}
		}
		assert.Equal(t, tc.anoms, got, "port %d", tc.port)
		assert.Equal(t, "no parser recognised to_server", f.(inspect.AppProtoReasoner).AppProtoReason())
	}
}

// A direction no parser recognises leaves the other to decide, as in
// Suricata: a junk request answered by an HTTP response is parsed as
// HTTP (the response's buffers match), and the HTTP port anomaly is
// still raised for the request side at once.
func TestOtherDirectionDecides(t *testing.T) {
	var protos []applayer.Proto
	for _, p := range applayer.Protos() {
		if p.Name == http1.AppProto {
			protos = append(protos, p)
		}
	}
	e := mustEngine(t, `alert http any any -> any any (msg:"r"; http.response_line; content:"HTTP/1.1 400"; sid:1;)`,
		Options{Protos: protos, HTTPPorts: []uint16{80}})
	meta := tcpMeta
	meta.Dst = netip.AddrPortFrom(meta.Dst.Addr(), 80)
	f := e.NewFlow(meta)
	r := f.Inspect(inspect.ToServer, []byte("\x8f\x01junk that is no request\r\n"))
	require.Len(t, r.Events, 1)
	assert.Equal(t, "HTTP_PORT_NOT_HTTP", r.Events[0].Anomaly.Event)
	r = f.Inspect(inspect.ToClient, []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
	require.Len(t, r.Alerts, 1)
	assert.Equal(t, uint32(1), r.Alerts[0].Rule.SID)
	assert.Equal(t, "http", inspect.AppProtoOf(f))

	// Both directions unrecognised: probing ends.
	f = e.NewFlow(meta)
	f.Inspect(inspect.ToServer, []byte("\x8f\x01junk\r\n"))
	f.Inspect(inspect.ToClient, []byte("\x00\x02more junk\r\n"))
	assert.Equal(t, "", inspect.AppProtoOf(f))
	assert.Contains(t, f.(inspect.AppProtoReasoner).AppProtoReason(), "no parser recognised")
}

// "alert http" matches HTTP/1 and HTTP/2 transactions, "alert http1"
// only HTTP/1 and "alert http2" only HTTP/2, as in Suricata.
func TestHTTPVersionRules(t *testing.T) {
	const rules = `
alert http any any -> any any (msg:"any"; http.uri; content:"/x"; sid:1;)
alert http1 any any -> any any (msg:"v1"; http.uri; content:"/x"; sid:2;)
alert http2 any any -> any any (msg:"v2"; http.uri; content:"/x"; sid:3;)
alert tcp any any -> any any (msg:"v1 by keyword"; app-layer-protocol:http1; http.uri; content:"/x"; sid:4;)
`
	for app, want := range map[string][]uint32{"http": {1, 2, 4}, "http2": {1, 3}} {
		proto := fakeProto
		proto.New = func() applayer.Parser { return &fakeHTTP{app: app} }
		e := mustEngine(t, rules, Options{Protos: []applayer.Proto{proto}})
		got := flat(run(e, tcpMeta, cs("GET /x\n")))
		slices.Sort(got)
		assert.Equal(t, want, got, app)
	}
}

// A server that speaks first in no known protocol (an HTTP/2 server's
// SETTINGS) leaves the flow to the client's bytes; its bytes reach the
// parser once the client's are recognised.
func TestServerSpeaksFirst(t *testing.T) {
	e := mustEngine(t, `alert http any any -> any any (msg:"m"; http.method; content:"GET"; sid:1;)
alert http any any -> any any (msg:"s"; http.stat_code; content:"200"; sid:2;)`, Options{Protos: []applayer.Proto{fakeProto}})
	f := e.NewFlow(tcpMeta)
	var sids []uint32
	for _, r := range []inspect.Result{f.Inspect(inspect.ToClient, []byte("\x00\x00\x00\x04")),
		f.Inspect(inspect.ToServer, []byte("GET /x\n")), f.Inspect(inspect.ToClient, []byte("200\n"))} {
		for _, a := range r.Alerts {
			sids = append(sids, a.Rule.SID)
		}
	}
	assert.Equal(t, []uint32{1, 2}, sids)
	assert.Equal(t, "http", f.(inspect.AppProtoReporter).AppProto())

}

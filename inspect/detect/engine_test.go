package detect

import (
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
	"github.com/interdict/interdict/inspect/prefilter"
	"github.com/interdict/interdict/inspect/rules"
)

func mustEngine(t testing.TB, text string, opts Options) *Engine {
	t.Helper()
	set := &rules.Set{}
	require.NoError(t, set.Load(strings.NewReader(text), "test.rules", nil))
	require.Empty(t, set.Errors)
	if opts.Protos == nil {
		opts.Protos = []applayer.Proto{}
	}
	e, err := New(set.Rules, opts)
	require.NoError(t, err)
	require.Empty(t, e.Rejected())
	return e
}

var tcpMeta = inspect.FlowMeta{ID: 1, Proto: inspect.ProtoTCP,
	Src: netip.MustParseAddrPort("192.168.1.10:40000"), Dst: netip.MustParseAddrPort("203.0.113.5:80")}

type chunk struct {
	dir  inspect.Direction
	data string
}

// sids runs chunks through a new flow and returns the alerting sids per
// chunk index, sorted.
func run(e *Engine, meta inspect.FlowMeta, chunks []chunk) [][]uint32 {
	f := e.NewFlow(meta)
	out := make([][]uint32, len(chunks))
	for i, c := range chunks {
		res := f.Inspect(c.dir, []byte(c.data))
		for _, a := range res.Alerts {
			out[i] = append(out[i], a.Rule.SID)
		}
		sort.Slice(out[i], func(a, b int) bool { return out[i][a] < out[i][b] })
	}
	return out
}

func flat(x [][]uint32) []uint32 {
	var out []uint32
	for _, s := range x {
		out = append(out, s...)
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return out
}

func cs(data ...string) []chunk {
	var out []chunk
	for _, d := range data {
		out = append(out, chunk{inspect.ToServer, d})
	}
	return out
}

// Keyword semantics from docs.suricata.io (payload keywords, flow,
// flowbits). Each case is one rule and a stream; want is whether it fires.
func TestKeywords(t *testing.T) {
	for _, builder := range []struct {
		name string
		b    prefilter.Builder
	}{{"default", prefilter.Default()}, {"ac", prefilter.NewAC}, {"naive", prefilter.NewNaive}} {
		t.Run(builder.name, func(t *testing.T) {
			cases := []struct {
				name   string
				opts   string
				chunks []chunk
				want   bool
			}{
				{"content", `content:"evil";`, cs("xx evil xx"), true},
				{"content absent", `content:"evil";`, cs("xx good xx"), false},
				{"content case sensitive", `content:"evil";`, cs("EVIL"), false},
				{"nocase", `content:"evil"; nocase;`, cs("EvIl"), true},
				{"hex content", `content:"|de ad|be|ef|";`, cs("\xde\xadbe\xef"), true},
				{"split across chunks", `content:"evilthing";`, cs("xx evil", "thing yy"), true},
				{"split nocase three chunks", `content:"evilthing"; nocase;`, cs("EV", "ILTH", "ing"), true},
				{"offset ok", `content:"b"; offset:1;`, cs("ab"), true},
				{"offset excludes", `content:"a"; offset:1;`, cs("ab"), false},
				{"depth ok", `content:"ab"; depth:2;`, cs("abc"), true},
				{"depth excludes", `content:"bc"; depth:2;`, cs("abc"), false},
				{"depth counts from stream start", `content:"GET"; depth:3;`, cs("xxx", "GET"), false},
				{"offset depth", `content:"c"; offset:2; depth:1;`, cs("abcd"), true},
				{"distance ok", `content:"a"; content:"c"; distance:1;`, cs("abc"), true},
				{"distance too short", `content:"a"; content:"b"; distance:1;`, cs("ab"), false},
				{"negative distance", `content:"bc"; content:"a"; distance:-3; within:1;`, cs("abc"), true},
				{"within ok", `content:"a"; content:"c"; within:3;`, cs("abc"), true},
				{"within too far", `content:"a"; content:"d"; within:2;`, cs("abcd"), false},
				{"within across chunks", `content:"head"; content:"tail"; distance:0; within:10;`, cs("head..", "..tail"), true},
				{"backtracking", `content:"a"; content:"b"; within:1;`, cs("a.a.ab"), true},
				{"negated content", `content:"a"; content:!"b"; within:2;`, cs("axc"), true},
				{"negated content present", `content:"a"; content:!"b"; within:2;`, cs("abc"), false},
				{"only negated", `content:!"evil";`, cs("good"), true},
				{"startswith", `content:"GET"; startswith;`, cs("GET /"), true},
				{"startswith not at start", `content:"GET"; startswith;`, cs(" GET /"), false},
				{"endswith", `content:".exe"; endswith;`, cs("a.exe"), true},
				{"endswith more after", `content:".exe"; endswith;`, cs("a.exe!"), false},
				// Relative isdataat:N wants N bytes after the match (Suricata:
				// offset+N <= len); absolute isdataat:N a byte at offset N.
				{"isdataat", `content:"a"; isdataat:2,relative;`, cs("a12"), true},
				{"isdataat short", `content:"a"; isdataat:2,relative;`, cs("a1"), false},
				{"isdataat negated", `content:"a"; isdataat:!1,relative;`, cs("xa"), true},
				{"isdataat negated with data", `content:"a"; isdataat:!1,relative;`, cs("a1"), false},
				{"isdataat absolute at end", `content:"a"; isdataat:5;`, cs("a1234"), false},
				{"isdataat absolute", `content:"a"; isdataat:5;`, cs("a12345"), true},
				{"pcre", `content:"id="; pcre:"/id=\d{3}x/";`, cs("id=123x"), true},
				{"pcre no match", `content:"id="; pcre:"/id=\d{3}x/";`, cs("id=12x"), false},
				{"pcre nocase flag", `content:"a"; pcre:"/ABC/i";`, cs("abc"), true},
				{"pcre relative", `content:"k="; pcre:"/^v/R";`, cs("k=v"), true},
				{"pcre relative not at anchor", `content:"k="; pcre:"/^v/R";`, cs("k=xv"), false},
				{"pcre negated", `content:"a"; pcre:!"/b/";`, cs("a"), true},
				{"pcre lookahead regexp2", `content:"pw="; pcre:"/pw=(?!secret)\w+/";`, cs("pw=guess"), true},
				{"pcre lookahead regexp2 neg", `content:"pw="; pcre:"/pw=(?!secret)\w+/";`, cs("pw=secret"), false},
				{"pcre high byte", `content:"x"; pcre:"/x\xff/";`, cs("x\xff"), true},
				{"pcre split chunks", `content:"begin"; pcre:"/begin.{3}end/";`, cs("begin", "...end"), true},
				{"byte_test gt", `content:"L"; byte_test:2,>,255,0,relative;`, cs("L\x01\x00"), true},
				{"byte_test le", `content:"L"; byte_test:2,>,256,0,relative;`, cs("L\x01\x00"), false},
				{"byte_test little", `content:"L"; byte_test:2,=,1,0,relative,little;`, cs("L\x01\x00"), true},
				{"byte_test string dec", `content:"len="; byte_test:3,>,100,0,relative,string,dec;`, cs("len=250"), true},
				{"byte_test and", `content:"F"; byte_test:1,&,0x80,0,relative;`, cs("F\x81"), true},
				{"byte_test not", `content:"F"; byte_test:1,!&,0x80,0,relative;`, cs("F\x81"), false},
				{"byte_jump", `content:"J"; byte_jump:1,0,relative; content:"Z"; within:1;`, cs("J\x02abZ"), true},
				{"byte_jump wrong", `content:"J"; byte_jump:1,0,relative; content:"Z"; within:1;`, cs("J\x01abZ"), false},
				{"byte_extract depth", `content:"N"; byte_extract:1,0,n,relative; content:"X"; distance:0; within:n;`, cs("N\x03abX"), true},
				{"byte_extract too far", `content:"N"; byte_extract:1,0,n,relative; content:"X"; distance:0; within:n;`, cs("N\x02abX"), false},
				{"dsize", `dsize:3; content:"abc";`, cs("abc"), true},
				{"dsize mismatch", `dsize:>10; content:"abc";`, cs("abc"), false},
				{"flow to_server", `flow:to_server,established; content:"a";`, cs("a"), true},
				{"flow to_client", `flow:to_client; content:"a";`, cs("a"), false},
				{"flowbits set then isset", `content:"A"; flowbits:set,x; flowbits:noalert;`, nil, false},
			}
			for _, tc := range cases {
				if tc.chunks == nil {
					continue
				}
				t.Run(tc.name, func(t *testing.T) {
					e := mustEngine(t, `alert tcp any any -> any any (msg:"t"; `+tc.opts+` sid:1;)`, Options{Prefilter: builder.b})
					got := flat(run(e, tcpMeta, tc.chunks))
					if tc.want {
						assert.Equal(t, []uint32{1}, got)
					} else {
						assert.Empty(t, got)
					}
				})
			}
		})
	}
}

func TestFlowbits(t *testing.T) {
	e := mustEngine(t, `
alert tcp any any -> any any (msg:"login"; content:"USER admin"; flowbits:set,admin; flowbits:noalert; sid:1;)
alert tcp any any -> any any (msg:"cmd as admin"; content:"DELETE"; flowbits:isset,admin; sid:2;)
alert tcp any any -> any any (msg:"cmd not admin"; content:"DELETE"; flowbits:isnotset,admin; sid:3;)
alert tcp any any -> any any (msg:"or"; content:"DELETE"; flowbits:isset,nope|admin; sid:4;)
`, Options{})
	t.Run("set then isset", func(t *testing.T) {
		f := e.NewFlow(tcpMeta)
		r := f.Inspect(inspect.ToServer, []byte("USER admin\r\n"))
		require.Len(t, r.Alerts, 1)
		assert.True(t, r.Alerts[0].NoAlert, "flowbits:noalert")
		r = f.Inspect(inspect.ToServer, []byte("DELETE x\r\n"))
		var got []uint32
		for _, a := range r.Alerts {
			got = append(got, a.Rule.SID)
		}
		assert.ElementsMatch(t, []uint32{2, 4}, got)
	})
	t.Run("not set", func(t *testing.T) {
		got := flat(run(e, tcpMeta, cs("DELETE x")))
		assert.Equal(t, []uint32{3}, got)
	})
	t.Run("same chunk setter first", func(t *testing.T) {
		got := flat(run(e, tcpMeta, cs("USER admin DELETE")))
		assert.Equal(t, []uint32{1, 2, 4}, got)
	})
}

func TestHeaderAndAction(t *testing.T) {
	e := mustEngine(t, `
alert tcp $HOME_NET any -> $EXTERNAL_NET $HTTP_PORTS (msg:"out"; content:"x"; sid:1;)
drop tcp $EXTERNAL_NET any -> $HOME_NET any (msg:"in"; content:"x"; sid:2;)
reject tcp any any <> 203.0.113.0/24 [80,443] (msg:"bidir"; content:"x"; sid:3;)
alert tcp any any -> any !80 (msg:"not80"; content:"x"; sid:4;)
pass tcp any any -> any any (msg:"pass"; content:"trusted"; sid:5;)
`, Options{})
	t.Run("to server", func(t *testing.T) {
		f := e.NewFlow(tcpMeta)
		r := f.Inspect(inspect.ToServer, []byte("x"))
		var got []uint32
		for _, a := range r.Alerts {
			got = append(got, a.Rule.SID)
		}
		assert.ElementsMatch(t, []uint32{1, 3}, got)
		assert.Equal(t, inspect.ActionReject, r.Action)
	})
	t.Run("to client", func(t *testing.T) {
		f := e.NewFlow(tcpMeta)
		r := f.Inspect(inspect.ToClient, []byte("x"))
		var got []uint32
		for _, a := range r.Alerts {
			got = append(got, a.Rule.SID)
		}
		assert.ElementsMatch(t, []uint32{2, 3, 4}, got)
		assert.Equal(t, inspect.ActionDrop, r.Action)
	})
	t.Run("pass wins and stops the flow", func(t *testing.T) {
		f := e.NewFlow(tcpMeta)
		r := f.Inspect(inspect.ToServer, []byte("trusted x"))
		assert.Equal(t, inspect.ActionPass, r.Action)
		require.Len(t, r.Alerts, 1)
		assert.Equal(t, uint32(5), r.Alerts[0].Rule.SID)
		r = f.Inspect(inspect.ToServer, []byte("x"))
		assert.Empty(t, r.Alerts)
	})
}

// The chunk that completes a match reports it (hold-until-verdict), with
// the offset one past the last matching byte.
func TestMatchReportedInCompletingChunk(t *testing.T) {
	e := mustEngine(t, `alert tcp any any -> any any (msg:"t"; content:"abc"; content:"xyz"; distance:0; sid:7;)`, Options{})
	f := e.NewFlow(tcpMeta)
	assert.Empty(t, f.Inspect(inspect.ToServer, []byte("..ab")).Alerts)
	assert.Empty(t, f.Inspect(inspect.ToServer, []byte("c..x")).Alerts)
	r := f.Inspect(inspect.ToServer, []byte("yz!!"))
	require.Len(t, r.Alerts, 1)
	assert.Equal(t, uint64(len("..abc..xyz")), r.Alerts[0].Offset)
	assert.Equal(t, inspect.ActionAlert, r.Action)
}

func TestThreshold(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	cases := []struct {
		name string
		opt  string
		want []bool
	}{
		{"limit 2", `threshold:type limit, track by_src, count 2, seconds 60;`, []bool{true, true, false, false}},
		{"threshold 2", `threshold:type threshold, track by_src, count 2, seconds 60;`, []bool{false, true, false, true}},
		{"both 2", `threshold:type both, track by_rule, count 2, seconds 60;`, []bool{false, true, false, false}},
		{"detection_filter 2", `detection_filter:track by_dst, count 2, seconds 60;`, []bool{false, false, true, true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := mustEngine(t, `alert tcp any any -> any any (msg:"t"; content:"hit"; `+tc.opt+` sid:9;)`, Options{Now: clock})
			var got []bool
			for range tc.want {
				f := e.NewFlow(tcpMeta) // thresholds count across flows
				got = append(got, len(f.Inspect(inspect.ToServer, []byte("hit")).Alerts) == 1)
			}
			assert.Equal(t, tc.want, got)
		})
	}
	t.Run("window expires", func(t *testing.T) {
		e := mustEngine(t, `alert tcp any any -> any any (msg:"t"; content:"hit"; threshold:type limit, track by_src, count 1, seconds 10; sid:9;)`, Options{Now: clock})
		assert.Len(t, e.NewFlow(tcpMeta).Inspect(inspect.ToServer, []byte("hit")).Alerts, 1)
		assert.Empty(t, e.NewFlow(tcpMeta).Inspect(inspect.ToServer, []byte("hit")).Alerts)
		now = now.Add(11 * time.Second)
		assert.Len(t, e.NewFlow(tcpMeta).Inspect(inspect.ToServer, []byte("hit")).Alerts, 1)
	})
}

// The trigger list and fast pattern follow Suricata's selection: an
// explicit fast_pattern, else app-layer buffers before the raw stream
// and http.method last, then the longest content, then the more varied.
func TestTriggerChoice(t *testing.T) {
	tests := []struct {
		name string
		rule string
		buf  applayer.Buffer
		fp   string
	}{
		{"method last", `http.method; content:"POST"; http.uri; content:"/a"; `, applayer.HTTPURI, "/a"},
		{"explicit wins", `http.method; content:"POST"; fast_pattern; http.uri; content:"/abcdef"; `, applayer.HTTPMethod, "POST"},
		{"longest among buffers", `http.uri; content:"/abc"; http.user_agent; content:"curl/7"; `, applayer.HTTPUserAgent, "curl/7"},
		{"buffer before raw", `content:"GET /verylongpath"; http.host; content:"x.io"; `, applayer.HTTPHost, "x.io"},
		{"more varied of equal length", `http.uri; content:"aaaa"; content:"a/b?"; `, applayer.HTTPURI, "a/b?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustEngine(t, `alert http any any -> any any (msg:"t"; `+tt.rule+`sid:1;)`, Options{})
			cr := e.rules[0]
			require.GreaterOrEqual(t, cr.trigger, 0)
			l := &cr.lists[cr.trigger]
			fp, _, _ := fastPattern(l)
			assert.Equal(t, tt.buf, l.buf)
			assert.Equal(t, tt.fp, string(fp))
		})
	}
}

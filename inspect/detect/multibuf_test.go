package detect

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
	"github.com/interdict/interdict/inspect/rules"
)

// fakeHeaders emits one transaction per blank-line-terminated block: the
// block's lines are the instances of http.request_header (to server) or
// http.response_header (to client).
type fakeHeaders struct {
	buf [2][]byte
	tx  uint64
	req [][]byte
}

func (p *fakeHeaders) Feed(dir inspect.Direction, data []byte, emit func(*applayer.Unit)) {
	p.buf[dir] = append(p.buf[dir], data...)
	for {
		i := bytes.Index(p.buf[dir], []byte("\n\n"))
		if i < 0 {
			return
		}
		lines := bytes.Split(p.buf[dir][:i], []byte("\n"))
		p.buf[dir] = p.buf[dir][i+2:]
		u := &applayer.Unit{Dir: dir, TxID: p.tx, AppProto: "http"}
		if dir == inspect.ToServer {
			p.req = lines
		} else {
			u.Multi[applayer.HTTPResponseHeader] = lines
			p.tx++
		}
		u.Multi[applayer.HTTPRequestHeader] = p.req
		emit(u)
	}
}

func (p *fakeHeaders) Close(func(*applayer.Unit)) {}

var fakeHeaderProto = applayer.Proto{
	Name: "http", Transport: inspect.ProtoTCP,
	Probe: func(inspect.Direction, []byte) applayer.ProbeResult { return applayer.ProbeYes },
	New:   func() applayer.Parser { return &fakeHeaders{} },
}

// Suricata evaluates a rule on a multi-buffer against each instance: it
// matches when one instance satisfies the whole list, not when the list's
// parts are spread over several instances.
func TestMultiBuffers(t *testing.T) {
	req := "Host: a.example\nCookie: s=1\nX-Qlik-User: UserDirectory=x\n\n"
	resp := "Server: nginx\nContent-Length: 2\n\n"
	cases := []struct {
		name, rule string
		want       []uint32 // sids per direction: request, response
		wantResp   []uint32
	}{
		{"content in one line", `http.request_header; content:"X-Qlik-User"; fast_pattern;`, []uint32{1}, nil},
		{"startswith per instance", `http.request_header; content:"Cookie:"; startswith;`, []uint32{1}, nil},
		{"endswith per instance", `http.request_header; content:"a.example"; endswith;`, []uint32{1}, nil},
		{"bsize per instance", `http.request_header; content:"Host"; bsize:15;`, []uint32{1}, nil},
		{"parts in different instances do not combine", `http.request_header; content:"Host"; content:"Cookie"; distance:0;`, nil, nil},
		{"absent header", `http.request_header; content:"Referer";`, nil, nil},
		{"nocase without fast pattern hit", `http.request_header; content:"x-qlik-user"; nocase;`, []uint32{1}, nil},
		{"transform per instance", `http.request_header; to_lowercase; content:"host: a.example"; startswith; endswith;`, []uint32{1}, nil},
		{"response header", `http.response_header; content:"Server: nginx"; bsize:13;`, nil, []uint32{1}},
		{"response header not on request", `http.response_header; content:"Host";`, nil, nil},
		{"pcre anchored per instance", `http.request_header; pcre:"/^Cookie: s=\d$/";`, []uint32{1}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set := &rules.Set{}
			require.NoError(t, set.Load(strings.NewReader(`alert http any any -> any any (msg:"t"; `+tc.rule+` sid:1;)`), "t.rules", nil))
			require.Empty(t, set.Errors)
			e, err := New(set.Rules, Options{Protos: []applayer.Proto{fakeHeaderProto}})
			require.NoError(t, err)
			require.Empty(t, e.Rejected())
			got := run(e, tcpMeta, []chunk{{inspect.ToServer, req}, {inspect.ToClient, resp}})
			assert.Equal(t, tc.want, got[0], "request")
			assert.Equal(t, tc.wantResp, got[1], "response")
		})
	}
}

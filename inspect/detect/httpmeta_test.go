package detect

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
	"github.com/interdict/interdict/inspect/http1"
	"github.com/interdict/interdict/inspect/rules"
)

// Alerts in an HTTP transaction carry its record; a raw-stream alert gets
// the transaction in progress in the chunk it matched, none after the
// transaction ended (as suricata-verify bug-7199 expects for its reject
// ip rule and its http.uri rule).
func TestAlertHTTPRecord(t *testing.T) {
	set := &rules.Set{}
	require.NoError(t, set.Load(strings.NewReader(`
alert http any any -> any any (msg:"uri"; http.uri; content:"/admin"; sid:1;)
alert tcp any any -> any any (msg:"raw req"; flow:to_server; content:"GET"; sid:2;)
alert tcp any any -> any any (msg:"raw resp"; flow:to_client; content:"404"; sid:3;)
alert tcp any any -> any any (msg:"raw later"; flow:to_server; content:"BYE"; sid:4;)
`), "t.rules", nil))
	require.Empty(t, set.Errors)
	var protos []applayer.Proto
	for _, p := range applayer.Protos() {
		if p.Name == http1.AppProto {
			protos = append(protos, p)
		}
	}
	require.Len(t, protos, 1)
	e, err := New(set.Rules, Options{Protos: protos})
	require.NoError(t, err)
	f := e.NewFlow(tcpMeta)
	got := map[uint32]*inspect.HTTPTx{}
	for _, c := range []chunk{
		{inspect.ToServer, "GET /admin HTTP/1.1\r\nHost: Example.COM\r\nUser-Agent: curl/8\r\nx-forwarded-for: 192.0.2.9\r\n\r\n"},
		{inspect.ToClient, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"},
		{inspect.ToServer, "BYE"},
	} {
		for _, a := range f.Inspect(c.dir, []byte(c.data)).Alerts {
			got[a.Rule.SID] = a.HTTP
		}
	}
	require.Len(t, got, 4)
	require.NotNil(t, got[1])
	assert.Equal(t, inspect.HTTPTx{Method: "GET", Hostname: "example.com", URL: "/admin", Protocol: "HTTP/1.1", UserAgent: "curl/8", XFF: "192.0.2.9"}, *got[1])
	require.NotNil(t, got[2], "raw alert in the request's chunk")
	assert.Equal(t, "GET", got[2].Method)
	require.NotNil(t, got[3], "raw alert in the response's chunk")
	assert.Equal(t, 404, got[3].Status)
	assert.Equal(t, "/admin", got[3].URL, "the response's alert names the request")
	assert.Nil(t, got[4], "no transaction in progress")
}

// A body longer than the parser's inspection window is inspected window by
// window: a pattern 2 MiB into a response, and one cut by a slide, match
// whatever the chunk sizes.
func TestBodyPastWindow(t *testing.T) {
	e := mustEngine(t, `
alert http any any -> any any (msg:"late"; flow:to_client; file.data; content:"EVIL-LATE"; sid:1;)
alert http any any -> any any (msg:"solo"; flow:to_client; http.response_body; content:"EVIL-SOLO"; sid:2;)
`, Options{Protos: []applayer.Proto{{Name: http1.AppProto, Transport: inspect.ProtoTCP, Probe: http1.Probe,
		New: func() applayer.Parser { return http1.New(http1.WithMaxBodyBytes(64 << 10)) }}}})
	const n = 2 << 20
	body := []byte(strings.Repeat("x", n))
	copy(body[n-100:], "EVIL-LATE")
	copy(body[64<<10-4:], "EVIL-SOLO") // cut by the first slide
	resp := append([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2097152\r\n\r\n"), body...)
	for _, piece := range []int{1460, 64 << 10, 100 << 10} {
		f := e.NewFlow(tcpMeta)
		f.Inspect(inspect.ToServer, []byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n"))
		got := map[uint32]bool{}
		for off := 0; off < len(resp); off += piece {
			for _, a := range f.Inspect(inspect.ToClient, resp[off:min(off+piece, len(resp))]).Alerts {
				got[a.Rule.SID] = true
			}
		}
		assert.Equal(t, map[uint32]bool{1: true, 2: true}, got, "piece %d", piece)
	}
}

package detect

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// Raw-stream rules see a direction's first StreamDepth bytes only; a
// match must end within them, however the stream is cut into chunks.
func TestStreamDepthRaw(t *testing.T) {
	e := mustEngine(t, `
alert tcp any any -> any any (msg:"raw"; content:"attack"; sid:1;)
alert tcp any any -> any any (msg:"big chunk"; dsize:>500; sid:2;)
`, Options{StreamDepth: 100})
	pad := func(n int) string { return strings.Repeat(".", n) }
	tests := []struct {
		name   string
		chunks []chunk
		want   []uint32
	}{
		{"before the depth", cs(pad(10) + "attack"), []uint32{1}},
		{"ends at the depth", cs(pad(94) + "attack"), []uint32{1}},
		{"ends at the depth, split", cs(pad(94)+"att", "ack"+pad(10)), []uint32{1}},
		{"straddles the depth", cs(pad(95) + "attack"), nil},
		{"straddles the depth, split", cs(pad(95)+"att", "ack"), nil},
		{"past the depth", cs(pad(200)+"attack", "attack"), nil},
		{"past the depth in a later chunk", cs(pad(60), pad(60), "attack"), nil},
		{"other direction has its own depth", []chunk{{inspect.ToServer, pad(200)}, {inspect.ToClient, "attack"}}, []uint32{1}},
		{"rule without payload keywords still runs", cs(pad(200), pad(600)), []uint32{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, flat(run(e, tcpMeta, tt.chunks)))
		})
	}
	t.Run("unlimited", func(t *testing.T) {
		e := mustEngine(t, `alert tcp any any -> any any (msg:"raw"; content:"attack"; sid:1;)`, Options{})
		assert.Equal(t, []uint32{1}, flat(run(e, tcpMeta, cs(strings.Repeat(".", 3<<20)+"attack"))))
	})
}

// Past the depth the HTTP parser and buffer rules go on: a keep-alive
// connection's later transactions are inspected as before.
func TestStreamDepthHTTP(t *testing.T) {
	rulesText := `
alert http any any -> any any (msg:"uri"; flow:to_server; http.uri; content:"/evil"; sid:1;)
alert tcp any any -> any any (msg:"raw uri"; flow:to_server; content:"/evil"; sid:2;)
alert http any any -> any any (msg:"body"; flow:to_client; http.response_body; content:"needle"; sid:3;)
alert http any any -> any any (msg:"uri and raw"; flow:to_server; content:"/evil"; http_uri; content:"Host: h"; sid:4;)
`
	body := strings.Repeat("b", 2000)
	post := fmt.Sprintf("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	ok := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	chunks := []chunk{
		{inspect.ToServer, post},
		{inspect.ToClient, ok},
		{inspect.ToServer, "GET /evil HTTP/1.1\r\nHost: h\r\n\r\n"},
		{inspect.ToClient, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nneedle"},
	}
	for _, tt := range []struct {
		depth int64
		want  []uint32
	}{
		{0, []uint32{1, 2, 3, 4}},
		{1000, []uint32{1, 3, 4}},
	} {
		t.Run(fmt.Sprintf("depth=%d", tt.depth), func(t *testing.T) {
			e := mustEngine(t, rulesText, Options{StreamDepth: tt.depth, Protos: applayer.Protos()})
			assert.Equal(t, tt.want, flat(run(e, tcpMeta, chunks)))
		})
	}
}

// Past the depth a flow no parser claimed keeps no stream window.
func TestStreamDepthReleasesWindow(t *testing.T) {
	e := mustEngine(t, `alert tcp any any -> any any (msg:"raw"; content:"attack"; sid:1;)`, Options{StreamDepth: 1000})
	f := e.newFlow(tcpMeta)
	for range 10 {
		f.Inspect(inspect.ToServer, []byte(strings.Repeat("x", 500)))
	}
	require.Equal(t, uint64(5000), f.dirs[inspect.ToServer].off)
	assert.Nil(t, f.dirs[inspect.ToServer].win)
	assert.Nil(t, f.dirs[inspect.ToServer].pf)
}

// With StreamDepthReject, the chunk of an unrecognised flow that would
// cross the depth raises STREAM_DEPTH_UNRECOGNISED, once; a flow a parser
// recognised goes on.
func TestStreamDepthReject(t *testing.T) {
	e := mustEngine(t, `alert tcp any any -> any any (msg:"x"; content:"zzz"; sid:1;)`,
		Options{Protos: []applayer.Proto{fakeProto}, StreamDepth: 100, StreamDepthReject: true})
	count := func(r inspect.Result) int {
		n := 0
		for _, ev := range r.Events {
			if ev.Anomaly != nil && ev.Anomaly.Event == "STREAM_DEPTH_UNRECOGNISED" {
				n++
			}
		}
		return n
	}
	f := e.NewFlow(tcpMeta)
	assert.Zero(t, count(f.Inspect(inspect.ToServer, bytes.Repeat([]byte("\x00"), 60))))
	assert.Equal(t, 1, count(f.Inspect(inspect.ToServer, bytes.Repeat([]byte("\x00"), 60))), "the crossing chunk")
	assert.Zero(t, count(f.Inspect(inspect.ToServer, bytes.Repeat([]byte("\x00"), 60))))

	f = e.NewFlow(tcpMeta)
	f.Inspect(inspect.ToServer, []byte("GET /x\n"))
	assert.Zero(t, count(f.Inspect(inspect.ToServer, bytes.Repeat([]byte("GET /y\n"), 30))), "recognised as HTTP")
}

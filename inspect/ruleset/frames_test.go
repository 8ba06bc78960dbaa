package ruleset

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
)

// TestHTTP1FrameRules: a rule set with frame:http1.request turns the
// parser's frame buffers on, and the rule matches the request as the
// frame holds it, not the response.
func TestHTTP1FrameRules(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "f.rules", `drop tcp any any -> any any (msg:"f"; frame:http1.request; content:"malicious"; nocase; sid:1;)`+"\n")
	res, err := Load(Spec{Rules: []File{{Path: p}}})
	require.NoError(t, err)
	require.Equal(t, 1, res.Loaded, "%v", res.Rejected)
	meta := inspect.FlowMeta{ID: 1, Proto: inspect.ProtoTCP,
		Src: netip.MustParseAddrPort("10.0.0.2:4000"), Dst: netip.MustParseAddrPort("10.99.0.1:80")}

	fi := res.Engine.NewFlow(meta)
	r := fi.Inspect(inspect.ToServer, []byte("GET /ok HTTP/1.1\r\nHost: a\r\n\r\n"))
	assert.Equal(t, inspect.ActionNone, r.Action)
	r = fi.Inspect(inspect.ToClient, []byte("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nmalicious"))
	assert.Equal(t, inspect.ActionNone, r.Action, "the response is not the request frame")

	fi = res.Engine.NewFlow(meta)
	r = fi.Inspect(inspect.ToServer, []byte("GET /Malicious HTTP/1.1\r\nHost: a\r\n\r\n"))
	assert.Equal(t, inspect.ActionDrop, r.Action)
}

package http1_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/detect"
	"github.com/interdict/interdict/inspect/rules"
)

// libhtp's Content-Encoding warnings through the loader and the engine.
// An event belongs to its transaction: a to_server rule on an event the
// response raised alerts once (Suricata inspects the request side again
// after the response), a to_client one once, and a rule on an event the
// message did not raise never.
func TestContentEncodingEventRules(t *testing.T) {
	text := strings.Join([]string{
		`alert http any any -> any any (msg:"layers to_server"; flow:to_server,established; app-layer-event:http.too_many_encoding_layers; sid:1;)`,
		`alert http any any -> any any (msg:"layers to_client"; flow:to_client,established; app-layer-event:http.too_many_encoding_layers; sid:2;)`,
		`alert http any any -> any any (msg:"abnormal"; flow:established; app-layer-event:http.abnormal_ce_header; sid:3;)`,
		`alert http any any -> any any (msg:"uri"; flow:to_server,established; http.uri; content:"/a"; sid:4;)`,
	}, "\n")
	set := &rules.Set{}
	require.NoError(t, set.Load(strings.NewReader(text), "ce.rules", nil))
	require.Empty(t, set.Errors)
	eng, err := detect.New(set.Rules, detect.Options{})
	require.NoError(t, err)
	require.Empty(t, eng.Rejected())

	for _, tc := range []struct {
		ce   string
		want []uint32
	}{
		// libhtp's default layer limit is 2: identity counts as a layer.
		{"identity, identity, gzip", []uint32{1, 2, 4}},
		{"gzip, gzip", []uint32{4}},
		{"gzip", []uint32{4}},
		{"GZIP, gzip", []uint32{3, 4}},
		{"x-compress, identity", []uint32{3, 4}},
	} {
		t.Run(tc.ce, func(t *testing.T) {
			f := eng.NewFlow(inspect.FlowMeta{Proto: inspect.ProtoTCP, Src: netip.MustParseAddrPort("10.0.0.1:40000"),
				Dst: netip.MustParseAddrPort("10.0.0.2:80")})
			var got []uint32
			for _, r := range []inspect.Result{
				f.Inspect(inspect.ToServer, []byte("GET /a HTTP/1.1\r\nHost: h\r\n\r\n")),
				f.Inspect(inspect.ToClient, []byte("HTTP/1.1 200 OK\r\nContent-Encoding: "+tc.ce+"\r\nContent-Length: 0\r\n\r\n")),
				f.Close(),
			} {
				for _, a := range r.Alerts {
					got = append(got, a.Rule.SID)
				}
			}
			assert.ElementsMatch(t, tc.want, got)
		})
	}
}

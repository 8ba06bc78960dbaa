package http1_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"

	"github.com/interdict/interdict/inspect"
)

// TestHTTP2StreamAlertRecord: an alert on an HTTP/2 stream whose record
// is not complete yet carries the stream's id and what its frames said
// (Suricata's http.http2 of the alert); cookie crumbs repeated as HTTP/2
// allows (RFC 9113 8.2.3) are one cookie buffer and no repetition
// anomaly.
func TestHTTP2StreamAlertRecord(t *testing.T) {
	eng := engineFor(t, `alert http2 any any -> any any (msg:"prio"; http2.priority:>250; sid:1;)
alert http any any -> any any (msg:"cookie"; http.cookie; content:"a=1, b=2"; sid:2;)
`)
	var cli bytes.Buffer
	cli.WriteString(http2.ClientPreface)
	fr := http2.NewFramer(&cli, nil)
	fr.WriteSettings()
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true, Priority: http2.PriorityParam{Weight: 255},
		BlockFragment: block(":method", "GET", ":scheme", "http", ":authority", "a.example", ":path", "/x", "cookie", "a=1", "cookie", "b=2")})
	f := eng.NewFlow(tunnelMeta)
	r := f.Inspect(inspect.ToServer, cli.Bytes())
	var sids []uint32
	for _, a := range r.Alerts {
		sids = append(sids, a.Rule.SID)
		require.NotNil(t, a.HTTP)
		assert.Equal(t, uint32(1), a.HTTP.StreamID)
		if assert.NotNil(t, a.HTTP.H2Request.Priority) {
			assert.Equal(t, uint8(255), *a.HTTP.H2Request.Priority)
		}
		assert.Equal(t, "/x", a.HTTP.URL)
	}
	assert.ElementsMatch(t, []uint32{1, 2}, sids)
	for _, e := range r.Events {
		if e.Anomaly != nil {
			assert.NotContains(t, e.Anomaly.Event, "REPETITION")
		}
	}
}

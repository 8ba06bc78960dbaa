package http1

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"

	"github.com/interdict/interdict/inspect"
)

// TestHTTP2ConnectionFramesLogged: each frame of the connection (stream
// 0) is a transaction, logged when Suricata's http2 logger has
// something to write of it: a SETTINGS frame's parameters, a GOAWAY's
// error code; a PING or WINDOW_UPDATE is inspected but not logged.
func TestHTTP2ConnectionFramesLogged(t *testing.T) {
	cli, srv := newH2W(), newH2W()
	cli.buf.WriteString(http2.ClientPreface)
	cli.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 65535})
	cli.fr.WriteWindowUpdate(0, 1000)
	cli.fr.WritePing(false, [8]byte{})
	cli.headers(1, true, ":method", "GET", ":scheme", "http", ":authority", "h", ":path", "/")
	srv.fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100})
	srv.headers(1, true, ":status", "204")
	cli.fr.WriteGoAway(1, http2.ErrCodeNo, nil)

	r := run([]step{{inspect.ToServer, cli.buf.String()}, {inspect.ToClient, srv.buf.String()}}, WithPriorKnowledge())
	var global []inspect.HTTPTx
	streams := 0
	for _, ev := range r.events() {
		if ev.StreamID == 0 {
			global = append(global, ev)
		} else {
			streams++
		}
	}
	assert.Equal(t, 1, streams)
	require.Len(t, global, 3, "client SETTINGS, its GOAWAY, server SETTINGS; not the PING nor the WINDOW_UPDATE")
	assert.Equal(t, []inspect.HTTP2Setting{{ID: uint16(http2.SettingInitialWindowSize), Value: 65535}}, global[0].H2Request.Settings)
	require.NotNil(t, global[1].H2Request.ErrorCode)
	assert.Equal(t, uint32(http2.ErrCodeNo), *global[1].H2Request.ErrorCode)
	assert.Equal(t, []inspect.HTTP2Setting{{ID: uint16(http2.SettingMaxConcurrentStreams), Value: 100}}, global[2].H2Response.Settings)
	for _, g := range global {
		assert.Equal(t, "HTTP/2", g.Protocol)
	}
}

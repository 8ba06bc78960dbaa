package http1

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"

	"github.com/interdict/interdict/inspect"
)

// TestH2CUpgradeMimicsRequest: after an h2c upgrade, stream 1's request
// is the HTTP/1 one as an HTTP/2 header block (Host as :authority, the
// request line in HTTP/2's form, ending in CRLF as Suricata's), and the
// HTTP2-Settings header is the client's first SETTINGS, a connection
// transaction logged with its parameters; one that does not decode is
// the event invalid_http1_settings.
func TestH2CUpgradeMimicsRequest(t *testing.T) {
	conv := func(settings string) []step {
		srv := newH2W()
		srv.buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
		srv.fr.WriteSettings()
		srv.headers(1, true, ":status", "204")
		return []step{
			cs("GET /robots.txt HTTP/1.1\r\nHost: Example.org\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: " + settings + "\r\n\r\n" + http2.ClientPreface),
			{inspect.ToClient, srv.buf.String()},
		}
	}
	// SETTINGS_MAX_CONCURRENT_STREAMS 100, SETTINGS_INITIAL_WINDOW_SIZE
	// 1073741824, SETTINGS_ENABLE_PUSH 0 (curl's, base64url).
	r := run(conv("AAMAAABkAARAAAAAAAIAAAAA"))
	var mimic, resp map[string]string
	for k, b := range r.final() {
		if k.tx != 0 && b["http.protocol"] == "HTTP/2" && b["http.uri"] == "/robots.txt" {
			if k.dir == inspect.ToServer {
				mimic = b
			} else {
				resp = b
			}
		}
	}
	require.NotNil(t, mimic)
	assert.Equal(t, "GET /robots.txt HTTP/2\r\n", mimic["http.request_line"])
	assert.Equal(t, "example.org", mimic["http.host"])
	require.NotNil(t, resp)
	assert.Equal(t, "HTTP/2 204\r\n", resp["http.response_line"])
	var settings []inspect.HTTP2Setting
	for _, ev := range r.events() {
		if ev.Protocol == "HTTP/2" && ev.StreamID == 0 {
			settings = append(settings, ev.H2Request.Settings...)
		}
	}
	assert.Equal(t, []inspect.HTTP2Setting{{ID: 3, Value: 100}, {ID: 4, Value: 1 << 30}, {ID: 2, Value: 0}}, settings)
	assert.Empty(t, r.anomalies())

	r = run(conv("not*base64"))
	assert.Contains(t, r.anomalies(), EvInvalidHTTP1Settings)
	r = run(conv("AAMAAA"))
	assert.Contains(t, r.anomalies(), EvInvalidHTTP1Settings, "not a whole number of parameters")
}

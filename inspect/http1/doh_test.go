package http1

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"golang.org/x/net/http2"

	"github.com/interdict/interdict/inspect"
)

// TestDoHTooLong: an HTTP/2 body sent as application/dns-message raises
// dns_request_too_long (dns_response_too_long from the server) once it
// passes 65535 bytes, once per message; a shorter one, or another
// content type, raises nothing.
func TestDoHTooLong(t *testing.T) {
	conv := func(ctype string, reqBody, respBody int) []step {
		cli, srv := newH2W(), newH2W()
		cli.buf.WriteString(http2.ClientPreface)
		cli.fr.WriteSettings()
		cli.headers(1, false, ":method", "POST", ":scheme", "http", ":authority", "h", ":path", "/dns-query", "content-type", ctype)
		for n := reqBody; n > 0; n -= 16000 {
			cli.data(1, n <= 16000, bytes.Repeat([]byte{'q'}, min(n, 16000)), 0)
		}
		srv.fr.WriteSettings()
		srv.headers(1, false, ":status", "200", "content-type", ctype)
		for n := respBody; n > 0; n -= 16000 {
			srv.data(1, n <= 16000, bytes.Repeat([]byte{'r'}, min(n, 16000)), 0)
		}
		return []step{{inspect.ToServer, cli.buf.String()}, {inspect.ToClient, srv.buf.String()}}
	}
	for _, tc := range []struct {
		name  string
		steps []step
		want  []string
	}{
		{"request too long", conv("application/dns-message", 70000, 100), []string{EvDNSRequestTooLong}},
		{"response too long", conv("application/dns-message", 100, 65536), []string{EvDNSResponseTooLong}},
		{"at the bound", conv("application/dns-message", 65535, 65535), nil},
		{"not DNS", conv("application/octet-stream", 70000, 70000), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(tc.steps, WithPriorKnowledge())
			assert.Equal(t, tc.want, r.anomalies())
		})
	}
}

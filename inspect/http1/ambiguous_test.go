package http1

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/interdict/interdict/inspect"
)

// What endpoints read differently is an anomaly the default policy
// refuses: a transfer coding besides chunked, a Content-Encoding with a
// control character, a target with %u escapes or overlong UTF-8. Their
// ordinary neighbours raise nothing of the kind.
func TestAmbiguousCodingsAndTargets(t *testing.T) {
	ok := "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	get := "GET / HTTP/1.1\r\nHost: h\r\n\r\n"
	tests := []struct {
		name      string
		req, resp string
		event     string // "" for none of the three
	}{
		{"request gzip, chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", ok, "REQUEST_TRANSFER_CODING_UNSUPPORTED"},
		{"response gzip, chunked", get, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", "RESPONSE_TRANSFER_CODING_UNSUPPORTED"},
		{"response identity, chunked", get, "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n", "RESPONSE_TRANSFER_CODING_UNSUPPORTED"},
		{"chunked in any case", get, "HTTP/1.1 200 OK\r\nTransfer-Encoding:  CHUNKED \r\n\r\n0\r\n\r\n", ""},
		{"response gzip VT", get, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\x0b\r\nContent-Length: 0\r\n\r\n", "RESPONSE_CONTENT_ENCODING_AMBIGUOUS"},
		{"response gzip NUL", get, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\x00\r\nContent-Length: 0\r\n\r\n", "RESPONSE_CONTENT_ENCODING_AMBIGUOUS"},
		{"request FF gzip", "POST / HTTP/1.1\r\nHost: h\r\nContent-Encoding: \x0cgzip\r\nContent-Length: 0\r\n\r\n", ok, "REQUEST_CONTENT_ENCODING_AMBIGUOUS"},
		{"gzip with a tab", get, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip,\tbr\r\nContent-Length: 0\r\n\r\n", ""},
		{"%u escape", "GET /%u0066orbidden HTTP/1.1\r\nHost: h\r\n\r\n", ok, "REQUEST_URI_ENCODING_AMBIGUOUS"},
		{"overlong slash escaped", "GET /a%c0%af..%c0%afb HTTP/1.1\r\nHost: h\r\n\r\n", ok, "REQUEST_URI_ENCODING_AMBIGUOUS"},
		{"overlong raw", "GET /a\xe0\x80\xafb HTTP/1.1\r\nHost: h\r\n\r\n", ok, "REQUEST_URI_ENCODING_AMBIGUOUS"},
		{"overlong in the query", "GET /a?x=%f0%80%80%af HTTP/1.1\r\nHost: h\r\n\r\n", ok, "REQUEST_URI_ENCODING_AMBIGUOUS"},
		{"valid UTF-8", "GET /%c3%a9t%c3%a9/%e2%82%ac?q=%f0%9f%98%80 HTTP/1.1\r\nHost: h\r\n\r\n", ok, ""},
		{"%u without four hex digits", "GET /%unknown HTTP/1.1\r\nHost: h\r\n\r\n", ok, ""},
	}
	ours := []string{"REQUEST_TRANSFER_CODING_UNSUPPORTED", "RESPONSE_TRANSFER_CODING_UNSUPPORTED",
		"REQUEST_CONTENT_ENCODING_AMBIGUOUS", "RESPONSE_CONTENT_ENCODING_AMBIGUOUS", "REQUEST_URI_ENCODING_AMBIGUOUS"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, split := range []func([]byte) [][]byte{nil, byteAtATime} {
				got := runSplit([]step{cs(tc.req), sc(tc.resp)}, split).anomalies()
				for _, name := range ours {
					if name == tc.event {
						assert.Contains(t, got, name)
					} else {
						assert.NotContains(t, got, name)
					}
				}
			}
		})
	}
}

// A request sent after a CONNECT before its answer is refused: a server
// that is no proxy reads it now, and it would be parsed only once the
// answer came. TLS sent early into the tunnel is not a request.
func TestRequestBeforeConnectResponse(t *testing.T) {
	connect := "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n"
	for _, tc := range []struct {
		name  string
		steps []step
		event bool
	}{
		{"request before the answer", []step{cs(connect + "GET /forbidden HTTP/1.1\r\nHost: h\r\n\r\n"), sc("HTTP/1.1 405 No\r\nContent-Length: 0\r\n\r\n")}, true},
		{"more than the stash holds", []step{cs(connect + strings.Repeat("\x16", 70<<10))}, true},
		{"TLS before the answer", []step{cs(connect + "\x16\x03\x01\x00\x05hello"), sc("HTTP/1.1 200 OK\r\n\r\n")}, false},
		{"request after a refusal", []step{cs(connect), sc("HTTP/1.1 407 Auth\r\nContent-Length: 0\r\n\r\n"), cs("GET / HTTP/1.1\r\nHost: h\r\n\r\n")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, split := range []func([]byte) [][]byte{nil, byteAtATime} {
				got := runSplit(tc.steps, split).anomalies()
				if tc.event {
					assert.Contains(t, got, "REQUEST_BEFORE_CONNECT_RESPONSE")
				} else {
					assert.NotContains(t, got, "REQUEST_BEFORE_CONNECT_RESPONSE")
				}
			}
		})
	}
}

// The body of a GET (or another method whose body servers may ignore)
// that starts with a request line is refused: a server that ignores the
// body reads the request in it (the "CL.0" desync). A POST body, or a
// GET body that is data, is not.
func TestBodyIsRequest(t *testing.T) {
	inner := "GET /forbidden HTTP/1.1\r\nHost: h\r\n\r\n"
	withBody := func(method, hdrs, body string) string {
		return method + " /ok HTTP/1.1\r\nHost: h\r\n" + hdrs + "\r\n" + body
	}
	cl := func(b string) string { return "Content-Length: " + strconv.Itoa(len(b)) + "\r\n" }
	chunked := func(b string) string { return strconv.FormatInt(int64(len(b)), 16) + "\r\n" + b + "\r\n0\r\n\r\n" }
	for _, tc := range []struct {
		name  string
		req   string
		event bool
	}{
		{"GET, Content-Length", withBody("GET", cl(inner), inner), true},
		{"HEAD, chunked", withBody("HEAD", "Transfer-Encoding: chunked\r\n", chunked(inner)), true},
		{"OPTIONS, unknown method inside", withBody("OPTIONS", cl("FOO /x HTTP/1.1\r\n\r\n"), "FOO /x HTTP/1.1\r\n\r\n"), true},
		{"POST", withBody("POST", cl(inner), inner), false},
		{"GET with a JSON body", withBody("GET", cl(`{"query":"GET /x HTTP/1.1"}`), `{"query":"GET /x HTTP/1.1"}`), false},
		{"GET without a body", "GET /ok HTTP/1.1\r\nHost: h\r\n\r\n" + inner, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, split := range []func([]byte) [][]byte{nil, byteAtATime} {
				got := runSplit([]step{cs(tc.req)}, split).anomalies()
				if tc.event {
					assert.Contains(t, got, "REQUEST_BODY_IS_REQUEST")
				} else {
					assert.NotContains(t, got, "REQUEST_BODY_IS_REQUEST")
				}
			}
		})
	}
}

// An answer that does not start with "HTTP/" (HTTP/0.9, junk) is refused
// at its first bytes, not at its line end: a file sent without a status
// line used to pass, piece by piece, until a newline or the end of the
// flow. A status line cut after any byte is not.
func TestResponseWithoutStatusLine(t *testing.T) {
	for _, tc := range []struct {
		first string // the response's first bytes
		event bool
	}{
		{"X5O!P", true},
		{"\r\nHTT", false},
		{"htt", false},
		{"HTTP/1.1 20", false},
		{"HTTP1", true},
		{" HTTP", true},
	} {
		p := New()
		rec := &recorder{}
		p.Feed(inspect.ToServer, []byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), rec.emit)
		for i := range len(tc.first) {
			p.Feed(inspect.ToClient, []byte(tc.first[i:i+1]), rec.emit)
		}
		if tc.event {
			assert.Contains(t, rec.anomalies(), "RESPONSE_INVALID_PROTOCOL", "%q", tc.first)
		} else {
			assert.NotContains(t, rec.anomalies(), "RESPONSE_INVALID_PROTOCOL", "%q", tc.first)
		}
	}
}

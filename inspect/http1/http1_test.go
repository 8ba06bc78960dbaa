package http1

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

const absent = "<absent>"

func TestRequestBuffers(t *testing.T) {
	tests := []struct {
		name string
		req  string
		want map[string]string // buffer -> content; absent for nil
	}{
		{
			name: "typical GET",
			req: "GET /index.html?a=1 HTTP/1.1\r\nHost: Suricata.IO:8080\r\nUser-Agent: Mozilla/5.0\r\n" +
				"Accept: */*\r\nAccept-Encoding: gzip\r\nAccept-Language: en\r\nCookie: s=1\r\n" +
				"Connection: keep-alive\r\nReferer: http://a/\r\n\r\n",
			want: map[string]string{
				"http.method":       "GET",
				"http.uri":          "/index.html?a=1",
				"http.uri.raw":      "/index.html?a=1",
				"http.protocol":     "HTTP/1.1",
				"http.request_line": "GET /index.html?a=1 HTTP/1.1",
				"http.host":         "suricata.io",
				"http.host.raw":     "Suricata.IO:8080",
				"http.user_agent":   "Mozilla/5.0",
				"http.accept":       "*/*",
				"http.accept_enc":   "gzip",
				"http.accept_lang":  "en",
				"http.cookie":       "s=1",
				"http.connection":   "keep-alive",
				"http.referer":      "http://a/",
				"http.header": "Host: Suricata.IO:8080\r\nUser-Agent: Mozilla/5.0\r\nAccept: */*\r\n" +
					"Accept-Encoding: gzip\r\nAccept-Language: en\r\nConnection: keep-alive\r\nReferer: http://a/\r\n",
				"http.header.raw": "Host: Suricata.IO:8080\r\nUser-Agent: Mozilla/5.0\r\n" +
					"Accept: */*\r\nAccept-Encoding: gzip\r\nAccept-Language: en\r\nCookie: s=1\r\n" +
					"Connection: keep-alive\r\nReferer: http://a/\r\n\r\n",
				"http.header_names": "\r\nHost\r\nUser-Agent\r\nAccept\r\nAccept-Encoding\r\nAccept-Language\r\nCookie\r\nConnection\r\nReferer\r\n\r\n",
				"http.start": "GET /index.html?a=1 HTTP/1.1\r\nHost: Suricata.IO:8080\r\nUser-Agent: Mozilla/5.0\r\n" +
					"Accept: */*\r\nAccept-Encoding: gzip\r\nAccept-Language: en\r\nCookie: s=1\r\n" +
					"Connection: keep-alive\r\nReferer: http://a/\r\n\r\n",
				"http.request_body": absent,
				"http.content_len":  absent,
			},
		},
		{
			name: "values trimmed, no space after colon, folded line joined",
			req:  "GET / HTTP/1.1\r\nHost:example.com  \r\nX-A: one\r\n\t two\r\nUser-Agent:\t ua \r\n\r\n",
			want: map[string]string{
				"http.host":       "example.com",
				"http.host.raw":   "example.com",
				"http.user_agent": "ua",
				"http.header":     "Host: example.com\r\nX-A: one two\r\nUser-Agent: ua\r\n",
				"http.header.raw": "Host:example.com  \r\nX-A: one\r\n\t two\r\nUser-Agent:\t ua \r\n\r\n",
			},
		},
		{
			name: "repeated header merged into the first",
			req:  "GET / HTTP/1.1\r\nHost: h\r\nX-Y: 1\r\nAccept: a\r\nx-y: 2\r\n\r\n",
			want: map[string]string{
				"http.header":       "Host: h\r\nX-Y: 1, 2\r\nAccept: a\r\n",
				"http.header_names": "\r\nHost\r\nX-Y\r\nAccept\r\n\r\n",
			},
		},
		{
			name: "absolute URI: host from the URI, uri is the path",
			req:  "GET http://User@WWW.Example.COM.:81/a/../b HTTP/1.1\r\nHost: other\r\n\r\n",
			want: map[string]string{
				"http.uri":      "/b",
				"http.uri.raw":  "http://User@WWW.Example.COM.:81/a/../b",
				"http.host":     "www.example.com",
				"http.host.raw": "User@WWW.Example.COM.:81",
			},
		},
		{
			name: "absolute URI without path",
			req:  "GET http://h.example HTTP/1.0\r\n\r\n",
			want: map[string]string{"http.uri": "/", "http.host": "h.example"},
		},
		{
			name: "IPv6 host keeps brackets, drops port",
			req:  "GET / HTTP/1.1\r\nHost: [2001:DB8::1]:8080\r\n\r\n",
			want: map[string]string{"http.host": "[2001:db8::1]"},
		},
		{
			name: "HTTP/1.0 without headers",
			req:  "GET / HTTP/1.0\r\n\r\n",
			want: map[string]string{
				"http.header": absent, "http.header_names": absent, "http.host": absent,
				"http.start": "GET / HTTP/1.0\r\n\r\n", "http.header.raw": "\r\n",
			},
		},
		{
			name: "bare LF line endings",
			req:  "GET /x HTTP/1.1\nHost: h\n\n",
			want: map[string]string{"http.request_line": "GET /x HTTP/1.1", "http.host": "h", "http.header": "Host: h\r\n"},
		},
		{
			name: "POST body with content length",
			req:  "POST /f HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
			want: map[string]string{
				"http.request_body": "hello",
				"http.content_len":  "5",
				"http.content_type": "text/plain",
			},
		},
		{
			name: "chunked request body de-chunked",
			req: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
				"5;ext=1\r\nhello\r\nA\r\n, world!!!\r\n0\r\nX-Trailer: 1\r\n\r\n",
			want: map[string]string{"http.request_body": "hello, world!!!"},
		},
		{
			name: "CONNECT keeps the authority",
			req:  "CONNECT Example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
			want: map[string]string{"http.uri": "Example.com:443", "http.host": "example.com", "http.method": "CONNECT"},
		},
		{
			name: "leading empty lines ignored",
			req:  "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
			want: map[string]string{"http.request_line": "GET / HTTP/1.1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run([]step{cs(tc.req)})
			got := r.final()[key{inspect.ToServer, 0}]
			require.NotNil(t, got)
			for b, want := range tc.want {
				v, ok := got[b]
				if want == absent {
					assert.False(t, ok, "%s should be absent, is %q", b, v)
					continue
				}
				assert.True(t, ok, "%s missing", b)
				assert.Equal(t, want, v, b)
			}
		})
	}
}

func TestURINormalization(t *testing.T) {
	tests := []struct{ name, raw, want string }{
		{"plain", "/a/b.html", "/a/b.html"},
		{"percent decoded", "/%61dmin/%7euser", "/admin/~user"},
		{"encoded slash and dot decoded before dot removal", "/a/%2e%2e%2fetc/passwd", "/etc/passwd"},
		{"backslash to slash", "/scripts\\..\\..\\winnt\\cmd.exe", "/winnt/cmd.exe"},
		{"encoded backslash", "/a%5c..%5cb", "/b"},
		{"slash runs folded", "//a///b//", "/a/b/"},
		{"dot segments", "/a/./b/../../c/.", "/c/"},
		{"dot dot above root", "/../../etc/passwd", "/etc/passwd"},
		{"trailing dot dot", "/a/b/..", "/a/"},
		{"invalid escape kept", "/a%zz%4", "/a%zz%4"},
		{"query decoded once, not normalised", "/p%61th/../x?q=%41/../b", "/x?q=A/../b"},
		{"fragment stays raw", "/a/./b#x/../y", "/a/b#x/../y"},
		{"NUL decoded", "/a%00.php", "/a\x00.php"},
		{"asterisk", "*", "*"},
		{"dots inside names kept", "/a..b/.c/..d", "/a..b/.c/..d"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run([]step{cs("OPTIONS " + tc.raw + " HTTP/1.1\r\nHost: h\r\n\r\n")})
			got := r.final()[key{inspect.ToServer, 0}]
			assert.Equal(t, tc.want, got["http.uri"])
			assert.Equal(t, tc.raw, got["http.uri.raw"])
		})
	}
}

func TestResponseBuffers(t *testing.T) {
	req := "GET /r HTTP/1.1\r\nHost: h\r\nUser-Agent: ua\r\nCookie: c=1\r\nContent-Type: req/type\r\n\r\n"
	resp := "HTTP/1.1 302 Found It\r\nServer: nginx/1.2\r\nLocation: /there\r\nSet-Cookie: id=2\r\n" +
		"Content-Type: text/html\r\nContent-Length: 4\r\n\r\nbody"
	r := run([]step{cs(req), sc(resp)})
	got := r.final()[key{inspect.ToClient, 0}]
	want := map[string]string{
		"http.response_line": "HTTP/1.1 302 Found It",
		"http.stat_code":     "302",
		"http.stat_msg":      "Found It",
		"http.protocol":      "HTTP/1.1",
		"http.server":        "nginx/1.2",
		"http.location":      "/there",
		"http.cookie":        "id=2",
		"http.content_type":  "text/html",
		"http.content_len":   "4",
		"http.response_body": "body",
		"http.header":        "Server: nginx/1.2\r\nLocation: /there\r\nContent-Type: text/html\r\nContent-Length: 4\r\n",
		"http.header_names":  "\r\nServer\r\nLocation\r\nSet-Cookie\r\nContent-Type\r\nContent-Length\r\n\r\n",
		"http.start": "HTTP/1.1 302 Found It\r\nServer: nginx/1.2\r\nLocation: /there\r\nSet-Cookie: id=2\r\n" +
			"Content-Type: text/html\r\nContent-Length: 4\r\n\r\n",
		// Request-only buffers stay set for rules mixing both sides.
		"http.uri":        "/r",
		"http.method":     "GET",
		"http.user_agent": "ua",
		"http.host":       "h",
	}
	for b, w := range want {
		assert.Equal(t, w, got[b], b)
	}
	_, hasReqBody := got["http.request_body"]
	assert.False(t, hasReqBody)
	require.Len(t, r.events(), 1)
	assert.Equal(t, inspect.HTTPTx{
		Hostname: "h", URL: "/r", Method: "GET", Protocol: "HTTP/1.1", UserAgent: "ua",
		ContentType: "text/html", Status: 302, Length: 4, Redirect: "/there",
	}, r.events()[0])
	assert.Empty(t, r.anomalies())
}

func TestFraming(t *testing.T) {
	get := func(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: h\r\n\r\n" }
	type tx struct {
		uri, body string
		status    int
		length    int64
	}
	tests := []struct {
		name  string
		steps []step
		want  []tx // per transaction, in order, from the events
	}{
		{
			name:  "pipelined requests pair with responses in order",
			steps: []step{cs(get("/1") + get("/2") + get("/3")), sc("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 404 NF\r\nContent-Length: 2\r\n\r\nbbHTTP/1.1 500 E\r\nContent-Length: 0\r\n\r\n")},
			want:  []tx{{"/1", "a", 200, 1}, {"/2", "bb", 404, 2}, {"/3", "", 500, 0}},
		},
		{
			name:  "chunked response",
			steps: []step{cs(get("/c")), sc("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"), cs(get("/n")), sc("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz")},
			// The logged length is libhtp's response_message_len: the
			// chunked body as sent (3 data bytes and 8 of framing).
			want: []tx{{"/c", "abc", 200, 11}, {"/n", "z", 200, 1}},
		},
		{
			name:  "body to end of connection",
			steps: []step{cs("GET /e HTTP/1.0\r\n\r\n"), sc("HTTP/1.0 200 OK\r\n\r\nuntil"), sc(" close")},
			want:  []tx{{"/e", "until close", 200, 11}},
		},
		{
			name:  "HEAD response has no body despite Content-Length",
			steps: []step{cs("HEAD /h HTTP/1.1\r\nHost: h\r\n\r\n" + get("/after")), sc("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")},
			want:  []tx{{"/h", "", 200, 0}, {"/after", "ok", 200, 2}},
		},
		{
			name:  "204 and 304 have no body",
			steps: []step{cs(get("/a") + get("/b") + get("/c")), sc("HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx")},
			want:  []tx{{"/a", "", 204, 0}, {"/b", "", 304, 0}, {"/c", "x", 200, 1}},
		},
		{
			name:  "100 continue then final response",
			steps: []step{cs("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"), sc("HTTP/1.1 100 Continue\r\n\r\n"), cs("hi"), sc("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")},
			want:  []tx{{"/p", "", 201, 0}},
		},
		{
			name:  "CONNECT 200 becomes an opaque tunnel",
			steps: []step{cs("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n"), sc("HTTP/1.1 200 Connection established\r\n\r\n"), cs("\x16\x03\x01GET / HTTP/1.1\r\n\r\n"), sc("\x16\x03\x03HTTP/1.1 200 OK\r\n\r\n")},
			want:  []tx{{"h:443", "", 200, 0}},
		},
		{
			name:  "CONNECT refused: later bytes are requests again",
			steps: []step{cs("CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n"), cs(get("/next")), sc("HTTP/1.1 407 Auth\r\nContent-Length: 0\r\n\r\n"), cs(get("/more")), sc("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")},
			want:  []tx{{"h:443", "", 407, 0}, {"/next", "", 200, 0}, {"/more", "", 200, 0}},
		},
		{
			name:  "101 switching protocols stops parsing",
			steps: []step{cs("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"), sc("HTTP/1.1 101 Switching\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"), cs("\x81\x85GET / HTTP/1.1\r\n\r\n")},
			want:  []tx{{"/ws", "", 101, 0}},
		},
		{
			name:  "HTTP/0.9 request and bare response",
			steps: []step{cs("GET /old\r\n"), sc("<html>old</html>")},
			want:  []tx{{"/old", "<html>old</html>", 0, 16}},
		},
		{
			name:  "request without response logged at close",
			steps: []step{cs(get("/lonely"))},
			want:  []tx{{"/lonely", "", 0, 0}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, mode := range []string{"whole", "bytewise"} {
				var r *recorder
				if mode == "whole" {
					r = run(tc.steps)
				} else {
					r = runSplit(tc.steps, byteAtATime)
				}
				evs := r.events()
				require.Len(t, evs, len(tc.want), mode)
				fin := r.final()
				for i, w := range tc.want {
					assert.Equal(t, w.uri, evs[i].URL, "%s tx %d", mode, i)
					assert.Equal(t, w.status, evs[i].Status, "%s tx %d", mode, i)
					assert.Equal(t, w.length, evs[i].Length, "%s tx %d", mode, i)
					body, ok := fin[key{inspect.ToClient, uint64(i)}]["http.response_body"]
					assert.Equal(t, w.body != "", ok, "%s tx %d has body", mode, i)
					assert.Equal(t, w.body, body, "%s tx %d", mode, i)
				}
			}
		})
	}
}

func TestAnomalies(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
		want  []string
	}{
		{"clean request", []step{cs("GET / HTTP/1.1\r\nHost: h\r\n\r\n")}, nil},
		{"content length and transfer encoding", []step{cs("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")}, []string{"REQUEST_CONTENT_LENGTH_AND_TRANSFER_ENCODING"}},
		{"response content length and transfer encoding", []step{cs("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), sc("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")}, []string{"RESPONSE_CONTENT_LENGTH_AND_TRANSFER_ENCODING"}},
		{"conflicting content lengths", []step{cs("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabc")}, []string{"DUPLICATE_CONTENT_LENGTH_FIELD_IN_REQUEST", "REQUEST_HEADER_REPETITION"}},
		// Equal repeated lengths frame the same way: only libhtp's
		// repetition warning.
		{"equal repeated content lengths are fine", []step{cs("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc")}, []string{"REQUEST_HEADER_REPETITION"}},
		{"invalid content length", []step{cs("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n")}, []string{"INVALID_CONTENT_LENGTH_FIELD_IN_REQUEST"}},
		{"NUL in header", []step{cs("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x00b\r\n\r\n")}, []string{"REQUEST_HEADER_INVALID"}},
		{"bare CR in header", []step{cs("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n")}, []string{"REQUEST_BARE_CR"}},
		{"bare CR in status line", []step{cs("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), sc("HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n")}, []string{"RESPONSE_BARE_CR"}},
		{"chunked HTTP/1.0 response", []step{cs("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), sc("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")}, []string{"RESPONSE_TRANSFER_ENCODING_IN_HTTP10"}},
		{"space before colon", []step{cs("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n")}, []string{"REQUEST_HEADER_INVALID"}},
		{"missing colon", []step{cs("GET / HTTP/1.1\r\nHost: h\r\nnocolon\r\n\r\n")}, []string{"REQUEST_FIELD_MISSING_COLON"}},
		{"folding on first header", []step{cs("GET / HTTP/1.1\r\n Host: h\r\n\r\n")}, []string{"INVALID_REQUEST_FIELD_FOLDING"}},
		{"missing host in 1.1", []step{cs("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n")}, []string{"MISSING_HOST_HEADER"}},
		{"invalid chunk size", []step{cs("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")}, []string{"INVALID_REQUEST_CHUNK_LEN"}},
		{"invalid response chunk size", []step{cs("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), sc("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n")}, []string{"INVALID_RESPONSE_CHUNK_LEN"}},
		{"unknown transfer coding", []step{cs("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n")}, []string{"INVALID_TRANSFER_ENCODING_VALUE_IN_REQUEST"}},
		// A line after a finished request that is no request line is that
		// request's body, as libhtp reads it.
		{"garbage after the method", []step{cs("GET / HTTP/1.1\r\nHost: h\r\n\r\n\x00\x01\x02binary junk\r\n")}, []string{"REQUEST_BODY_UNEXPECTED"}},
		{"garbage first", []step{cs("\x00\x01\x02binary junk\r\n")}, []string{"REQUEST_LINE_INVALID"}},
		{"response not HTTP", []step{cs("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), sc("SSH-2.0-OpenSSH\r\n")}, []string{"RESPONSE_INVALID_PROTOCOL"}},
		{"invalid status", []step{cs("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), sc("HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n")}, []string{"RESPONSE_INVALID_STATUS"}},
		{"response without request", []step{sc("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")}, []string{"UNABLE_TO_MATCH_RESPONSE_TO_REQUEST"}},
		{"request line without protocol", []step{cs("GET /\r\n")}, []string{"REQUEST_LINE_MISSING_PROTOCOL"}},
		{"oversized header section", []step{cs("GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + strings.Repeat("a", 400) + "\r\n\r\n")}, []string{"REQUEST_HEADER_SECTION_TOO_LARGE"}},
		{"request line over the section", []step{cs("GET /" + strings.Repeat("a", 400) + " HTTP/1.1\r\nHost: h\r\n\r\n")}, []string{"REQUEST_HEADER_SECTION_TOO_LARGE"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, split := range []func([]byte) [][]byte{nil, byteAtATime} {
				r := runSplit(tc.steps, split, WithMaxHeaderBytes(256))
				assert.Equal(t, tc.want, r.anomalies())
			}
		})
	}
}

// TestEarlyEmit checks buffers are handed over as soon as they are
// complete, before the rest of the message arrives: the data path holds
// bytes until a verdict, so a late Unit would stall the flow.
func TestEarlyEmit(t *testing.T) {
	p := New()
	r := &recorder{}
	p.Feed(inspect.ToServer, []byte("POST /upload HTTP/1.1\r\nHo"), r.emit)
	require.Len(t, r.units, 1, "request line complete")
	assert.Equal(t, "/upload", r.units[0].bufs["http.uri"])
	assert.NotContains(t, r.units[0].bufs, "http.header")

	p.Feed(inspect.ToServer, []byte("st: h\r\nContent-Length: 10\r\n\r\n"), r.emit)
	require.Len(t, r.units, 2, "headers complete")
	assert.Equal(t, "h", r.units[1].bufs["http.host"])

	p.Feed(inspect.ToServer, []byte("01234"), r.emit)
	require.Len(t, r.units, 3, "body grew")
	assert.Equal(t, "01234", r.units[2].bufs["http.request_body"])

	p.Feed(inspect.ToServer, []byte("56789"), r.emit)
	require.Len(t, r.units, 4)
	assert.Equal(t, "0123456789", r.units[3].bufs["http.request_body"])

	p.Feed(inspect.ToClient, []byte("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab"), r.emit)
	last := r.units[len(r.units)-1]
	assert.Equal(t, "ab", last.bufs["http.response_body"])
	assert.Nil(t, last.event, "not complete yet")
	p.Feed(inspect.ToClient, []byte("cd"), r.emit)
	last = r.units[len(r.units)-1]
	assert.Equal(t, "abcd", last.bufs["http.response_body"])
	require.NotNil(t, last.event)
	assert.Equal(t, 200, last.event.Status)
}

func TestBounds(t *testing.T) {
	t.Run("body beyond the bound is counted, not kept", func(t *testing.T) {
		body := strings.Repeat("x", 1000)
		r := run([]step{
			cs("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n" + body + "GET /next HTTP/1.1\r\nHost: h\r\n\r\n"),
			sc("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + body + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
		}, WithMaxBodyBytes(100))
		fin := r.final()
		assert.Equal(t, body[:100], fin[key{inspect.ToServer, 0}]["http.request_body"])
		assert.Equal(t, body[:100], fin[key{inspect.ToClient, 0}]["http.response_body"])
		evs := r.events()
		require.Len(t, evs, 2)
		assert.Equal(t, int64(1000), evs[0].Length)
		assert.Equal(t, "/next", evs[1].URL, "framing followed past the bound")
	})
	t.Run("framing still followed past the header bound", func(t *testing.T) {
		r := run([]step{
			cs("POST / HTTP/1.1\r\nHost: h\r\nX-Big: " + strings.Repeat("a", 500) + "\r\nContent-Length: 3\r\n\r\nabcGET /next HTTP/1.1\r\nHost: h\r\n\r\n"),
		}, WithMaxHeaderBytes(256))
		fin := r.final()
		assert.Equal(t, "abc", fin[key{inspect.ToServer, 0}]["http.request_body"])
		assert.Equal(t, "h", fin[key{inspect.ToServer, 0}]["http.host"], "headers before the bound kept")
		assert.Equal(t, "/next", fin[key{inspect.ToServer, 1}]["http.uri"])
	})
	t.Run("pipelined requests without responses are bounded", func(t *testing.T) {
		var b strings.Builder
		for range maxPending * 3 {
			b.WriteString("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		}
		p := New()
		p.Feed(inspect.ToServer, []byte(b.String()), func(*applayer.Unit) {})
		assert.LessOrEqual(t, len(p.pending), maxPending)
	})
}

// TestChunkingEquivalence is the property the data path relies on: however
// TCP cuts the stream, the final buffers, events and anomalies are the
// same.
func TestChunkingEquivalence(t *testing.T) {
	convs := map[string][]step{
		"keepalive mix": {
			cs("GET /a%2fb/../c?x=1 HTTP/1.1\r\nHost: Ex.com\r\nCookie: a\r\nX: 1\r\n x\r\n\r\nPOST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwiki\r\n5\r\npedia\r\n0\r\n\r\n"),
			sc("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;x\r\nA\r\n0\r\nT: 1\r\n\r\n"),
			cs("GET /last HTTP/1.0\r\n\r\n"),
			sc("HTTP/1.0 200 OK\r\n\r\ntail"),
		},
		"anomalies": {
			cs("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nContent-Length: 3\r\nBad : x\r\n\r\nabGET / HTTP/1.1\r\n\r\n"),
			sc("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nq\r\n"),
		},
	}
	for name, steps := range convs {
		t.Run(name, func(t *testing.T) {
			want := run(steps)
			require.NotEmpty(t, want.events())
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range 50 {
				split := randomSplit(rng)
				if i == 0 {
					split = byteAtATime
				}
				got := runSplit(steps, split)
				require.Equal(t, want.final(), got.final(), "run %d", i)
				require.Equal(t, want.events(), got.events(), "run %d", i)
				require.Equal(t, want.anomalies(), got.anomalies(), "run %d", i)
			}
		})
	}
}

func TestProbe(t *testing.T) {
	tests := []struct {
		name string
		dir  inspect.Direction
		data string
		want applayer.ProbeResult
	}{
		{"GET", inspect.ToServer, "GET / HTTP/1.1\r\n", applayer.ProbeYes},
		{"partial method", inspect.ToServer, "PRO", applayer.ProbeMore},
		{"WebDAV", inspect.ToServer, "PROPFIND /x", applayer.ProbeYes},
		{"leading CRLF", inspect.ToServer, "\r\nPOST /", applayer.ProbeYes},
		{"TLS", inspect.ToServer, "\x16\x03\x01\x02\x00", applayer.ProbeNo},
		{"lower case method", inspect.ToServer, "get / HTTP/1.1", applayer.ProbeYes},
		{"token not ended yet", inspect.ToServer, "GETX", applayer.ProbeMore},
		{"unknown token method", inspect.ToServer, "FOO /x HTTP/1.1\r\n", applayer.ProbeYes},
		{"unknown method, line not ended", inspect.ToServer, "FOO /x HT", applayer.ProbeMore},
		{"unknown method, lower case version", inspect.ToServer, "foo /x http/1.0\n", applayer.ProbeYes},
		{"tabs and runs", inspect.ToServer, "GeT\t\t/x \tHTTP/1.1\r\n", applayer.ProbeYes},
		{"tab after unknown method", inspect.ToServer, "BREW\t/pot\tHTTP/1.1\r\n", applayer.ProbeYes},
		{"long unknown line", inspect.ToServer, "FOO /" + strings.Repeat("a", 2000), applayer.ProbeYes},
		{"SMTP", inspect.ToServer, "EHLO mail.example\r\n", applayer.ProbeNo},
		{"FTP", inspect.ToServer, "USER anonymous\r\n", applayer.ProbeNo},
		{"method then junk", inspect.ToServer, "GET\x00/", applayer.ProbeNo},
		{"blanks before the method", inspect.ToServer, " \t\vGET /x HTTP/1.1\r\n", applayer.ProbeYes},
		{"VT and FF separators", inspect.ToServer, "FOO\v/x\fHTTP/1.1\r\n", applayer.ProbeYes},
		{"empty lines past a line's worth", inspect.ToServer, strings.Repeat("\r\n", 600), applayer.ProbeYes},
		{"a few empty lines", inspect.ToServer, "\r\n\r\n", applayer.ProbeMore},
		{"blank before a status line", inspect.ToClient, " HTTP/1.1 200 OK", applayer.ProbeNo},
		{"PROXY v1", inspect.ToServer, "PROXY TCP4 192.0.2.1 192.0.2.2 1234 80\r\nget / HTTP/1.1\r\n", applayer.ProbeYes},
		{"PROXY v1 not ended", inspect.ToServer, "PROXY TCP4 192.0.2.1", applayer.ProbeMore},
		{"PROXY v1 then TLS", inspect.ToServer, "PROXY TCP4 192.0.2.1 192.0.2.2 1234 443\r\n\x16\x03\x01", applayer.ProbeNo},
		{"PROXY v1 broken", inspect.ToServer, "PROXY TCP9 a b c d\r\n", applayer.ProbeYes},
		{"PROXY v2", inspect.ToServer, "\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\xc0\x00\x02\x01\xc0\x00\x02\x02\x04\xd2\x00\x50GET / HTTP/1.1\r\n", applayer.ProbeYes},
		{"lower case response", inspect.ToClient, "http/1.1 200 OK", applayer.ProbeYes},
		{"response", inspect.ToClient, "HTTP/1.1 200 OK", applayer.ProbeYes},
		{"partial response", inspect.ToClient, "HTT", applayer.ProbeMore},
		{"SSH banner", inspect.ToClient, "SSH-2.0", applayer.ProbeNo},
		{"empty", inspect.ToServer, "", applayer.ProbeMore},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Probe(tc.dir, []byte(tc.data)))
		})
	}
}

func TestRegistered(t *testing.T) {
	var found bool
	for _, p := range applayer.Protos() {
		if p.Name == "http" {
			found = true
			assert.Equal(t, inspect.ProtoTCP, p.Transport)
			assert.Contains(t, p.Buffers, applayer.HTTPURI)
			assert.NotNil(t, p.New())
		}
	}
	assert.True(t, found)
}

// Each limit has its own anomaly, reported once per message however the
// stream is cut, and the headers within the limits are still parsed.
func TestLimits(t *testing.T) {
	lim := Limits{StartLine: 300, HeaderLine: 300, HeaderCount: 4, HeaderSection: 2000, ChunkLine: 40}
	long := strings.Repeat("a", 400)
	tests := []struct {
		name  string
		steps []step
		want  []string
	}{
		{"request line", []step{cs("GET /" + long + " HTTP/1.1\r\nHost: h\r\n\r\n")}, []string{"REQUEST_LINE_TOO_LONG"}},
		{"header line", []step{cs("GET / HTTP/1.1\r\nHost: h\r\nX-A: " + long + "\r\n\r\n")}, []string{"REQUEST_FIELD_TOO_LONG"}},
		{"header count", []step{cs("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n")}, []string{"REQUEST_TOO_MANY_HEADERS"}},
		{"header section", []step{cs("GET / HTTP/1.1\r\nHost: h\r\nA: " + long + "\r\n" + strings.Repeat("B: "+long[:250]+"\r\n", 8) + "\r\n")}, []string{"REQUEST_HEADER_SECTION_TOO_LARGE", "REQUEST_TOO_MANY_HEADERS", "REQUEST_FIELD_TOO_LONG", "REQUEST_HEADER_REPETITION"}},
		{"chunk line", []step{cs("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1;" + long + "\r\na\r\n0\r\n\r\n")}, []string{"INVALID_REQUEST_CHUNK_LEN"}},
		{"status line", []step{cs("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), sc("HTTP/1.1 200 " + long + "\r\nContent-Length: 0\r\n\r\n")}, []string{"RESPONSE_LINE_TOO_LONG"}},
		{"within every limit", []step{cs("GET / HTTP/1.1\r\nHost: h\r\nA: " + long[:250] + "\r\n\r\n")}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, split := range []func([]byte) [][]byte{nil, byteAtATime} {
				r := runSplit(tc.steps, split, WithLimits(lim))
				want := append([]string(nil), tc.want...)
				sort.Strings(want)
				assert.Equal(t, want, r.anomalies())
			}
		})
	}
	t.Run("header rules still see the first headers", func(t *testing.T) {
		r := run([]step{cs("GET / HTTP/1.1\r\nHost: first.example\r\nX-Evil: 1\r\n" + strings.Repeat("B: "+long+"\r\n", 8) + "\r\n")}, WithLimits(lim))
		final := r.final()[key{inspect.ToServer, 0}]
		assert.Equal(t, "first.example", final["http.host"])
		assert.Contains(t, final["http.header"], "X-Evil: 1")
	})
}

// A body longer than the inspection window is inspected whole, window by
// window: content far past the window is still seen.
func TestBodyWindows(t *testing.T) {
	const size = 1 << 10
	body := strings.Repeat("x", 5000) + "EVIL-BODY" + strings.Repeat("y", 3000)
	resp := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	for _, split := range []func([]byte) [][]byte{nil, byteAtATime} {
		r := runSplit([]step{cs("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), sc(resp)}, split, WithMaxBodyBytes(size))
		seen := false
		for _, u := range r.units {
			b := u.bufs["http.response_body"]
			require.LessOrEqual(t, len(b), size)
			seen = seen || strings.Contains(b, "EVIL-BODY")
		}
		assert.True(t, seen, "the pattern 5000 bytes into the body is inspected")
	}
}

// Request lines an attacker shapes to steer the inspector off the request
// are read as the lenient servers read them, cut at any byte.
func TestEvasiveRequestLines(t *testing.T) {
	proxyV2 := "\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\xc0\x00\x02\x01\xc0\x00\x02\x02\x04\xd2\x00\x50"
	tests := []struct {
		name, req             string
		method, uri, protocol string
		proxySrc              string
		anoms                 []string
	}{
		{"lower case", "get /a/../evil HTTP/1.1\r\nHost: h\r\n\r\n", "get", "/evil", "HTTP/1.1", "", nil},
		{"unknown token", "FOO /evil HTTP/1.1\r\nHost: h\r\n\r\n", "FOO", "/evil", "HTTP/1.1", "", nil},
		{"tabs and runs", "GET\t \t/evil \t HTTP/1.1\r\nHost: h\r\n\r\n", "GET", "/evil", "HTTP/1.1", "", []string{"METHOD_DELIM_NON_COMPLIANT"}},
		{"leading whitespace", " \tGET /evil\tHTTP/1.1\r\nHost: h\r\n\r\n", "GET", "/evil", "HTTP/1.1", "", []string{"REQUEST_LINE_LEADING_WHITESPACE", "URI_DELIM_NON_COMPLIANT"}},
		{"leading empty lines", "\r\n\n\r\nGET /evil HTTP/1.1\r\nHost: h\r\n\r\n", "GET", "/evil", "HTTP/1.1", "", nil},
		{"lower case version", "GET /evil http/1.1\r\nHost: h\r\n\r\n", "GET", "/evil", "http/1.1", "", nil},
		{"PROXY v1", "PROXY TCP4 192.0.2.1 192.0.2.2 1234 80\r\nGET /evil HTTP/1.1\r\nHost: h\r\n\r\n", "GET", "/evil", "HTTP/1.1", "192.0.2.1:1234", nil},
		{"PROXY v2", proxyV2 + "GET /evil HTTP/1.1\r\nHost: h\r\n\r\n", "GET", "/evil", "HTTP/1.1", "192.0.2.1:1234", nil},
		{"broken PROXY", "PROXY TCP4 nope\r\nGET /evil HTTP/1.1\r\nHost: h\r\n\r\n", "PROXY", "TCP4 nope", "", "", []string{"PROXY_HEADER_INVALID", "REQUEST_LINE_MISSING_PROTOCOL"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, split := range []func([]byte) [][]byte{nil, byteAtATime} {
				r := runSplit([]step{cs(tc.req), sc("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")}, split)
				got := r.final()[key{inspect.ToServer, 0}]
				assert.Equal(t, tc.method, got["http.method"])
				assert.Equal(t, tc.uri, got["http.uri"])
				if tc.protocol != "" {
					assert.Equal(t, tc.protocol, got["http.protocol"])
				}
				assert.Equal(t, tc.anoms, r.anomalies())
				evs := r.events()
				require.NotEmpty(t, evs)
				if tc.proxySrc == "" {
					assert.Nil(t, evs[0].Proxy)
					continue
				}
				require.NotNil(t, evs[0].Proxy)
				assert.Equal(t, tc.proxySrc, evs[0].Proxy.Src.String())
				assert.Equal(t, "192.0.2.2:80", evs[0].Proxy.Dst.String())
			}
		})
	}
}

// Compressed bodies are inspected as the endpoint decodes them, in both
// directions, cut at any byte; what cannot be decoded is an anomaly.
func TestContentEncoding(t *testing.T) {
	const eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`
	var gzb, zb bytes.Buffer
	gw := gzip.NewWriter(&gzb)
	gw.Write([]byte(eicar))
	gw.Close()
	zw := zlib.NewWriter(&zb)
	zw.Write(gzb.Bytes())
	zw.Close()
	var brb bytes.Buffer
	bw := brotli.NewWriter(&brb)
	bw.Write([]byte(eicar))
	bw.Close()
	brBody := brb.Bytes()
	ze, _ := zstd.NewWriter(nil)
	var zg bytes.Buffer
	gw2 := gzip.NewWriter(&zg)
	gw2.Write(ze.EncodeAll([]byte(eicar), nil))
	gw2.Close()
	ze.Close()
	zgBody := zg.Bytes()
	resp := func(ce string, body []byte) string {
		return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n%s", ce, len(body), body)
	}
	tests := []struct {
		name  string
		steps []step
		body  string // the decoded body of the response or request, or its end
		anoms []string
	}{
		{"gzip response", []step{cs("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), sc(resp("gzip", gzb.Bytes()))}, eicar, nil},
		{"odd spelling and spacing", []step{cs("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), sc(resp(" X-GZip ,identity", gzb.Bytes()))}, eicar, []string{"ABNORMAL_CE_HEADER"}}, // libhtp wants gzip or x-gzip in a list
		{"stacked", []step{cs("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), sc(resp("gzip, deflate", zb.Bytes()))}, eicar, nil},
		{"gzip request body", []step{cs(fmt.Sprintf("POST / HTTP/1.1\r\nHost: h\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s", gzb.Len(), gzb.Bytes()))}, eicar, nil},
		{"not gzip", []step{cs("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), sc(resp("gzip", []byte("plain text")))}, "lain text", []string{"RESPONSE_CONTENT_ENCODING_INVALID"}},
		{"unknown coding", []step{cs("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), sc(resp("compress", []byte("xyz")))}, "xyz", []string{"ABNORMAL_CE_HEADER", "RESPONSE_CONTENT_ENCODING_UNSUPPORTED"}},
		{"brotli", []step{cs("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), sc(resp("br", brBody))}, eicar, nil},
		{"zstd then gzip", []step{cs("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), sc(resp("zstd, gzip", zgBody))}, eicar, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, split := range []func([]byte) [][]byte{nil, byteAtATime} {
				r := runSplit(tc.steps, split)
				var got string
				for _, u := range r.units {
					if b, ok := u.bufs["http.response_body"]; ok && u.dir == inspect.ToClient {
						got = b
					} else if b, ok := u.bufs["http.request_body"]; ok && u.dir == inspect.ToServer {
						got = b
					}
				}
				// An undecodable body is inspected raw from the chunk
				// that failed to decode.
				assert.True(t, strings.HasSuffix(got, tc.body), "%q", got)
				assert.Equal(t, tc.anoms, r.anomalies())
			}
		})
	}
	t.Run("bomb", func(t *testing.T) {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write(make([]byte, 8<<20))
		w.Close()
		r := run([]step{cs("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), sc(resp("gzip", b.Bytes()))})
		assert.Equal(t, []string{"RESPONSE_DECOMPRESSION_BOMB"}, r.anomalies())
	})
	t.Run("stacked bomb in one segment", func(t *testing.T) {
		// Under 1 KB of gzip, gzip, gzip decoding to 16 MiB: decoding
		// stops at the bound inside the segment, so about 1 MiB (the
		// ratio bound) is inspected, not 16 MiB window by window (341
		// windows before).
		enc := make([]byte, 16<<20)
		for range 3 {
			var b bytes.Buffer
			w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
			w.Write(enc)
			w.Close()
			enc = b.Bytes()
		}
		r := run([]step{cs("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), sc(resp("gzip, gzip, gzip", enc))})
		assert.Contains(t, r.anomalies(), "RESPONSE_DECOMPRESSION_BOMB")
		windows := 0
		for _, u := range r.units {
			if _, ok := u.bufs["http.response_body"]; ok && u.dir == inspect.ToClient {
				windows++
			}
		}
		assert.Less(t, windows, 100, "body windows inspected")
	})
}

// With fileinfo on, each body is a file record: named from
// Content-Disposition or the path, hashed and sniffed after decoding,
// CLOSED when its framing ended it, TRUNCATED when the flow did.
func TestFileInfo(t *testing.T) {
	const eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`
	sum := sha256.Sum256([]byte(eicar))
	want := hex.EncodeToString(sum[:])
	var gzb bytes.Buffer
	gw := gzip.NewWriter(&gzb)
	gw.Write([]byte(eicar))
	gw.Close()
	opts := WithLimits(Limits{FileInfo: true})
	for _, tc := range []struct {
		name  string
		steps []step
		files []inspect.FileInfo
	}{
		{"gzip download with a disposition", []step{cs("GET /dl/x.bin?y=1 HTTP/1.1\r\nHost: h\r\n\r\n"),
			sc(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Disposition: attachment; filename=\"eicar.com\"\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s", gzb.Len(), gzb.Bytes()))},
			[]inspect.FileInfo{{Filename: "eicar.com", Size: 68, SHA256: want, Magic: "text/plain; charset=utf-8", State: "CLOSED"}}},
		{"upload, name from the path", []step{cs("POST /up/report.txt HTTP/1.1\r\nHost: h\r\nContent-Length: 68\r\n\r\n" + eicar), sc("HTTP/1.1 204 No Content\r\n\r\n")},
			[]inspect.FileInfo{{Filename: "report.txt", Size: 68, SHA256: want, Magic: "text/plain; charset=utf-8", State: "CLOSED"}}},
		{"cut short", []step{cs("GET /f HTTP/1.1\r\nHost: h\r\n\r\n"), sc("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + eicar)},
			[]inspect.FileInfo{{Filename: "f", Size: 68, SHA256: want, Magic: "text/plain; charset=utf-8", State: "TRUNCATED"}}},
		{"ended by the close", []step{cs("GET /f HTTP/1.1\r\nHost: h\r\n\r\n"), sc("HTTP/1.0 200 OK\r\n\r\n" + eicar)},
			[]inspect.FileInfo{{Filename: "f", Size: 68, SHA256: want, Magic: "text/plain; charset=utf-8", State: "CLOSED"}}},
		{"no body, no file", []step{cs("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), sc("HTTP/1.1 304 Not Modified\r\n\r\n")}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, split := range []func([]byte) [][]byte{nil, byteAtATime} {
				r := runSplit(tc.steps, split, opts)
				assert.Equal(t, tc.files, r.files)
			}
		})
	}
	r := run([]step{cs("GET /f HTTP/1.1\r\nHost: h\r\n\r\n"), sc("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd")})
	assert.Empty(t, r.files, "off by default")
}

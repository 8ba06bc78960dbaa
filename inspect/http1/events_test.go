package http1

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// libhtp's warnings that Suricata's http-events.rules key on are raised
// where libhtp raises them, however the stream is cut, and stay with
// their transaction: every later Unit of it carries the event for
// app-layer-event rules.
func TestLibhtpEvents(t *testing.T) {
	ok := "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	tests := []struct {
		name  string
		steps []step
		event string // app-layer-event instance, on the transaction's last Unit
		dir   inspect.Direction
	}{
		{"request chunk extension", []step{cs("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nabcd\r\n0\r\n\r\n"), sc(ok)},
			"http.request_chunk_extension", inspect.ToServer},
		{"response chunk extension", []step{cs("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), sc("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0 ; x\r\n\r\n")},
			"http.response_chunk_extension", inspect.ToClient},
		{"unrecognized authorization", []step{cs("GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Turbo abc\r\n\r\n"), sc(ok)},
			"http.request_auth_unrecognized", inspect.ToServer},
		{"response header repetition", []step{cs("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), sc("HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nContent-Length: 0\r\n\r\n")},
			"http.response_header_repetition", inspect.ToClient},
		{"leading whitespace", []step{cs(" GET / HTTP/1.1\r\nHost: h\r\n\r\n"), sc(ok)},
			"http.request_line_leading_whitespace", inspect.ToServer},
		{"method delimiter", []step{cs("GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n"), sc(ok)},
			"http.method_delim_non_compliant", inspect.ToServer},
		{"second 100 Continue", []step{cs("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"), sc("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n" + ok)},
			"http.100_continue_already_seen", inspect.ToClient},
		{"host ambiguous", []step{cs("GET http://a.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n"), sc(ok)},
			"http.host_header_ambiguous", inspect.ToServer},
		{"host ambiguous by port", []step{cs("GET http://a.example:81/ HTTP/1.1\r\nHost: A.example.\r\n\r\n"), sc(ok)},
			"http.host_header_ambiguous", inspect.ToServer},
		{"response abnormal transfer encoding", []step{cs("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), sc("HTTP/1.1 200 OK\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n")},
			"http.response_abnormal_transfer_encoding", inspect.ToClient},
		{"multipart byteranges without length", []step{cs("GET / HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1,3-4\r\n\r\n"), sc("HTTP/1.1 206 Partial\r\nContent-Type: multipart/byteranges; boundary=B\r\n\r\n--B\r\n\r\nab\r\n--B--\r\n")},
			"http.response_multipart_byteranges", inspect.ToClient},
		{"content range out of order", []step{cs("GET /f HTTP/1.1\r\nHost: h\r\nRange: bytes=5-3\r\n\r\n"), sc("HTTP/1.1 206 Partial\r\nContent-Range: bytes 5-3/10\r\nContent-Length: 2\r\n\r\nab")},
			"http.range_invalid", inspect.ToClient},
		{"decompression bomb alias", []step{cs("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), sc("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope")},
			"http.gzip_decompression_failed", inspect.ToClient},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, split := range []func([]byte) [][]byte{nil, byteAtATime} {
				r := runSplit(tc.steps, split)
				var last *snap
				for i := range r.units {
					if u := &r.units[i]; u.dir == tc.dir && u.tx == 0 {
						last = u
					}
				}
				require.NotNil(t, last)
				assert.Contains(t, last.events, tc.event)
			}
		})
	}
}

// A line after a finished request that is no request line is read as
// that request's body (libhtp: REQUEST_BODY_UNEXPECTED); the event is
// seen together with the body, and the line starts no transaction.
func TestUnexpectedRequestBody(t *testing.T) {
	for _, split := range []func([]byte) [][]byte{nil, byteAtATime} {
		r := runSplit([]step{
			cs("POST /login HTTP/1.1\r\nHost: h\r\n\r\nuser=a&pass=b\r\n"),
			sc("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
			cs("GET /next HTTP/1.1\r\nHost: h\r\n\r\n"),
		}, split)
		var body *snap
		for i := range r.units {
			if u := &r.units[i]; u.dir == inspect.ToServer && u.bufs["http.request_body"] != "" {
				body = u
			}
		}
		require.NotNil(t, body)
		assert.EqualValues(t, 0, body.tx)
		assert.Equal(t, "user=a&pass=b\r\n", body.bufs["http.request_body"])
		assert.Contains(t, body.events, "http.request_body_unexpected")
		final := r.final()
		assert.Equal(t, "/next", final[key{inspect.ToServer, 1}]["http.uri"], "the next request is transaction 1")
	}
}

// A request line without a version is HTTP/0.9 unless header lines
// follow it in the bytes at hand (libhtp): then its headers are parsed.
func TestMissingProtocolWithHeaders(t *testing.T) {
	r := run([]step{cs("GET /gen.php?x=1\r\nHost: h\r\nUser-Agent:ua\r\n\r\n"), sc("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")})
	got := r.final()[key{inspect.ToServer, 0}]
	assert.Equal(t, "/gen.php?x=1", got["http.uri"])
	assert.Contains(t, got["http.header_names"], "User-Agent")
	assert.Equal(t, []string{"REQUEST_LINE_MISSING_PROTOCOL"}, r.anomalies())

	// Alone, it is HTTP/0.9: the answer is bare body.
	r = run([]step{cs("GET /\r\n"), sc("<html>")})
	evs := r.events()
	require.Len(t, evs, 1)
	assert.EqualValues(t, 6, evs[0].Length)
}

// Every documented http event name is accepted by app-layer-event, and
// only those: an unknown one would load a rule that never fires.
func TestEventNamesDeclared(t *testing.T) {
	var names []string
	for _, p := range applayer.Protos() {
		if p.Name == AppProto {
			names = p.Events
		}
	}
	for _, n := range []string{"request_chunk_extension", "request_auth_unrecognized", "compression_bomb",
		"failed_protocol_change", "multipart_no_filedata", "100_continue_already_seen", "request_bare_cr",
		"request_content_length_and_transfer_encoding", "double_encoded_uri"} {
		assert.Contains(t, names, n)
	}
	assert.NotContains(t, names, "no_such_event")
}

// The transaction record carries what EVE's http object and xff option
// need: the response's Location and the request's X-Forwarded-For.
func TestEventRedirectAndXFF(t *testing.T) {
	r := run([]step{cs("GET /index.php HTTP/1.0\r\nX-Forwarded-For: 10.2.2.2, 10.3.3.3\r\n\r\n"),
		sc("HTTP/1.0 302 Found\r\nLocation: /index.php?page=main.php\r\nContent-Length: 0\r\n\r\n")})
	evs := r.events()
	require.Len(t, evs, 1)
	assert.Equal(t, "/index.php?page=main.php", evs[0].Redirect)
	assert.Equal(t, "10.2.2.2, 10.3.3.3", evs[0].XFF)
	assert.Equal(t, 302, evs[0].Status)
}

// The same host in the target and the Host header (case, a trailing dot)
// is not ambiguous.
func TestHostNotAmbiguous(t *testing.T) {
	r := run([]step{cs("GET http://A.example:81/ HTTP/1.1\r\nHost: a.example.:81\r\n\r\n")})
	assert.Empty(t, r.anomalies())
}

// With HeaderLog the record carries the headers Suricata's
// dump-all-headers logs: in order, repeated ones merged.
func TestHeaderLog(t *testing.T) {
	steps := []step{cs("GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\n\r\n"), sc("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")}
	for _, tc := range []struct {
		log       string
		req, resp []inspect.HTTPHeader
	}{
		{"", nil, nil},
		{"request", []inspect.HTTPHeader{{Name: "Host", Value: "h"}, {Name: "X-A", Value: "1, 2"}}, nil},
		{"response", nil, []inspect.HTTPHeader{{Name: "Content-Length", Value: "0"}}},
		{"both", []inspect.HTTPHeader{{Name: "Host", Value: "h"}, {Name: "X-A", Value: "1, 2"}}, []inspect.HTTPHeader{{Name: "Content-Length", Value: "0"}}},
	} {
		evs := run(steps, WithLimits(Limits{HeaderLog: tc.log})).events()
		require.Len(t, evs, 1)
		assert.Equal(t, tc.req, evs[0].RequestHeaders, tc.log)
		assert.Equal(t, tc.resp, evs[0].ResponseHeaders, tc.log)
	}
}

// After a request line without a version, a line that is no header line
// starts the next request (the first was HTTP/0.9), however the stream
// is cut.
func TestVersionlessThenRequest(t *testing.T) {
	for _, split := range []func([]byte) [][]byte{nil, byteAtATime} {
		r := runSplit([]step{cs("GET /old\r\nGET /new HTTP/1.1\r\nHost: h\r\n\r\n")}, split)
		final := r.final()
		assert.Equal(t, "/old", final[key{inspect.ToServer, 0}]["http.uri"])
		assert.Equal(t, "/new", final[key{inspect.ToServer, 1}]["http.uri"])
		assert.Equal(t, "h", final[key{inspect.ToServer, 1}]["http.host"])
	}
}

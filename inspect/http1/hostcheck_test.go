package http1

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Host values read as libhtp's parse_hostport and validate_hostname do.
func TestLibhtpHostport(t *testing.T) {
	for _, tc := range []struct {
		v             string
		valid, parsed bool
	}{
		{"www.example.com", true, true},
		{"www.example.com:8080", true, true},
		{"under_score-1.example", true, true},
		{"example.com.", true, true},
		{"[2001:db8::1]:443", true, true},
		{"10.0.0.1", true, true},
		{"a.b:+80", true, true},
		{"", false, false},
		{"/path", false, false},
		{":80", false, false},
		{".example.com", false, true},
		{"a..b", false, true},
		{"exa mple.com", false, true},
		{"host!", false, true},
		{"a.b:0", false, true},
		{"a.b:70000", false, true},
		{"a.b:", false, true},
		{"a.b:x", false, true},
		{"a.b/x", false, true},
		{"[::1]x", false, true},
		{"[not-ipv6]", false, true},
		{"[::1", false, true},
		{string(make([]byte, 64)) + ".com", false, true},
	} {
		valid, parsed := libhtpHostport([]byte(tc.v))
		assert.Equal(t, tc.parsed, parsed, "%q parsed", tc.v)
		if tc.parsed {
			assert.Equal(t, tc.valid, valid, "%q valid", tc.v)
		}
	}
}

// A request raises REQUEST_HEADER_HOST_INVALID for its Host header and
// REQUEST_URI_HOST_INVALID for its target's authority.
func TestHostInvalidEvents(t *testing.T) {
	for _, tc := range []struct {
		req  string
		want []string
	}{
		{"GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n", nil},
		{"GET / HTTP/1.1\r\nHost: www..example.com\r\n\r\n", []string{"REQUEST_HEADER_HOST_INVALID"}},
		{"GET / HTTP/1.1\r\nHost: a.example:99999\r\n\r\n", []string{"REQUEST_HEADER_HOST_INVALID"}},
		{"GET http://user@a.example:0/ HTTP/1.1\r\nHost: a.example\r\n\r\n", []string{"REQUEST_URI_HOST_INVALID"}},
		{"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n", nil},
		{"CONNECT a.example:x HTTP/1.1\r\nHost: a.example:443\r\n\r\n", []string{"REQUEST_URI_HOST_INVALID"}},
	} {
		r := run([]step{cs(tc.req)})
		assert.Equal(t, tc.want, r.anomalies(), tc.req)
	}
}

// Content-Range values as Suricata's file ranges check them.
func TestValidContentRange(t *testing.T) {
	for v, want := range map[string]bool{
		"bytes 0-99/200": true, "bytes 100-199/200": true, "bytes */200": true, "bytes 5-9/*": true,
		"bytes 0-199/200": true, "bytes 150-100/200": false, "bytes 100-250/200": false,
		"bytes": false, "bytes x-1/2": false, "bytes 1-2": false, "bytes -1-2/3": false, "bytes 1-2/x": false,
	} {
		assert.Equal(t, want, validContentRange([]byte(v)), v)
	}
}

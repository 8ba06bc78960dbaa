package http1

import (
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/interdict/interdict/inspect"
)

// With the default limits, REQUEST_FIELD_TOO_LONG comes at libhtp's field
// limit: a line of FieldLimit bytes with its CRLF is within it, one byte
// more is not. Unlike libhtp, parsing goes on: a header after the long
// one is still inspected.
func TestFieldLimitAsLibhtp(t *testing.T) {
	header := func(total int) string { // a header line of total bytes with CRLF
		return "X-Large: " + strings.Repeat("x", total-len("X-Large: \r\n")) + "\r\n"
	}
	target := func(total int) string { // a request line of total bytes with CRLF
		return "/" + strings.Repeat("a", total-len("GET / HTTP/1.1\r\n"))
	}
	tests := []struct {
		name string
		req  string
		want []string
	}{
		{"header line at the limit", "GET / HTTP/1.1\r\nHost: h\r\n" + header(FieldLimit) + "X-Evil: 1\r\n\r\n", nil},
		{"header line past the limit", "GET / HTTP/1.1\r\nHost: h\r\n" + header(FieldLimit+1) + "X-Evil: 1\r\n\r\n", []string{"REQUEST_FIELD_TOO_LONG"}},
		// The start line has its own, lower bound; past libhtp's field
		// limit it is also libhtp's event.
		{"request line past the start line bound", "GET " + target(FieldLimit) + " HTTP/1.1\r\nHost: h\r\nX-Evil: 1\r\n\r\n", []string{"REQUEST_LINE_TOO_LONG"}},
		{"request line past the field limit", "GET " + target(FieldLimit+1) + " HTTP/1.1\r\nHost: h\r\nX-Evil: 1\r\n\r\n", []string{"REQUEST_FIELD_TOO_LONG", "REQUEST_LINE_TOO_LONG"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, split := range []func([]byte) [][]byte{nil, byteAtATime} {
				r := runSplit([]step{cs(tc.req)}, split)
				want := append([]string(nil), tc.want...)
				sort.Strings(want)
				assert.Equal(t, want, r.anomalies())
				assert.Contains(t, r.final()[key{inspect.ToServer, 0}]["http.header"], "X-Evil: 1\r\n")
			}
		})
	}
}

package http1

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/interdict/interdict/inspect"
)

// A target whose path or query still holds an escape once decoded is
// libhtp's DOUBLE_ENCODED_URI; http.uri stays decoded once, as the
// server reads it. The fragment is never decoded, so it never counts.
func TestDoubleEncodedURI(t *testing.T) {
	ok := "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	tests := []struct {
		target string
		uri    string // http.uri
		event  bool
	}{
		{"/evil%2527sqli", "/evil%27sqli", true},
		{"/?a=%2500", "/?a=%00", true},
		{"/%%34%31", "/%41", true}, // a bare % then escaped hex digits
		{"/a%20b?q=%41", "/a b?q=A", false},
		{"/100%25", "/100%", false},
		{"/%25zz", "/%zz", false},
		{"/p#%2541", "/p#%2541", false},
	}
	for _, tc := range tests {
		t.Run(tc.target, func(t *testing.T) {
			for _, split := range []func([]byte) [][]byte{nil, byteAtATime} {
				r := runSplit([]step{cs("GET " + tc.target + " HTTP/1.1\r\nHost: h\r\n\r\n"), sc(ok)}, split)
				assert.Equal(t, tc.uri, r.final()[key{inspect.ToServer, 0}]["http.uri"])
				if tc.event {
					assert.Contains(t, r.anomalies(), "DOUBLE_ENCODED_URI")
					var events []string
					for _, u := range r.units {
						if u.dir == inspect.ToServer && u.tx == 0 {
							events = u.events
						}
					}
					assert.Contains(t, events, "http.double_encoded_uri")
				} else {
					assert.NotContains(t, r.anomalies(), "DOUBLE_ENCODED_URI")
				}
			}
		})
	}
}

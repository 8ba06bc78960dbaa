package inspect

import "testing"

// As in Suricata: http covers HTTP/1 and HTTP/2, http1 and http2 only
// their own (HTTP/1 flows and transactions say "http").
func TestAppProtoIs(t *testing.T) {
	for _, tc := range []struct {
		app, want string
		ok        bool
	}{
		{"http", "http", true}, {"http2", "http", true}, {"http1", "http", true},
		{"http", "http1", true}, {"http2", "http1", false},
		{"http2", "http2", true}, {"http", "http2", false},
		{"tls", "http", false}, {"dns", "dns", true},
	} {
		if got := AppProtoIs(tc.app, tc.want); got != tc.ok {
			t.Errorf("AppProtoIs(%q, %q) = %v, want %v", tc.app, tc.want, got, tc.ok)
		}
	}
}

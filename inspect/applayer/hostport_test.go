package applayer

import "testing"

func TestHostPort(t *testing.T) {
	for in, want := range map[string]int{
		"example.com": 0, "example.com:8080": 8080, "user@h:81": 81, "[::1]:443": 443, "[::1]": 0,
		"h:": 0, "h:99999": 0, "h:8x": 0, "h:80 ": 80,
	} {
		if got := HostPort([]byte(in)); got != want {
			t.Errorf("HostPort(%q) = %d, want %d", in, got, want)
		}
	}
}

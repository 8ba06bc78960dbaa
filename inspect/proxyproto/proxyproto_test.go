package proxyproto

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func v2(cmd, fam byte, body []byte) []byte {
	b := append([]byte{}, v2Sig...)
	b = append(b, 0x20|cmd, fam, 0, 0)
	binary.BigEndian.PutUint16(b[14:], uint16(len(body)))
	return append(b, body...)
}

func TestParse(t *testing.T) {
	v4body := []byte{192, 0, 2, 1, 198, 51, 100, 2, 0x30, 0x39, 0, 80}
	v6body := append(append(netip.MustParseAddr("2001:db8::1").AsSlice(), netip.MustParseAddr("2001:db8::2").AsSlice()...), 0x30, 0x39, 1, 0xbb)
	tests := []struct {
		name string
		in   []byte
		want Header
		n    int
		err  string
	}{
		{"v1 tcp4", []byte("PROXY TCP4 192.0.2.1 198.51.100.2 12345 80\r\nGET /"), Header{1, "PROXY", "TCP4", netip.MustParseAddrPort("192.0.2.1:12345"), netip.MustParseAddrPort("198.51.100.2:80")}, 44, ""},
		{"v1 tcp6", []byte("PROXY TCP6 2001:db8::1 2001:db8::2 1 443\r\n"), Header{1, "PROXY", "TCP6", netip.MustParseAddrPort("[2001:db8::1]:1"), netip.MustParseAddrPort("[2001:db8::2]:443")}, 42, ""},
		{"v1 unknown", []byte("PROXY UNKNOWN whatever\r\nx"), Header{Version: 1, Command: "PROXY", Transport: "UNKNOWN"}, 24, ""},
		{"v1 prefix", []byte("PROX"), Header{}, 0, "need more"},
		{"v1 no CRLF yet", []byte("PROXY TCP4 1.2.3.4"), Header{}, 0, "need more"},
		{"v1 family mismatch", []byte("PROXY TCP4 2001:db8::1 1.2.3.4 1 2\r\n"), Header{}, 0, "v1 address"},
		{"v1 port leading zero", []byte("PROXY TCP4 1.2.3.4 1.2.3.5 01 2\r\n"), Header{}, 0, "v1 port"},
		{"v1 port range", []byte("PROXY TCP4 1.2.3.4 1.2.3.5 70000 2\r\n"), Header{}, 0, "v1 port"},
		{"v1 too long", append([]byte("PROXY UNKNOWN "), make([]byte, 120)...), Header{}, 0, "longer than 107"},
		{"v1 bad protocol", []byte("PROXY SCTP 1 2 3 4\r\n"), Header{}, 0, "v1 protocol"},
		{"v2 tcp4", v2(1, 0x11, v4body), Header{2, "PROXY", "TCP4", netip.MustParseAddrPort("192.0.2.1:12345"), netip.MustParseAddrPort("198.51.100.2:80")}, 28, ""},
		{"v2 tcp6 with TLV", v2(1, 0x21, append(v6body, 0x01, 0, 2, 'h', '2')), Header{2, "PROXY", "TCP6", netip.MustParseAddrPort("[2001:db8::1]:12345"), netip.MustParseAddrPort("[2001:db8::2]:443")}, 16 + 36 + 5, ""},
		{"v2 local", v2(0, 0, nil), Header{Version: 2, Command: "LOCAL", Transport: "UNKNOWN"}, 16, ""},
		{"v2 short", v2(1, 0x11, v4body)[:20], Header{}, 0, "need more"},
		{"v2 truncated addresses", v2(1, 0x21, v4body), Header{}, 0, "truncated"},
		{"v2 bad version", append(append([]byte{}, v2Sig...), 0x11, 0x11, 0, 0), Header{}, 0, "v2 version"},
		{"v2 over the bound", append(append([]byte{}, v2Sig...), 0x21, 0x11, 0xff, 0xff), Header{}, 0, "bound 4096"},
		{"not proxy", []byte("GET / HTTP/1.1\r\n"), Header{}, 0, "no PROXY signature"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, n, err := Parse(tc.in)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				assert.Equal(t, tc.err == "need more", errors.Is(err, ErrMore))
				assert.Equal(t, tc.err != "need more", errors.Is(err, ErrInvalid))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, h)
			assert.Equal(t, tc.n, n)
		})
	}
}

// Every proper prefix of a valid header asks for more; no input panics or
// claims more bytes than it was given.
func FuzzParse(f *testing.F) {
	f.Add([]byte("PROXY TCP4 192.0.2.1 198.51.100.2 12345 80\r\n"))
	f.Add(v2(1, 0x11, []byte{192, 0, 2, 1, 198, 51, 100, 2, 0x30, 0x39, 0, 80}))
	f.Add(v2(1, 0x31, make([]byte, 216)))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, n, err := Parse(b)
		if err != nil {
			require.True(t, errors.Is(err, ErrMore) || errors.Is(err, ErrInvalid), "%v", err)
			return
		}
		require.LessOrEqual(t, n, len(b))
		require.Positive(t, n)
		for i := 0; i < n; i++ {
			_, _, err := Parse(b[:i])
			require.ErrorIs(t, err, ErrMore, "prefix of %d bytes", i)
		}
	})
}

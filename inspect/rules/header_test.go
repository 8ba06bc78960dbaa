package rules

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIPVersionProtocols(t *testing.T) {
	v4a, v4b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	v6a, v6b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	cases := []struct {
		proto        string
		want4, want6 bool
	}{
		{"ip", true, true},
		{"ipv4", true, false},
		{"ipv6", false, true},
	}
	for _, tc := range cases {
		t.Run(tc.proto, func(t *testing.T) {
			r, why := loadOne(t, `alert `+tc.proto+` any any -> any any (msg:"t"; content:"x"; sid:1;)`)
			require.Empty(t, why)
			assert.Equal(t, tc.want4, r.MatchHeader(v4a, v4b, 1, 2), "IPv4 packet")
			assert.Equal(t, tc.want6, r.MatchHeader(v6a, v6b, 1, 2), "IPv6 packet")
		})
	}
}

func TestDsizeNegated(t *testing.T) {
	r, why := loadOne(t, `alert tcp any any -> any any (msg:"t"; dsize:!9; sid:1;)`)
	require.Empty(t, why)
	require.NotNil(t, r.Dsize)
	assert.False(t, r.Dsize.Match(9))
	assert.True(t, r.Dsize.Match(10))
	assert.True(t, r.Dsize.Match(0))
	_, why = loadOne(t, `alert tcp any any -> any any (msg:"t"; dsize:!x; sid:1;)`)
	assert.Contains(t, why, "dsize")
	_, why = loadOne(t, `alert tcp any any -> any any (msg:"t"; dsize:5; dsize:!9; sid:1;)`)
	assert.Equal(t, "dsize given twice", why)
}

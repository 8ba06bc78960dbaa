package detect

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// The vectors are those of Suricata's util-base64.c unit tests.
func TestBase64Decode(t *testing.T) {
	tests := []struct {
		mode     b64Mode
		in, want string
	}{
		{b64RFC2045, "SGVsbG8gV29ybGR6", "Hello Worldz"},
		{b64RFC2045, "SGVsbG8gV29ybGR", "Hello Wor"}, // a partial group is dropped
		{b64RFC2045, "SGVs bG8 gV29y bGQ=", "Hello World"},
		{b64RFC2045, "Zm$9vYm.Fy", "foobar"}, // bytes outside the alphabet are skipped
		{b64RFC4648, "Zm9vYg==", "foob"},
		{b64RFC4648, "Zm9vYmE=", "fooba"},
		{b64RFC4648, "Zm 9v Ym Fy", "f"},      // stops at the space, decodes the partial group
		{b64RFC4648, "dGhpc2lzYX", "thisisa"}, // leftover "YX" gives one byte
		{b64RFC4648, "Zg", "f"},               // two sextets: one byte
		{b64Strict, "Zm 9v Ym Fy", ""},        // fails as a whole
		{b64Strict, "Zm9vYmFy", "foobar"},     // valid input decodes
		{b64RFC4648, "", ""},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, string(base64Decode(nil, []byte(tc.in), tc.mode)), "%d %q", tc.mode, tc.in)
	}
}

func TestFromBase64Transform(t *testing.T) {
	tests := []struct {
		in, arg, want string
	}{
		{"/?arg=dGhpc2lzYXRlc3QK", "0,6,rfc4648", "thisisatest\n"},
		{"/?arg=dGhpc2lzYXRlc3QK", "6,6,rfc4648", "this"},
		{"/?arg=Zm 9v Ym Fy", "0,6,rfc2045", "foobar"},
		{"/?arg=Zm 9v Ym Fy", "0,6,strict", "/?arg=Zm 9v Ym Fy"}, // nothing decoded: unchanged
		{"abc", "0,4,rfc4648", "abc"},                            // offset past the buffer
		{"Zm9v", "8,0,rfc4648", "Zm9v"},                          // bytes past the buffer
	}
	for _, tc := range tests {
		got := applyTransforms([]byte(tc.in), []string{"from_base64:" + tc.arg})
		assert.Equal(t, tc.want, string(got), "%q %s", tc.in, tc.arg)
	}
}

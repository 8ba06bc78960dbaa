package detect

import (
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestTransforms(t *testing.T) {
	sum := sha256.Sum256([]byte("abc"))
	tests := []struct {
		in   string
		tfs  []string
		want string
	}{
		{"/a%20b+c%2x%", []string{"url_decode"}, "/a b c%2x%"},
		{"/%2541", []string{"url_decode"}, "/%41"}, // one pass, as Suricata
		{"Accept-Ranges: Bytes\r\nX-Y: Z\r\n", []string{"header_lowercase"}, "accept-ranges: Bytes\r\nx-y: Z\r\n"},
		{"abc", []string{"to_sha256"}, string(sum[:])},
		{"\x01\x02\x03", []string{"xor:0102"}, "\x00\x00\x02"},
		{"user=alice;id=7", []string{"pcrexform:user=([a-z]+)"}, "alice"},
		{"no match", []string{"pcrexform:user=([a-z]+)"}, "no match"},
		{"/A%42c", []string{"url_decode", "to_lowercase"}, "/abc"},
	}
	for _, tc := range tests {
		src := []byte(tc.in)
		got := applyTransforms(src, tc.tfs)
		assert.Equal(t, tc.want, string(got), "%q %v", tc.in, tc.tfs)
		assert.Equal(t, tc.in, string(src), "the source buffer is never changed")
	}
}

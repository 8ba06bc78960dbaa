package rules

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// requires loads a rule whose version requirement Suricata 8.0.0 meets
// (without the keyword) and refuses, with the reason, one it does not,
// one needing an optional feature, and a malformed one.
func TestRequires(t *testing.T) {
	for _, v := range []string{"version >= 7.0.3", "version >= 8", "version >= 7 < 8 | >= 8.0.0 < 9", "version < 9.0.0"} {
		r, err := ParseRule(`alert tcp any any -> any any (msg:"t"; requires: `+v+`; content:"x"; sid:1;)`, nil)
		require.NoError(t, err, v)
		assert.NotContains(t, r.Keywords, "requires")
	}
	for _, tc := range []struct{ v, reason string }{
		{"version >= 9.0.0", "not met"},
		{"version >= 7 < 8", "not met"},
		{"feature geoip", "not available"},
		{"version 8", "bad version expression"},
		{"version >= 7, version >= 8", "more than one version"},
		{"colour blue", "unknown requirement"},
	} {
		_, err := ParseRule(`alert tcp any any -> any any (msg:"t"; requires: `+tc.v+`; content:"x"; sid:1;)`, nil)
		require.Error(t, err, tc.v)
		assert.Contains(t, err.Error(), tc.reason, tc.v)
	}
}

// TestRequiresFeature: the JA3 and JA4 fingerprints are features
// interdict provides (requires: feature ja3 loads); others are not.
func TestRequiresFeature(t *testing.T) {
	assert.Empty(t, requires("feature ja3"))
	assert.Empty(t, requires("feature ja4, version >= 7"))
	assert.Contains(t, requires("feature lua"), "not available")
	assert.Contains(t, requires("keyword ja4.hash"), "not available")
}

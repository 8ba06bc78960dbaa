package rules

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBypassKeyword: bypass takes no value, sets RuleInfo.Bypass, and is
// refused beside filestore, as in Suricata's detect-bypass.c.
func TestBypassKeyword(t *testing.T) {
	r, why := loadOne(t, `alert http any any -> any any (msg:"t"; http.host; content:"suricata.io"; bypass; sid:1;)`)
	require.Empty(t, why)
	assert.True(t, r.Info.Bypass)

	r, why = loadOne(t, `alert http any any -> any any (msg:"t"; http.host; content:"suricata.io"; sid:1;)`)
	require.Empty(t, why)
	assert.False(t, r.Info.Bypass)

	_, why = loadOne(t, `alert http any any -> any any (msg:"t"; http.host; content:"a"; filestore; bypass; sid:1;)`)
	assert.Equal(t, "bypass can't work with filestore keyword", why)
	_, why = loadOne(t, `alert http any any -> any any (msg:"t"; http.host; content:"a"; bypass:yes; sid:1;)`)
	assert.NotEmpty(t, why, "bypass takes no value")
}

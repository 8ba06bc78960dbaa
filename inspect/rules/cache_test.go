package rules

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func cacheStats() (hits, misses, size int) {
	ruleCache.Lock()
	defer ruleCache.Unlock()
	return ruleCache.hits, ruleCache.misses, len(ruleCache.m)
}

func loadText(t *testing.T, text, file string, opts *Options) *Set {
	t.Helper()
	var s Set
	require.NoError(t, s.Load(strings.NewReader(text), file, opts))
	return &s
}

// A reload of the same text gives the same rules and rejections (with the
// new file and line) without parsing again; other options or other text
// are parsed anew; entries unused by two loads are forgotten.
func TestRuleCache(t *testing.T) {
	ResetCache()
	t.Cleanup(ResetCache)
	text := `alert tcp $HOME_NET any -> any 80 (msg:"a"; content:"x"; sid:1;)
alert tcp any any -> any any (msg:"b"; frobnicate; sid:2;)
drop udp any any -> any 53 (msg:"c"; content:"q"; nocase; sid:3;)
`
	cold := loadText(t, text, "one.rules", nil)
	require.Len(t, cold.Rules, 2)
	require.Len(t, cold.Errors, 1)
	hits, misses, _ := cacheStats()
	assert.Equal(t, 0, hits)
	assert.Equal(t, 3, misses)

	warm := loadText(t, "\n"+text, "two.rules", nil)
	hits, _, _ = cacheStats()
	assert.Equal(t, 3, hits, "every rule came from the cache")
	require.Len(t, warm.Rules, 2)
	for i, r := range warm.Rules {
		c := cold.Rules[i]
		assert.Equal(t, "two.rules", r.Info.File)
		assert.Equal(t, c.Info.Line+1, r.Info.Line)
		assert.Equal(t, "one.rules", c.Info.File, "the first load's rules are not changed by the second")
		ri, ci := *r.Info, *c.Info
		ri.File, ri.Line, ci.File, ci.Line = "", 0, "", 0
		assert.Equal(t, ci, ri)
		rc, cc := *r, *c
		rc.Info, cc.Info = nil, nil
		assert.Equal(t, cc, rc)
	}
	require.Len(t, warm.Errors, 1)
	assert.Equal(t, Error{File: "two.rules", Line: 3, SID: 2, Reason: cold.Errors[0].Reason}, *warm.Errors[0])

	t.Run("options are part of the key", func(t *testing.T) {
		s := loadText(t, text, "v.rules", &Options{Vars: map[string]string{"HOME_NET": "10.9.0.0/16"}})
		h2, _, _ := cacheStats()
		assert.Equal(t, hits, h2, "no hits with other variables")
		require.Len(t, s.Rules, 2)
		assert.NotEqual(t, cold.Rules[0].Src, s.Rules[0].Src)
	})
	t.Run("unused entries are forgotten", func(t *testing.T) {
		other := `alert tcp any any -> any any (msg:"z"; content:"z"; sid:9;)`
		loadText(t, other, "o.rules", nil)
		loadText(t, other, "o.rules", nil)
		_, _, size := cacheStats()
		assert.Equal(t, 1, size, "only the rule of the last two loads is kept")
	})
}

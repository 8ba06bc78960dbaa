package rules

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A load raises GOGC only while it runs; nested loads restore the
// setting found first, and a GOGC that was off stays off.
func TestLoadRestoresGCPercent(t *testing.T) {
	orig := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(orig) })
	for _, tc := range []struct {
		name string
		set  int
		want int // while loading
	}{{"default", 100, loadGCPercent}, {"higher", 1000, 1000}, {"off", -1, -1}} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetGCPercent(tc.set)
			outer := beginLoad()
			inner := beginLoad()
			during := debug.SetGCPercent(-1)
			debug.SetGCPercent(during)
			assert.Equal(t, tc.want, during)
			inner()
			outer()
			assert.Equal(t, tc.set, debug.SetGCPercent(tc.set))
			var s Set
			require.NoError(t, s.Load(strings.NewReader(`alert tcp any any -> any any (msg:"x"; content:"a"; sid:1;)`), "t", nil))
			assert.Len(t, s.Rules, 1)
			assert.Equal(t, tc.set, debug.SetGCPercent(tc.set))
		})
	}
}

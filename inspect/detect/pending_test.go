package detect

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
)

// A pending rule whose chain failed for good waits for its fast pattern
// again instead of being re-verified on every chunk; one whose outcome
// depends on bytes not seen yet stays pending; and the next evaluation
// starts after the occurrences already ruled out.
func TestPendingDormant(t *testing.T) {
	e := mustEngine(t, `
alert tcp any any -> any any (msg:"key"; content:"ASIA"; pcre:"/^[A-Z0-9]{16}/R"; sid:1;)
`, Options{})
	f := e.newFlow(tcpMeta)
	ds := &f.dirs[inspect.ToServer]
	step := func(data string) pending {
		t.Helper()
		assert.Empty(t, f.Inspect(inspect.ToServer, []byte(data)).Alerts)
		require.Len(t, ds.pend, 1)
		return ds.pend[0]
	}
	first := "region=ASIA-PACIFIC and some more text after it\n"
	p := step(first)
	assert.True(t, p.dormant, "no later byte can make ASIA-PACIFIC a key")
	assert.Equal(t, uint64(len(first)-3), p.resume, "no occurrence can start before the last 3 bytes")

	p = step("no prefix here\n")
	assert.True(t, p.dormant)

	p = step("id=ASIAABCD")
	assert.False(t, p.dormant, "12 more characters could still complete the key")
	resume := p.resume
	assert.Less(t, resume, f.dirs[inspect.ToServer].off-7, "the undecided occurrence is not skipped")

	p = step("EFGH")
	assert.False(t, p.dormant)
	assert.Equal(t, resume, p.resume)
	r := f.Inspect(inspect.ToServer, []byte("IJKLMNOP rest"))
	require.Len(t, r.Alerts, 1)
	assert.Equal(t, uint32(1), r.Alerts[0].Rule.SID)
}

func TestRegexReach(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want int // -1: unbounded or unanchored
	}{
		{`^[A-Z0-9]{16}`, 16 + 4},
		{`(?i)^abc`, 3*4 + 4},
		{`^(-|[0-9]{2})?x`, 3 + 4},
		{`^a.b`, 2 + 4 + 4},
		{`^ab+`, -1},
		{`^a{2,}`, -1},
		{`[A-Z]{16}`, -1},
		{`(?m)^abc`, -1},
		{`(^a)|b`, -1},
		{`^(?:ab|cde)\b`, 3 + 4},
		{`^\x{e9}`, 4 + 4},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			assert.Equal(t, tc.want, regexReach(tc.expr))
		})
	}
}

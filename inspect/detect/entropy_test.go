package detect

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
)

func TestShannon(t *testing.T) {
	assert.Equal(t, 0.0, shannon(nil))
	assert.Equal(t, 0.0, shannon([]byte("aaaa")))
	assert.Equal(t, 1.0, shannon([]byte("abab")))
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	assert.Equal(t, 8.0, shannon(all))
	assert.InDelta(t, -(0.75*math.Log2(0.75) + 0.25*math.Log2(0.25)), shannon([]byte("aaab")), 1e-15)
}

// entropy compares the entropy of its buffer (from offset, bytes long)
// and the flow keeps the last value computed per buffer, also when the
// rule did not match, as Suricata's flow variable does.
func TestEntropyKeyword(t *testing.T) {
	e := mustEngine(t, `alert tcp any any -> any any (msg:"high"; content:"k="; entropy: value > 3; sid:1;)
alert tcp any any -> any any (msg:"low"; content:"k="; entropy: value < 1; sid:2;)
alert tcp any any -> any any (msg:"window"; content:"k="; entropy: offset 2, bytes 4, value 1.9-2.1; sid:3;)
alert tcp any any -> any any (msg:"past the end"; content:"k="; entropy: offset 2, bytes 99, value >= 0; sid:4;)
`, Options{})
	f := e.NewFlow(tcpMeta).(*Flow)
	payload := "k=abcdefghijklmnop"
	res := f.Inspect(inspect.ToServer, []byte(payload))
	var sids []uint32
	for _, a := range res.Alerts {
		sids = append(sids, a.Rule.SID)
	}
	assert.ElementsMatch(t, []uint32{1, 3}, sids)
	ent := f.Entropy()
	require.Contains(t, ent, "content")
	// Rules run in order: the last one computed 4 bytes from offset 2
	// ("abcd": 2 bits), and the one past the end computed none.
	assert.Equal(t, 2.0, ent["content"])
	assert.Nil(t, e.NewFlow(tcpMeta).(*Flow).Entropy())
}

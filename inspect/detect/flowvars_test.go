package detect

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/interdict/interdict/inspect"
)

// The flow reports its flowbits in the order they were set (an unset or
// toggled-off bit leaves the list, a bit set again goes to its end) and
// its flowint counters, for EVE's metadata.
func TestFlowVarsReported(t *testing.T) {
	e := mustEngine(t, `alert tcp any any -> any any (msg:"a"; content:"A"; flowbits:set,first; flowbits:set,second; flowint:hits,+,1; sid:1;)
alert tcp any any -> any any (msg:"b"; content:"B"; flowbits:unset,first; flowbits:set,third; flowint:hits,+,1; sid:2;)
alert tcp any any -> any any (msg:"c"; content:"C"; flowbits:toggle,first; flowbits:toggle,third; sid:3;)
alert tcp any any -> any any (msg:"d"; content:"D"; flowbits:isset,nothing; flowint:never,=,1; sid:4;)
`, Options{})
	f := e.NewFlow(tcpMeta).(*Flow)
	assert.Nil(t, f.FlowBits())
	assert.Nil(t, f.FlowInts())
	f.Inspect(inspect.ToServer, []byte("A"))
	assert.Equal(t, []string{"first", "second"}, f.FlowBits())
	f.Inspect(inspect.ToServer, []byte("B"))
	assert.Equal(t, []string{"second", "third"}, f.FlowBits())
	f.Inspect(inspect.ToServer, []byte("C"))
	assert.Equal(t, []string{"second", "first"}, f.FlowBits())
	f.Inspect(inspect.ToServer, []byte("D"))
	assert.Equal(t, map[string]int64{"hits": 2}, f.FlowInts())
}

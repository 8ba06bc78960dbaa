package detect

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/interdict/interdict/inspect"
)

// TestFlowint counts login attempts per flow and alerts on the third, as
// Suricata's flowint documentation example does; a second flow starts
// from zero. UDP, so that every datagram is inspected on its own.
func TestFlowint(t *testing.T) {
	e := mustEngine(t, `alert udp any any -> any any (msg:"count"; content:"LOGIN"; flowint:logins,isnotset; flowint:logins,=,1; noalert; sid:1;)
alert udp any any -> any any (msg:"more"; content:"LOGIN"; flowint:logins,isset; flowint:logins,+,1; noalert; sid:2;)
alert udp any any -> any any (msg:"third"; content:"LOGIN"; flowint:logins,==,3; sid:3;)
alert udp any any -> any any (msg:"many"; content:"LOGIN"; flowint:logins,>=,limit; sid:4;)
alert udp any any -> any any (msg:"limit"; content:"LIMIT"; flowint:limit,=,4; noalert; sid:5;)
`, Options{})
	chunks := []chunk{
		{inspect.ToServer, "LIMIT\n"},
		{inspect.ToServer, "LOGIN a\n"},
		{inspect.ToServer, "LOGIN b\n"},
		{inspect.ToServer, "LOGIN c\n"},
		{inspect.ToServer, "LOGIN d\n"},
	}
	meta := inspect.FlowMeta{ID: 2, Proto: inspect.ProtoUDP, Src: tcpMeta.Src, Dst: tcpMeta.Dst}
	// The first LOGIN runs sid 1 (sets 1) then sid 2 (isset now: 2), in
	// rule order as Suricata does within one packet.
	got := run(e, meta, chunks)
	assert.Equal(t, [][]uint32{{5}, {1, 2}, {2, 3}, {2, 4}, {2, 4}}, got)
	assert.Equal(t, [][]uint32{{1, 2}, {2, 3}}, run(e, meta, chunks[1:3]), "counters are per flow")
}

package detect

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/interdict/interdict/inspect"
)

// TestStreamSize: stream_size compares each side's bytes so far plus one
// for its SYN, as Suricata's next_seq - isn.
func TestStreamSize(t *testing.T) {
	e := mustEngine(t, `alert tcp any any -> any any (msg:"first client bytes"; flow:to_server; content:"A"; stream_size:server,<,2; sid:1;)
alert tcp any any -> any any (msg:"client sent 10"; flow:to_server; content:"B"; stream_size:client,=,11; sid:2;)
alert tcp any any -> any any (msg:"both over 3"; content:"C"; stream_size:both,>,3; sid:3;)
alert tcp any any -> any any (msg:"either under 3"; content:"D"; stream_size:either,<,3; sid:4;)
`, Options{})
	got := run(e, tcpMeta, []chunk{
		{inspect.ToServer, "A"},         // server 0 bytes: 1 < 2
		{inspect.ToClient, "hello"},     // server 5
		{inspect.ToServer, "AxxxxxxxB"}, // client 10 bytes: 11; server 6 is not < 2
		{inspect.ToServer, "CD"},        // client 12, server 6: both > 3; neither < 3
	})
	assert.Equal(t, [][]uint32{{1}, nil, {2}, {3}}, got)
}

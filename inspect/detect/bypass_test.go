package detect

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// TestBypassKeyword: a rule with bypass alerts and asks the caller to
// take the flow out of inspection (Result.Bypass); a drop of the same
// chunk wins over it, and a rule without bypass asks nothing.
func TestBypassKeyword(t *testing.T) {
	e := mustEngine(t, `alert http any any -> any any (msg:"big"; http.uri; content:"/video"; bypass; sid:1;)
alert http any any -> any any (msg:"plain"; http.uri; content:"/plain"; sid:2;)
drop http any any -> any any (msg:"evil"; http.uri; content:"evil"; sid:3;)
`, Options{Protos: applayer.Protos()})

	f := e.NewFlow(tcpMeta)
	r := f.Inspect(inspect.ToServer, []byte("GET /plain HTTP/1.1\r\nHost: a\r\n\r\n"))
	assert.False(t, r.Bypass, "no bypass rule matched")
	r = f.Inspect(inspect.ToServer, []byte("GET /video HTTP/1.1\r\nHost: a\r\n\r\n"))
	assert.True(t, r.Bypass, "the bypass rule matched")
	assert.Equal(t, inspect.ActionAlert, r.Action, "bypass is not a pass: the rule still alerts")
	if assert.Len(t, r.Alerts, 1) {
		assert.Equal(t, uint32(1), r.Alerts[0].Rule.SID)
		assert.True(t, r.Alerts[0].Logged())
	}

	f = e.NewFlow(tcpMeta)
	r = f.Inspect(inspect.ToServer, []byte("GET /video/evil HTTP/1.1\r\nHost: a\r\n\r\n"))
	assert.Equal(t, inspect.ActionDrop, r.Action)
	assert.False(t, r.Bypass, "a drop of the same request is not bypassed")
}

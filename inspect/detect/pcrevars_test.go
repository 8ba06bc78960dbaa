package detect

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
)

// A pcre's capture groups are stored in the variables it names and
// reported with the match (also of a noalert rule), for EVE metadata;
// a chain that fails after the pcre stores nothing, and regexp2
// patterns capture as RE2 ones do.
func TestPCRECaptureVars(t *testing.T) {
	e := mustEngine(t, `alert tcp any any -> any any (msg:"ids"; pcre:"/uid=(\d+)\(([^)]+)\)/, pkt:uid, pkt:username"; noalert; sid:1;)
alert tcp any any -> any any (msg:"gid"; pcre:"/gid=(\d+)/, flow:gid"; sid:2;)
alert tcp any any -> any any (msg:"fails later"; pcre:"/groups=(\d+)/, flow:groups"; content:"never"; distance:0; sid:3;)
alert tcp any any -> any any (msg:"lookahead"; pcre:"/home=(\S+)(?= )/, flow:home"; sid:4;)
`, Options{})
	f := e.NewFlow(tcpMeta).(*Flow)
	res := f.Inspect(inspect.ToClient, []byte("uid=0(root) gid=0(root) groups=0(root) home=/root x"))
	got := map[uint32][]inspect.Var{}
	for _, a := range res.Alerts {
		got[a.Rule.SID] = a.Vars
	}
	require.Contains(t, got, uint32(1))
	assert.Equal(t, []inspect.Var{{Kind: "pkt", Name: "uid", Value: "0"}, {Kind: "pkt", Name: "username", Value: "root"}}, got[1])
	assert.Equal(t, []inspect.Var{{Kind: "flow", Name: "gid", Value: "0"}}, got[2])
	assert.NotContains(t, got, uint32(3))
	assert.Equal(t, []inspect.Var{{Kind: "flow", Name: "home", Value: "/root"}}, got[4])
	assert.Empty(t, f.caps, "the scratch is emptied when a rule fires")
}

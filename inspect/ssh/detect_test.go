package ssh_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/detect"
	"github.com/interdict/interdict/inspect/rules"
	_ "github.com/interdict/interdict/inspect/ssh"
)

func TestSSHRules(t *testing.T) {
	set := &rules.Set{}
	require.NoError(t, set.Load(strings.NewReader(`alert ssh any any -> any any (msg:"client proto"; flow:to_server; ssh.proto; content:"2.0"; bsize:3; sid:1;)
alert ssh any any -> any any (msg:"server software"; ssh.software; content:"dropbear"; nocase; sid:2;)
alert tcp any any -> any any (msg:"legacy"; ssh_proto; content:"1.99"; sid:3;)
alert ssh any any -> any any (msg:"raw content on ssh"; content:"dropbear"; sid:4;)
`), "ssh.rules", nil))
	require.Empty(t, set.Errors)
	e, err := detect.New(set.Rules, detect.Options{})
	require.NoError(t, err)
	f := e.NewFlow(inspect.FlowMeta{Proto: inspect.ProtoTCP, Src: netip.MustParseAddrPort("10.0.0.1:50000"), Dst: netip.MustParseAddrPort("10.0.0.2:22")})
	var sids []uint32
	for _, r := range []inspect.Result{f.Inspect(inspect.ToServer, []byte("SSH-2.0-OpenSSH_9.6\r\n")),
		f.Inspect(inspect.ToClient, []byte("SSH-2.0-dropbear_2022.83\r\n")), f.Close()} {
		for _, a := range r.Alerts {
			sids = append(sids, a.Rule.SID)
		}
	}
	assert.ElementsMatch(t, []uint32{1, 2, 4}, sids)
	assert.Equal(t, "ssh", f.(inspect.AppProtoReporter).AppProto())
}

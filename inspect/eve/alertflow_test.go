package eve

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
)

func TestAlertFlowObject(t *testing.T) {
	start := time.Date(2022, 6, 15, 16, 23, 1, 914870000, time.UTC)
	meta := &inspect.FlowMeta{ID: 9, Proto: inspect.ProtoTCP, Start: start,
		Src: netip.MustParseAddrPort("192.168.237.128:60078"), Dst: netip.MustParseAddrPort("172.16.188.115:80")}
	ev := NewAlert(start, meta, &inspect.Alert{Rule: &inspect.RuleInfo{GID: 1, SID: 1}, Dir: inspect.ToClient}, false)
	ev.Flow = NewAlertFlow(meta, [2]uint64{3, 2}, [2]uint64{262, 108})
	b, err := json.Marshal(&ev)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Equal(t, map[string]any{"pkts_toserver": 3.0, "pkts_toclient": 2.0, "bytes_toserver": 262.0, "bytes_toclient": 108.0,
		"start": "2022-06-15T16:23:01.914870+0000", "src_ip": "192.168.237.128", "dest_ip": "172.16.188.115",
		"src_port": 60078.0, "dest_port": 80.0}, m["flow"], "the originator's view, whatever the alert's direction")
	assert.Equal(t, "172.16.188.115", m["src_ip"], "the alert itself names the server as the reply's source")

	// A flow event's object is unchanged.
	fl := Flow{PktsToServer: 1, Start: Time{start}, End: Time{start}, State: "new", Reason: "shutdown"}
	b, err = json.Marshal(&fl)
	require.NoError(t, err)
	var fm map[string]any
	require.NoError(t, json.Unmarshal(b, &fm))
	assert.Equal(t, "new", fm["state"])
	assert.Equal(t, false, fm["alerted"])
	assert.NotContains(t, fm, "src_ip")
}

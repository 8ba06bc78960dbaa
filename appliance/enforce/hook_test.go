package enforce

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/netstack"
)

func TestOnResultSeesEachNonEmptyResult(t *testing.T) {
	rule := &inspect.RuleInfo{SID: 9, Action: inspect.ActionDrop, Severity: 1}
	anomaly := inspect.Event{Anomaly: &inspect.Anomaly{AppProto: "http", Event: "REQUEST_CONTENT_LENGTH_AND_TRANSFER_ENCODING"}}
	ff := &fakeFactory{fn: func(_ inspect.FlowMeta, dir inspect.Direction, data []byte) inspect.Result {
		switch string(data) {
		case "anomaly":
			return inspect.Result{Events: []inspect.Event{anomaly}}
		case "attack":
			return inspect.Result{Action: inspect.ActionDrop, Alerts: []inspect.Alert{{Rule: rule, Dir: dir}}}
		}
		return inspect.Result{}
	}}
	tests := []struct {
		name      string
		mode      Mode
		enforcing bool
	}{{"ips", IPS, true}, {"ids", IDS, false}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []ResultInfo
			h, err := New(ff, Config{Mode: tc.mode, OnResult: func(ri *ResultInfo) {
				c := *ri
				res := *ri.Result
				c.Result = &res
				got = append(got, c)
			}})
			require.NoError(t, err)
			fh, _ := h.NewFlow(&netstack.FlowInfo{ID: 5, Proto: netstack.TCP, NIC: "nic0"})
			fh.Chunk(netstack.ToServer, []byte("benign"))
			fh.Chunk(netstack.ToServer, []byte("anomaly"))
			fh.Chunk(netstack.ToServer, []byte("attack"))
			require.Len(t, got, 2, "results without findings are not handed to the hook")
			assert.Equal(t, uint64(5), got[0].Flow.ID)
			assert.Equal(t, "nic0", got[0].NIC)
			assert.Equal(t, len("anomaly"), got[0].Len)
			assert.Equal(t, []inspect.Event{anomaly}, got[0].Result.Events)
			assert.Equal(t, netstack.Continue, got[0].Verdict)
			assert.Equal(t, netstack.Drop, got[1].Verdict, "the decided verdict, also in ids mode")
			assert.Equal(t, tc.enforcing, got[1].Enforcing)
			assert.Equal(t, uint32(9), got[1].Result.Alerts[0].Rule.SID)
		})
	}
}

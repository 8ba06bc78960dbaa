package detect

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
)

// Suricata's action-order: the first listed action wins; a matching pass
// rule discards the alerts of rules ordered after it (as util-action-04
// and -13 of suricata-verify show with drop, pass, reject, alert).
func TestActionOrder(t *testing.T) {
	rulesText := `
pass tcp any any -> any any (msg:"pass"; content:"Hi"; sid:1;)
drop tcp any any -> any any (msg:"drop"; content:"Hi all"; sid:2;)
alert tcp any any -> any any (msg:"alert"; content:"all"; sid:3;)
reject tcp any any -> any any (msg:"reject"; content:"Hi a"; sid:4;)
`
	cases := []struct {
		name       string
		order      []string
		action     inspect.Action
		sids       []uint32
		flowPassed bool
	}{
		{"default: pass wins and hides the rest", nil, inspect.ActionPass, []uint32{1}, true},
		{"drop first keeps drop, pass hides reject and alert", []string{"drop", "pass", "reject", "alert"}, inspect.ActionDrop, []uint32{1, 2}, true},
		{"alert first", []string{"alert", "drop", "reject", "pass"}, inspect.ActionAlert, []uint32{1, 2, 3, 4}, true},
		{"reject over drop", []string{"reject", "drop", "pass", "alert"}, inspect.ActionReject, []uint32{1, 2, 4}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var order []inspect.Action
			if tc.order != nil {
				var err error
				order, err = ParseActionOrder(tc.order)
				require.NoError(t, err)
			}
			e := mustEngine(t, rulesText, Options{ActionOrder: order})
			f := e.NewFlow(tcpMeta)
			res := f.Inspect(inspect.ToServer, []byte("Hi all!"))
			assert.Equal(t, tc.action, res.Action)
			var sids []uint32
			for _, a := range res.Alerts {
				sids = append(sids, a.Rule.SID)
			}
			assert.ElementsMatch(t, tc.sids, sids)
			later := f.Inspect(inspect.ToClient, []byte("Hi all!"))
			assert.Equal(t, tc.flowPassed, len(later.Alerts) == 0, "a pass match stops inspection of the flow")
		})
	}
}

func TestParseActionOrder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    []string
		want  []inspect.Action
		error string
	}{
		{"suricata default", []string{"pass", "drop", "reject", "alert"}, DefaultActionOrder, ""},
		{"case and space", []string{" Drop", "PASS ", "reject", "alert"}, []inspect.Action{inspect.ActionDrop, inspect.ActionPass, inspect.ActionReject, inspect.ActionAlert}, ""},
		{"missing", []string{"drop", "pass"}, nil, "2 of pass, drop, reject, alert missing"},
		{"repeated", []string{"drop", "drop", "pass", "reject", "alert"}, nil, `repeated action "drop"`},
		{"unknown", []string{"drop", "pass", "reject", "log"}, nil, `unknown or repeated action "log"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseActionOrder(tc.in)
			if tc.error != "" {
				assert.ErrorContains(t, err, tc.error)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	_, err := New(nil, Options{ActionOrder: []inspect.Action{inspect.ActionDrop}})
	assert.ErrorContains(t, err, "action order")
}

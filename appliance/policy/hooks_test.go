package policy

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/netstack"
)

func alert(action inspect.Action, sev int, sid uint32) inspect.Alert {
	return inspect.Alert{Rule: &inspect.RuleInfo{SID: sid, Action: action, Severity: sev, Msg: "test"}}
}

func TestOnAlertBlocksTheSource(t *testing.T) {
	rules := []AlertBlock{
		{On: AlertMatch{Action: "drop", MinSeverity: 1}, BlockSourceFor: "10m"},
		{On: AlertMatch{SIDs: []uint32{7, 8}}, BlockSourceFor: "1h", Reason: "listed"},
	}
	tests := []struct {
		name      string
		alerts    []inspect.Alert
		enforcing bool
		wantFor   time.Duration // 0: no block
		reason    string
	}{
		{"drop severity 1", []inspect.Alert{alert(inspect.ActionDrop, 1, 100)}, true, 10 * time.Minute, "alert with action drop, severity <= 1"},
		{"drop severity 2 is not severe enough", []inspect.Alert{alert(inspect.ActionDrop, 2, 100)}, true, 0, ""},
		{"drop without severity", []inspect.Alert{alert(inspect.ActionDrop, 0, 100)}, true, 0, ""},
		{"alert severity 1 is not a drop", []inspect.Alert{alert(inspect.ActionAlert, 1, 100)}, true, 0, ""},
		{"listed sid of any action", []inspect.Alert{alert(inspect.ActionAlert, 3, 8)}, true, time.Hour, "listed"},
		{"noalert rules do not count", []inspect.Alert{{Rule: &inspect.RuleInfo{SID: 7, Action: inspect.ActionAlert}, NoAlert: true}}, true, 0, ""},
		{"first matching rule wins", []inspect.Alert{alert(inspect.ActionAlert, 3, 7), alert(inspect.ActionDrop, 1, 100)}, true, time.Hour, "listed"},
		{"ids mode only records", []inspect.Alert{alert(inspect.ActionDrop, 1, 100)}, false, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{Block: BlockConfig{OnAlert: rules}})
			info := flowInfo(42, "10.0.0.2:5555")
			e.p.OnResult(resultFor(info, inspect.Result{Alerts: tc.alerts}, tc.enforcing, 10))
			list := e.p.List()
			if tc.wantFor == 0 {
				assert.Empty(t, list)
				assert.False(t, e.guard.has("10.0.0.2/32"))
				if !tc.enforcing {
					require.Len(t, e.recs.evs, 1)
					assert.Equal(t, "would-block", e.recs.evs[0].Interruption.Action)
				}
				return
			}
			require.Len(t, list, 1)
			assert.Equal(t, netip.MustParsePrefix("10.0.0.2/32"), list[0].Prefix)
			assert.Equal(t, t0.Add(tc.wantFor), list[0].Until)
			assert.Equal(t, OriginRule, list[0].Origin)
			assert.Equal(t, tc.reason, list[0].Reason)
			assert.True(t, e.guard.has("10.0.0.2/32"))
			require.Len(t, e.recs.evs, 1)
			ev := e.recs.evs[0]
			assert.Equal(t, "interruption", ev.EventType)
			assert.Equal(t, "10.0.0.2", ev.SrcIP)
			assert.Equal(t, uint64(42), ev.FlowID)
			assert.Equal(t, tc.alerts[0].Rule.SID, ev.Interruption.SignatureID)
			assert.Equal(t, 1.0, e.counter(t, e.p.m.blocks.WithLabelValues(OriginRule)))
		})
	}
}

func TestProtocolValidation(t *testing.T) {
	const clte = "REQUEST_CONTENT_LENGTH_AND_TRANSFER_ENCODING"
	anomaly := func(app, name string) inspect.Event {
		return inspect.Event{Anomaly: &inspect.Anomaly{AppProto: app, Event: name}}
	}
	tests := []struct {
		name      string
		cfg       ProtocolConfig
		ev        inspect.Event
		enforcing bool
		inspected netstack.Verdict // what inspection decided for the chunk
		want      netstack.Verdict
		label     string // counter action label; "" means not counted
	}{
		{"by app proto", ProtocolConfig{AppProtos: map[string]string{"http": "reject"}}, anomaly("http", clte), true, netstack.Continue, netstack.Reject, "reject"},
		{"by name beats app", ProtocolConfig{AppProtos: map[string]string{"http": "reject"}, Anomalies: map[string]string{clte: "drop"}}, anomaly("http", clte), true, netstack.Continue, netstack.Drop, "drop"},
		{"name off beats app", ProtocolConfig{AppProtos: map[string]string{"http": "reject"}, Anomalies: map[string]string{clte: "off"}}, anomaly("http", clte), true, netstack.Continue, netstack.Continue, ""},
		{"default", ProtocolConfig{Default: "rejectboth"}, anomaly("tls", "INVALID_RECORD"), true, netstack.Continue, netstack.RejectBoth, "rejectboth"},
		{"alert only counts", ProtocolConfig{Default: "alert"}, anomaly("http", clte), true, netstack.Continue, netstack.Continue, "alert"},
		{"other app falls to default", ProtocolConfig{AppProtos: map[string]string{"dns": "reject"}}, anomaly("http", clte), true, netstack.Continue, netstack.Continue, "alert"},
		{"ids mode", ProtocolConfig{AppProtos: map[string]string{"http": "reject"}}, anomaly("http", clte), false, netstack.Continue, netstack.Continue, "would-reject"},
		{"pass rule wins", ProtocolConfig{AppProtos: map[string]string{"http": "reject"}}, anomaly("http", clte), true, netstack.Pass, netstack.Pass, "reject"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{Protocol: tc.cfg})
			var p *Policy
			inner := &fakeInner{fn: func(info *netstack.FlowInfo, d netstack.Direction, b []byte) netstack.Verdict {
				// What enforce does: inspect, decide, call the hook, return.
				if string(b) == "malformed" {
					ri := resultFor(info, inspect.Result{Events: []inspect.Event{tc.ev}}, tc.enforcing, len(b))
					ri.Verdict = tc.inspected
					p.OnResult(ri)
					return tc.inspected
				}
				return netstack.Continue
			}}
			p = e.p
			fh, v := Wrap(inner, e.p).NewFlow(flowInfo(7, "10.0.0.2:4000"))
			require.Equal(t, netstack.Continue, v)
			assert.Equal(t, netstack.Continue, fh.Chunk(netstack.ToServer, []byte("fine")))
			assert.Equal(t, tc.want, fh.Chunk(netstack.ToServer, []byte("malformed")), "the verdict holds the chunk carrying the anomaly")
			if tc.want.Terminal() {
				assert.Equal(t, tc.want, fh.Chunk(netstack.ToClient, []byte("late")), "the other direction gets it too")
			}
			fh.Close(netstack.FlowStats{})
			assert.Nil(t, e.p.live.get(7), "closed flows leave the table")
			if tc.label != "" {
				app := tc.ev.Anomaly.AppProto
				assert.Equal(t, 1.0, e.counter(t, e.p.m.protocol.WithLabelValues(app, tc.ev.Anomaly.Event, tc.label)))
			} else {
				assert.Zero(t, e.counter(t, e.p.m.protocol.WithLabelValues("http", clte, "off")))
			}
		})
	}
}

func TestProtocolValidationSkipsPassedFlows(t *testing.T) {
	e := newEnv(t, Config{Protocol: ProtocolConfig{Default: "reject"}})
	fh, v := Wrap(&fakeInner{newVerdict: netstack.Pass}, e.p).NewFlow(flowInfo(1, "10.0.0.2:4000"))
	assert.Equal(t, netstack.Pass, v, "an uninspected flow stays on the fast path")
	assert.Nil(t, e.p.live.get(1))
	fh.Close(netstack.FlowStats{})
}

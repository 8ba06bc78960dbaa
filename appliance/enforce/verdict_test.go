package enforce

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/netstack"
)

func TestVerdictFor(t *testing.T) {
	tests := []struct {
		action inspect.Action
		want   netstack.Verdict
	}{
		{inspect.ActionNone, netstack.Continue},
		{inspect.ActionAlert, netstack.Continue},
		{inspect.ActionPass, netstack.Pass},
		{inspect.ActionDrop, netstack.Drop},
		{inspect.ActionReject, netstack.Reject},
		{inspect.ActionRejectDst, netstack.RejectDst},
		{inspect.ActionRejectBoth, netstack.RejectBoth},
		{inspect.Action(200), netstack.Continue},
	}
	for _, tc := range tests {
		t.Run(tc.action.String(), func(t *testing.T) {
			assert.Equal(t, tc.want, verdictFor(tc.action))
		})
	}
}

func rule(sid uint32, a inspect.Action) *inspect.RuleInfo {
	return &inspect.RuleInfo{GID: 1, SID: sid, Rev: 1, Msg: a.String(), Action: a}
}

func alerts(rs ...*inspect.RuleInfo) []inspect.Alert {
	out := make([]inspect.Alert, len(rs))
	for i, r := range rs {
		out[i] = inspect.Alert{Rule: r}
	}
	return out
}

func TestStrongestFollowsSuricataPrecedence(t *testing.T) {
	alert, drop, reject := rule(1, inspect.ActionAlert), rule(2, inspect.ActionDrop), rule(3, inspect.ActionReject)
	rdst, rboth, pass := rule(4, inspect.ActionRejectDst), rule(5, inspect.ActionRejectBoth), rule(6, inspect.ActionPass)
	tests := []struct {
		name     string
		res      inspect.Result
		want     inspect.Action
		wantRule *inspect.RuleInfo
	}{
		{"nothing", inspect.Result{}, inspect.ActionNone, nil},
		{"alert only", inspect.Result{Action: inspect.ActionAlert, Alerts: alerts(alert)}, inspect.ActionAlert, alert},
		{"drop beats reject", inspect.Result{Alerts: alerts(reject, drop)}, inspect.ActionDrop, drop},
		{"drop beats alert", inspect.Result{Alerts: alerts(alert, drop, alert)}, inspect.ActionDrop, drop},
		{"reject beats alert", inspect.Result{Alerts: alerts(alert, reject)}, inspect.ActionReject, reject},
		{"rejectdst beats alert", inspect.Result{Alerts: alerts(rdst, alert)}, inspect.ActionRejectDst, rdst},
		{"first of equal rejects wins", inspect.Result{Alerts: alerts(rboth, reject)}, inspect.ActionRejectBoth, rboth},
		{"pass beats drop", inspect.Result{Alerts: alerts(drop, pass, reject)}, inspect.ActionPass, pass},
		{"engine action without alerts", inspect.Result{Action: inspect.ActionDrop}, inspect.ActionDrop, nil},
		{"engine action kept over weaker alerts", inspect.Result{Action: inspect.ActionDrop, Alerts: alerts(alert, drop)}, inspect.ActionDrop, drop},
		{"alerts without rule ignored", inspect.Result{Alerts: []inspect.Alert{{}}}, inspect.ActionNone, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, r := strongest(&tc.res)
			assert.Equal(t, tc.want, got)
			assert.Same(t, tc.wantRule, r)
		})
	}
}

func TestApplyMode(t *testing.T) {
	tests := []struct {
		mode    Mode
		decided netstack.Verdict
		want    netstack.Verdict
	}{
		{IPS, netstack.Continue, netstack.Continue},
		{IPS, netstack.Pass, netstack.Pass},
		{IPS, netstack.Drop, netstack.Drop},
		{IPS, netstack.Reject, netstack.Reject},
		{IPS, netstack.RejectDst, netstack.RejectDst},
		{IPS, netstack.RejectBoth, netstack.RejectBoth},
		{IDS, netstack.Continue, netstack.Continue},
		{IDS, netstack.Pass, netstack.Pass},
		{IDS, netstack.Drop, netstack.Continue},
		{IDS, netstack.Reject, netstack.Continue},
		{IDS, netstack.RejectDst, netstack.Continue},
		{IDS, netstack.RejectBoth, netstack.Continue},
	}
	for _, tc := range tests {
		t.Run(string(tc.mode)+"/"+tc.decided.String(), func(t *testing.T) {
			assert.Equal(t, tc.want, apply(tc.decided, tc.mode))
		})
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"": IPS, "ips": IPS, "ids": IDS} {
		got, err := ParseMode(in)
		assert.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := ParseMode("IPS ")
	assert.ErrorContains(t, err, `unknown mode "IPS "`)
}

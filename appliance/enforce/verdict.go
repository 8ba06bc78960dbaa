package enforce

import (
	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/netstack"
)

// strongest returns the action that decides a chunk and the rule it came
// from: the strongest of res.Action and every alert's rule action by
// Suricata's precedence (inspect.Action.Stronger). The engine already
// folds the alerts into res.Action; recomputing keeps a FlowFactory that
// only lists alerts from being under-enforced. rule is nil when no alert
// carries the action.
func strongest(res *inspect.Result) (inspect.Action, *inspect.RuleInfo) {
	act := res.Action
	var rule *inspect.RuleInfo
	for i := range res.Alerts {
		r := res.Alerts[i].Rule
		if r == nil {
			continue
		}
		if r.Action.Stronger(act) || (rule == nil && r.Action == act) {
			act, rule = r.Action, r
		}
	}
	return act, rule
}

// verdictFor is the one place a rule action becomes a data-path verdict
// (ARCHITECTURE.md, "Verdicts"). alert and none keep inspecting; pass
// stops inspecting; drop blackholes; the rejects reset the legs their
// names say.
func verdictFor(a inspect.Action) netstack.Verdict {
	switch a {
	case inspect.ActionPass:
		return netstack.Pass
	case inspect.ActionDrop:
		return netstack.Drop
	case inspect.ActionReject:
		return netstack.Reject
	case inspect.ActionRejectDst:
		return netstack.RejectDst
	case inspect.ActionRejectBoth:
		return netstack.RejectBoth
	}
	return netstack.Continue
}

// apply turns the decided verdict into the one returned to the relay
// under mode: ids lets everything through that ips would end (pass is
// not enforcement, it only stops inspection, so it stays).
func apply(v netstack.Verdict, m Mode) netstack.Verdict {
	if v.Terminal() && !m.enforcing() {
		return netstack.Continue
	}
	return v
}

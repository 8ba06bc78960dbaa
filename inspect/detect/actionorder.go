package detect

import (
	"fmt"
	"strings"

	"github.com/interdict/interdict/inspect"
)

// actionRank is the precedence of each action under the engine's action
// order: higher wins. The reject variants share reject's rank.
type actionRank [inspect.ActionRejectBoth + 1]int

// DefaultActionOrder is Suricata's default precedence, strongest first.
var DefaultActionOrder = []inspect.Action{inspect.ActionPass, inspect.ActionDrop, inspect.ActionReject, inspect.ActionAlert}

// ParseActionOrder reads Suricata's action-order list ("pass", "drop",
// "reject", "alert", each exactly once, strongest first).
func ParseActionOrder(names []string) ([]inspect.Action, error) {
	byName := map[string]inspect.Action{"pass": inspect.ActionPass, "drop": inspect.ActionDrop,
		"reject": inspect.ActionReject, "alert": inspect.ActionAlert}
	var out []inspect.Action
	for _, n := range names {
		a, ok := byName[strings.ToLower(strings.TrimSpace(n))]
		if !ok {
			return nil, fmt.Errorf("action-order: unknown or repeated action %q", n)
		}
		delete(byName, strings.ToLower(strings.TrimSpace(n)))
		out = append(out, a)
	}
	if len(byName) > 0 {
		return nil, fmt.Errorf("action-order: %d of pass, drop, reject, alert missing", len(byName))
	}
	return out, nil
}

func (r *actionRank) set(order []inspect.Action) error {
	if order == nil {
		order = DefaultActionOrder
	}
	if len(order) != 4 {
		return fmt.Errorf("detect: action order needs pass, drop, reject and alert, got %v", order)
	}
	*r = actionRank{}
	for i, a := range order {
		if a == inspect.ActionNone || int(a) >= len(r) || r[a] != 0 {
			return fmt.Errorf("detect: bad action order %v", order)
		}
		r[a] = len(order) - i
	}
	if r[inspect.ActionPass] == 0 || r[inspect.ActionDrop] == 0 || r[inspect.ActionReject] == 0 || r[inspect.ActionAlert] == 0 {
		return fmt.Errorf("detect: action order needs pass, drop, reject and alert, got %v", order)
	}
	r[inspect.ActionRejectDst], r[inspect.ActionRejectBoth] = r[inspect.ActionReject], r[inspect.ActionReject]
	return nil
}

func (r *actionRank) of(a inspect.Action) int {
	if int(a) < len(r) {
		return r[a]
	}
	return 0
}

// resolveActions sets res.Action to the strongest action of the alerts
// under the engine's order and applies pass: Suricata evaluates rules in
// action order and stops at a matching pass rule, so alerts of rules
// ordered after pass are dropped while those ordered before it (drop,
// with action-order drop first) stand. It reports whether a pass rule
// matched.
func (e *Engine) resolveActions(res *inspect.Result) (passed bool) {
	res.Action = inspect.ActionNone
	for _, a := range res.Alerts {
		if e.rank.of(a.Rule.Action) > e.rank.of(res.Action) {
			res.Action = a.Rule.Action
		}
		if a.Rule.Action == inspect.ActionPass {
			passed = true
		}
	}
	if !passed {
		return false
	}
	pass := e.rank.of(inspect.ActionPass)
	kept := res.Alerts[:0]
	for _, a := range res.Alerts {
		if a.Rule.Action == inspect.ActionPass || e.rank.of(a.Rule.Action) > pass {
			kept = append(kept, a)
		}
	}
	res.Alerts = kept
	return true
}

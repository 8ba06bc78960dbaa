package detect

import "github.com/interdict/interdict/inspect/rules"

// Flowints are per-flow unsigned counters (Suricata's flowint). A rule's
// conditions (==, <, isset, ...) are checked with its other flow
// conditions; its modifiers (=, +, -) apply when it matches, as flowbits
// set does. A variable not set yet fails every condition but notset; +
// and - on it start from 0.

// cflowint is one compiled flowint keyword.
type cflowint struct {
	op    string
	id    int
	val   int64
	varID int // -1: the operand is val
}

// compileFlowints assigns each variable name an index in the flow's
// counters.
func (e *Engine) compileFlowints(r *rules.Rule, cr *crule) {
	if len(r.Flowints) == 0 {
		return
	}
	if e.intIDs == nil {
		e.intIDs = map[string]int{}
	}
	id := func(n string) int {
		i, ok := e.intIDs[n]
		if !ok {
			i = len(e.intIDs)
			e.intIDs[n] = i
		}
		return i
	}
	for _, fi := range r.Flowints {
		c := cflowint{op: fi.Op, id: id(fi.Name), val: fi.Value, varID: -1}
		if fi.Var != "" {
			c.varID = id(fi.Var)
		}
		switch fi.Op {
		case "=", "+", "-":
		default:
			cr.reads = true
		}
		cr.ints = append(cr.ints, c)
	}
}

// flowintVal returns counter id and whether it is set.
func (f *Flow) flowintVal(id int) (int64, bool) {
	if id >= len(f.ints) || !f.intSet[id] {
		return 0, false
	}
	return f.ints[id], true
}

func (f *Flow) operand(c cflowint) (int64, bool) {
	if c.varID < 0 {
		return c.val, true
	}
	return f.flowintVal(c.varID)
}

// flowintCond reports whether the rule's flowint conditions hold.
func (f *Flow) flowintCond(cr *crule) bool {
	for _, c := range cr.ints {
		v, set := f.flowintVal(c.id)
		switch c.op {
		case "=", "+", "-":
			continue
		case "isset":
			if !set {
				return false
			}
			continue
		case "notset":
			if set {
				return false
			}
			continue
		}
		w, ok := f.operand(c)
		if !set || !ok {
			return false
		}
		var hit bool
		switch c.op {
		case "==":
			hit = v == w
		case "!=":
			hit = v != w
		case "<":
			hit = v < w
		case "<=":
			hit = v <= w
		case ">":
			hit = v > w
		case ">=":
			hit = v >= w
		}
		if !hit {
			return false
		}
	}
	return true
}

// flowintApply runs the rule's modifiers; counters stay within uint32
// as Suricata's do.
func (f *Flow) flowintApply(cr *crule) {
	for _, c := range cr.ints {
		if c.op != "=" && c.op != "+" && c.op != "-" {
			continue
		}
		w, ok := f.operand(c)
		if !ok {
			continue
		}
		if n := len(f.e.intIDs); len(f.ints) < n {
			f.ints = append(f.ints, make([]int64, n-len(f.ints))...)
			f.intSet = append(f.intSet, make([]bool, n-len(f.intSet))...)
		}
		v := f.ints[c.id]
		switch c.op {
		case "=":
			v = w
		case "+":
			v += w
		case "-":
			v -= w
		}
		f.ints[c.id], f.intSet[c.id] = v&(1<<32-1), true
	}
}

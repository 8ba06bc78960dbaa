package detect

import (
	"github.com/interdict/interdict/inspect"
)

// capture is a value a rule's pcre stored in a variable
// (pcre:"/(x)/,pkt:name"), kept in the flow's scratch until the rule
// fires (inspect.Alert.Vars). Suricata stores the variables of a rule
// that matched only, so captures of a chain that failed are taken back.
type capture struct {
	rule uint32
	v    inspect.Var
}

// maxCaptures bounds a flow's capture scratch: captures of rules whose
// later lists failed are dropped past it.
const maxCaptures = 64

// capture appends the capture groups of p's leftmost match at or after
// from to the evaluator's scratch.
func (e *evaluator) capture(p *cpcre, from int) {
	if len(*e.caps) >= maxCaptures {
		*e.caps = (*e.caps)[:0]
	}
	add := func(i int, val string) {
		if i < len(p.Captures) {
			c := p.Captures[i]
			*e.caps = append(*e.caps, capture{rule: e.rule, v: inspect.Var{Kind: c.Kind, Name: c.Name, Value: val}})
		}
	}
	if p.re != nil {
		m := p.re.FindSubmatchIndex(e.v.buf[from:])
		for g := 1; 2*g+1 < len(m); g++ {
			if m[2*g] >= 0 {
				add(g-1, string(e.v.buf[from+m[2*g]:from+m[2*g+1]]))
			}
		}
		return
	}
	m, err := p.re2.FindRunesMatchStartingAt(e.v.latin1(), from)
	if err != nil || m == nil {
		return
	}
	for g, grp := range m.Groups()[1:] {
		if len(grp.Captures) == 0 {
			continue
		}
		rs := grp.Runes()
		b := make([]byte, len(rs))
		for i, r := range rs {
			b[i] = byte(r) // the runes are the buffer's bytes (Latin-1)
		}
		add(g, string(b))
	}
}

// keepVars has ev keep what cr's ops store in the flow: pcre captures
// and entropy values (entropy.go).
func (f *Flow) keepVars(cr *crule, ev *evaluator) {
	if cr.caps {
		ev.caps, ev.rule = &f.caps, cr.idx
	}
	if cr.ent {
		ev.ent = &f.ent
	}
}

// takeVars returns what cr's evaluation captured, a variable captured
// twice holding its last value, and empties the scratch: what other
// rules left there belongs to chains that did not fire.
func (f *Flow) takeVars(cr *crule) []inspect.Var {
	if !cr.caps || len(f.caps) == 0 {
		f.caps = f.caps[:0]
		return nil
	}
	var out []inspect.Var
	for _, c := range f.caps {
		if c.rule != cr.idx {
			continue
		}
		dup := false
		for i := range out {
			if out[i].Kind == c.v.Kind && out[i].Name == c.v.Name {
				out[i].Value, dup = c.v.Value, true
			}
		}
		if !dup {
			out = append(out, c.v)
		}
	}
	f.caps = f.caps[:0]
	return out
}

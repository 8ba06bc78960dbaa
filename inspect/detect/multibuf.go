package detect

import (
	"github.com/interdict/interdict/inspect/applayer"
)

// Multi-buffers (http.request_header, http.response_header) hold one
// instance per header line. As in Suricata, a rule's list on one is
// evaluated against each instance and matches if any instance does; the
// prefilter scans every instance, so a fast pattern in any line makes the
// rule a candidate. Header lines are few and short, so instances are
// rescanned with every Unit and transformed when evaluated, uncached.

// scanMulti adds the candidates of multi-buffer b of u.
func (f *Flow) scanMulti(u *applayer.Unit, b applayer.Buffer) {
	if len(u.Multi[b]) == 0 {
		return
	}
	for _, g := range f.e.bufGroups[f.tr][u.Dir][b] {
		if g.m != nil {
			for _, inst := range u.Multi[b] {
				if g.key.tf != "" {
					inst = applyTransforms(inst, g.transforms)
				}
				if len(inst) > 0 {
					f.scanBuffer(g, u.TxID, false, inst, 0)
				}
			}
		}
		for _, id := range g.always {
			f.addCand(id)
		}
	}
}

// evalMulti reports whether list l matches any instance of its buffer.
func (f *Flow) evalMulti(cr *crule, l *clist, u *applayer.Unit) bool {
	for _, inst := range u.Multi[l.buf] {
		if l.tf != "" {
			inst = applyTransforms(inst, l.transforms)
		}
		v := view{buf: inst}
		if _, ok := f.evalList(cr, l, &v); ok {
			return true
		}
	}
	return false
}

package detect

import (
	"strconv"

	"github.com/interdict/interdict/inspect/applayer"
)

// Multi-buffers (http.request_header, http.response_header) hold one
// instance per header line. As in Suricata, a rule's list on one is
// evaluated against each instance and matches if any instance does; the
// prefilter scans every instance, so a fast pattern in any line makes the
// rule a candidate.

// scanMulti adds the candidates of multi-buffer b of u.
func (f *Flow) scanMulti(tbufs map[string][]byte, u *applayer.Unit, b applayer.Buffer) {
	if len(u.Multi[b]) == 0 {
		return
	}
	for _, g := range f.e.byBuf[groupKey{tr: f.tr, dir: u.Dir, buf: b}] {
		if g.m != nil {
			s := f.bufStream(g)
			for i := range u.Multi[b] {
				buf := f.instance(tbufs, u, b, i, g.key.tf, g.transforms)
				if len(buf) == 0 {
					continue
				}
				s.Reset()
				s.Scan(buf, func(id uint32, end uint64) bool {
					f.addCand(id)
					return true
				})
			}
		}
		for _, id := range g.always {
			f.addCand(id)
		}
	}
}

// evalMulti reports whether list l matches any instance of its buffer.
func (f *Flow) evalMulti(cr *crule, l *clist, tbufs map[string][]byte, u *applayer.Unit) bool {
	for i := range u.Multi[l.buf] {
		v := view{buf: f.instance(tbufs, u, l.buf, i, l.tf, l.transforms)}
		if _, ok := f.evalList(cr, l, &v); ok {
			return true
		}
	}
	return false
}

// instance returns instance i of multi-buffer b after the transforms,
// caching per Unit.
func (f *Flow) instance(cache map[string][]byte, u *applayer.Unit, b applayer.Buffer, i int, tf string, tfs []string) []byte {
	src := u.Multi[b][i]
	if tf == "" {
		return src
	}
	key := b.String() + "|" + tf + "|" + strconv.Itoa(i)
	if v, ok := cache[key]; ok {
		return v
	}
	out := applyTransforms(src, tfs)
	cache[key] = out
	return out
}

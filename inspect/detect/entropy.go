package detect

import (
	"math"

	"github.com/interdict/interdict/inspect/rules"
)

// entropyVal is the last entropy computed on a buffer of the flow (by
// its Suricata name), which EVE logs as metadata.entropy.
type entropyVal struct {
	name  string
	value float64
}

// maxEntropyVals bounds the names a flow keeps.
const maxEntropyVals = 32

// entropy evaluates an entropy op on the evaluator's buffer and keeps
// the value computed, as Suricata does whether or not it matched.
func (e *evaluator) entropy(o *rules.Entropy) bool {
	// The outcome depends on the whole buffer: more bytes change it.
	e.grow()
	buf := e.v.buf
	if o.Offset > 0 {
		if o.Offset > len(buf) {
			return false
		}
		buf = buf[o.Offset:]
	}
	if o.Bytes > 0 {
		if o.Bytes > len(buf) {
			return false
		}
		buf = buf[:o.Bytes]
	}
	v := shannon(buf)
	if e.ent != nil {
		setEntropy(e.ent, o.Name, v)
	}
	return o.Value.Match(v)
}

// shannon is the Shannon entropy of b in bits per byte (0 for none).
func shannon(b []byte) float64 {
	if len(b) == 0 {
		return 0
	}
	var freq [256]uint32
	for _, c := range b {
		freq[c]++
	}
	n := float64(len(b))
	h := 0.0
	for _, f := range freq {
		if f > 0 {
			p := float64(f) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

func setEntropy(vals *[]entropyVal, name string, v float64) {
	for i := range *vals {
		if (*vals)[i].name == name {
			(*vals)[i].value = v
			return
		}
	}
	if len(*vals) < maxEntropyVals {
		*vals = append(*vals, entropyVal{name, v})
	}
}

// Entropy implements inspect.EntropyReporter: the last entropy each
// buffer was computed at by the entropy keyword, nil if none.
func (f *Flow) Entropy() map[string]float64 {
	if len(f.ent) == 0 {
		return nil
	}
	out := make(map[string]float64, len(f.ent))
	for _, v := range f.ent {
		out[v.name] = v.value
	}
	return out
}

package detect

import "slices"

// maxBitOrder bounds the set-order list a flow keeps for EVE; past it
// further bits are not listed (they still hold).
const maxBitOrder = 256

// noteBit keeps bitOrder, the flowbits set in the order they were set
// (Suricata lists a flow's variables in that order), as a set, unset
// or toggle op changes bit id that was set (was).
func (f *Flow) noteBit(id int, op string, was bool) {
	switch {
	case !was && (op == "set" || op == "toggle"):
		if len(f.bitOrder) < maxBitOrder {
			f.bitOrder = append(f.bitOrder, id)
		}
	case was && (op == "unset" || op == "toggle"):
		if i := slices.Index(f.bitOrder, id); i >= 0 {
			f.bitOrder = slices.Delete(f.bitOrder, i, i+1)
		}
	}
}

// FlowBits implements inspect.FlowVarsReporter: the names of the
// flowbits set on the flow, in the order they were set.
func (f *Flow) FlowBits() []string {
	if len(f.bitOrder) == 0 {
		return nil
	}
	out := make([]string, len(f.bitOrder))
	for i, id := range f.bitOrder {
		out[i] = f.e.bitNames[id]
	}
	return out
}

// FlowInts implements inspect.FlowVarsReporter: the flowint counters
// the flow has set, by name.
func (f *Flow) FlowInts() map[string]int64 {
	var out map[string]int64
	for name, id := range f.e.intIDs {
		if id < len(f.intSet) && f.intSet[id] {
			if out == nil {
				out = map[string]int64{}
			}
			out[name] = f.ints[id]
		}
	}
	return out
}

package eve

import (
	"strings"

	"github.com/interdict/interdict/inspect"
)

// MetadataOf is the metadata object of fi's flow state: its flowbits
// (but for Suricata 8's traffic/id/ and traffic/label/ ones, which are
// the traffic object's), flowints and entropy values, as far as fi
// reports them; nil when there are none. Packet and flow variables
// stored by pcre captures are the caller's to add.
func MetadataOf(fi inspect.FlowInspector) *Metadata {
	var m Metadata
	if r, ok := fi.(inspect.FlowVarsReporter); ok {
		for _, b := range r.FlowBits() {
			if !strings.HasPrefix(b, "traffic/id/") && !strings.HasPrefix(b, "traffic/label/") {
				m.FlowBits = append(m.FlowBits, b)
			}
		}
		m.FlowInts = r.FlowInts()
	}
	if r, ok := fi.(inspect.EntropyReporter); ok {
		m.Entropy = r.Entropy()
	}
	if m.FlowBits == nil && m.FlowInts == nil && m.Entropy == nil {
		return nil
	}
	return &m
}

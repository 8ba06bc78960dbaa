package replay

import (
	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/eve"
)

// maxFlowVars bounds the flow variables a flow keeps for EVE.
const maxFlowVars = 64

// storeVars records the flow variables the matches of one inspection
// stored (a variable stored again takes the new value) and returns its
// packet variables, in the order stored, for Suricata's metadata event
// and the metadata object of the events logged for this packet.
func (f *flow) storeVars(alerts []inspect.Alert) []map[string]string {
	var pkt []map[string]string
	for i := range alerts {
		for _, v := range alerts[i].Vars {
			switch v.Kind {
			case "pkt":
				pkt = append(pkt, map[string]string{v.Name: v.Value})
			case "flow":
				f.setFlowVar(v.Name, v.Value)
			}
		}
	}
	return pkt
}

func (f *flow) setFlowVar(name, value string) {
	for _, m := range f.flowVars {
		if _, ok := m[name]; ok {
			m[name] = value
			return
		}
	}
	if len(f.flowVars) < maxFlowVars {
		f.flowVars = append(f.flowVars, map[string]string{name: value})
	}
}

// flowFields sets what the flow's state adds to an event logged for a
// packet whose matches stored pkt: the traffic tags and the metadata
// object.
func (f *flow) flowFields(ev *eve.Event, pkt []map[string]string) {
	if f.traffic.ID != nil || f.traffic.Label != nil {
		t := f.traffic
		ev.Traffic = &t
	}
	ev.Metadata = f.metadata(pkt)
}

// metadata is the metadata object of an event of f logged for a packet
// whose matches stored pkt (with the entropy values the inspector
// kept), nil when there are no variables.
func (f *flow) metadata(pkt []map[string]string) *eve.Metadata {
	m := eve.MetadataOf(f.insp)
	if m == nil && len(pkt) == 0 && len(f.flowVars) == 0 {
		return nil
	}
	if m == nil {
		m = &eve.Metadata{}
	}
	m.PktVars = pkt
	for _, v := range f.flowVars {
		for k, val := range v {
			m.FlowVars = append(m.FlowVars, map[string]string{k: val})
		}
	}
	return m
}

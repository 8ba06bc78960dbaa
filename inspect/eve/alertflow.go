package eve

import (
	"encoding/json"

	"github.com/interdict/interdict/inspect"
)

// AlertFlow is the flow object Suricata adds to an alert: the flow's
// counters when it fired, its start, and its endpoints as the flow's
// originator sees them (an alert on the reply names the server as its
// source; this object does not).
type AlertFlow struct {
	PktsToServer  uint64 `json:"pkts_toserver"`
	PktsToClient  uint64 `json:"pkts_toclient"`
	BytesToServer uint64 `json:"bytes_toserver"`
	BytesToClient uint64 `json:"bytes_toclient"`
	Start         Time   `json:"start"`
	SrcIP         string `json:"src_ip"`
	DestIP        string `json:"dest_ip"`
	SrcPort       uint16 `json:"src_port,omitempty"`
	DestPort      uint16 `json:"dest_port,omitempty"`
}

// NewAlertFlow is the alert flow object of meta with counters pkts and
// bytes (to server, to client). Ports are left out for ICMP, as Suricata
// does for port-less protocols.
func NewAlertFlow(meta *inspect.FlowMeta, pkts, bytes [2]uint64) *Flow {
	af := &AlertFlow{PktsToServer: pkts[0], PktsToClient: pkts[1], BytesToServer: bytes[0], BytesToClient: bytes[1],
		Start: Time{meta.Start}}
	setAddr(&af.SrcIP, &af.SrcPort, meta.Src, meta.Proto)
	setAddr(&af.DestIP, &af.DestPort, meta.Dst, meta.Proto)
	return &Flow{OfAlert: af}
}

// flowObject is Flow without its methods.
type flowObject Flow

// MarshalJSON implements json.Marshaler: an alert's flow object, or a
// flow event's.
func (f *Flow) MarshalJSON() ([]byte, error) {
	if f.OfAlert != nil {
		return json.Marshal(f.OfAlert)
	}
	return json.Marshal((*flowObject)(f))
}

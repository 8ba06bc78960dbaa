package replay

import "time"

// FlowTimeouts are Suricata's flow-timeouts: how long a flow may stay
// idle, by transport and state, before the next packet of its 5-tuple
// starts a new flow; the old one is logged with reason timeout, as
// Suricata's flow lookup evicts a timed-out flow it finds
// (flow-hash.c). Zero durations never time out.
type FlowTimeouts struct {
	TCP, Other StateTimeouts
}

// StateTimeouts are the timeouts of one transport by flow state (EVE
// flow.state: new, established, closed).
type StateTimeouts struct {
	New, Established, Closed time.Duration
}

// DefaultFlowTimeouts are Suricata's built-in timeouts, in force when its
// configuration sets none (flow-private.h): TCP 30 s new, 300 s
// established, 10 s closed; other transports 30 s and 300 s.
var DefaultFlowTimeouts = FlowTimeouts{
	TCP:   StateTimeouts{New: 30 * time.Second, Established: 300 * time.Second, Closed: 10 * time.Second},
	Other: StateTimeouts{New: 30 * time.Second, Established: 300 * time.Second},
}

// timedOut reports whether f was idle past its timeout at now.
func (rp *replayer) timedOut(f *flow, now time.Time) bool {
	t := &rp.cfg.FlowTimeouts.Other
	if f.meta.Proto == 6 { // TCP
		t = &rp.cfg.FlowTimeouts.TCP
	}
	var d time.Duration
	switch f.state() {
	case "new":
		d = t.New
	case "closed":
		d = t.Closed
	default:
		d = t.Established
	}
	return d > 0 && now.Sub(f.last) > d
}

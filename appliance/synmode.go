package appliance

import (
	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/netstack"
)

// EVE anomaly events for the stack's SYN-flood mode (netstack.SYNMode).
const (
	AnomalySYNPressure     = "SYN_PRESSURE_VALIDATE_FIRST"
	AnomalySYNPressureOver = "SYN_PRESSURE_OVER"
)

// synModeEvent writes each switch of the stack's SYN mode to EVE as an
// anomaly of type "stream", so the log that shows the flood's effects
// also shows when and why new connections were answered differently.
func (a *Appliance) synModeEvent(ch netstack.SYNModeChange) {
	if a.events == nil {
		return
	}
	name := AnomalySYNPressure
	if ch.Mode == netstack.DialFirst {
		name = AnomalySYNPressureOver
	}
	ev := eve.Event{
		Timestamp: eve.Time{Time: ch.At}, EventType: eve.TypeAnomaly, Proto: "TCP",
		Anomaly: &eve.Anomaly{Type: "stream", Event: name, Layer: "netstack"},
	}
	if err := a.events.Write(&ev); err != nil {
		a.log.Warn("EVE SYN mode event", "err", err)
	}
}

package appliance

import (
	"context"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/interdict/interdict/inspect/eve"
)

// StatsLoop writes an EVE stats event every stats interval until ctx
// ends. The figures come from the metrics registry, the one place the
// data path counts, so EVE and /metrics always agree.
func (a *Appliance) StatsLoop(ctx context.Context) {
	if a.events == nil || a.s.StatsInterval <= 0 {
		return
	}
	t := time.NewTicker(a.s.StatsInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			ev := a.StatsEvent(now)
			if err := a.events.Write(&ev); err != nil {
				a.log.Warn("EVE stats event", "err", err)
			}
		}
	}
}

// StatsEvent builds one stats event from the registry.
func (a *Appliance) StatsEvent(now time.Time) eve.Event {
	st := &eve.Stats{Uptime: int64(now.Sub(a.started) / time.Second)}
	mfs, err := a.reg.Gather()
	if err != nil {
		a.log.Warn("gather metrics for EVE stats", "err", err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			v := uint64(m.GetCounter().GetValue())
			switch mf.GetName() {
			case "interdict_netstack_packets_total":
				st.Decoder.Pkts += v
			case "interdict_netstack_bytes_total":
				st.Decoder.Bytes += v
			case "interdict_netstack_flows_total":
				switch label(m, "proto") {
				case "tcp":
					st.Flow.TCP += v
				case "udp":
					st.Flow.UDP += v
				}
			case "interdict_netstack_guard_drops_total":
				if label(m, "reason") == "malformed" {
					st.Decoder.Invalid += v
				}
			case "interdict_enforce_alerts_total":
				st.Detect.Alert += v
			}
		}
	}
	return eve.Event{Timestamp: eve.Time{Time: now}, EventType: eve.TypeStats, Stats: st}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

package identity

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics carry no identity names (see the package doc): triggers are
// named in the config, so their number is bounded.
type metrics struct {
	interruptions *prometheus.CounterVec // action, trigger
	releases      *prometheus.CounterVec // cause: api, expired
	paused        prometheus.Gauge
	quarantined   prometheus.Gauge
	refused       *prometheus.CounterVec // action: pause, quarantine
	resets        prometheus.Counter
	egress        *prometheus.CounterVec // decision: allow, deny, would-deny
	tokenMisuse   *prometheus.CounterVec // action: deny, would-deny
	// egressAllow is resolved once: NewFlow counts every allowed flow.
	egressAllow prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "interdict", Subsystem: "identity", Name: name, Help: help}
	}
	m := &metrics{
		interruptions: prometheus.NewCounterVec(prometheus.CounterOpts(opts("interruptions_total",
			"Identities paused or quarantined, by action (pause, quarantine; would-pause, would-quarantine in ids mode) and trigger (its configured name, or manual).")),
			[]string{"action", "trigger"}),
		releases: prometheus.NewCounterVec(prometheus.CounterOpts(opts("releases_total",
			"Interruptions ended, by cause (api, expired).")), []string{"cause"}),
		paused: prometheus.NewGauge(prometheus.GaugeOpts(opts("paused",
			"Identities paused now (new flows refused)."))),
		quarantined: prometheus.NewGauge(prometheus.GaugeOpts(opts("quarantined",
			"Identities quarantined now (live flows reset, packets dropped)."))),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts(opts("flows_refused_total",
			"New flows of interrupted identities refused before any upstream dial, by action.")), []string{"action"}),
		resets: prometheus.NewCounter(prometheus.CounterOpts(opts("flows_reset_total",
			"Live flows reset because their identity was quarantined."))),
		egress: prometheus.NewCounterVec(prometheus.CounterOpts(opts("egress_decisions_total",
			"Egress policy decisions: flows and HTTP requests allowed, and flows, HTTP requests and DNS queries denied (would-deny in ids mode).")), []string{"decision"}),
		tokenMisuse: prometheus.NewCounterVec(prometheus.CounterOpts(opts("token_misuse_total",
			"HTTP requests carrying a token bound to another identity, by action (deny; would-deny in ids mode).")), []string{"action"}),
	}
	m.egressAllow = m.egress.WithLabelValues("allow")
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.interruptions, m.releases, m.paused, m.quarantined, m.refused, m.resets, m.egress, m.tokenMisuse} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("identity metrics: %w", err)
		}
	}
	return m, nil
}

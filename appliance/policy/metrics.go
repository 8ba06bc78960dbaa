package policy

import (
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// maxEventLabels bounds the distinct anomaly names of the protocol
// counter: the parsers name a few dozen, but a FlowFactory could name
// anything, and each series costs the scraper.
const maxEventLabels = 256

type metrics struct {
	blocked        prometheus.Gauge       // current block-list entries
	blocks         *prometheus.CounterVec // origin: static, api, rule
	unblocks       *prometheus.CounterVec // cause: expired, api
	resets         prometheus.Counter
	refused        *prometheus.CounterVec // reason: blocked
	rateLimited    *prometheus.CounterVec // kind: new_flows, bytes; action: drop, reject, delay
	delaySeconds   prometheus.Counter
	limiterSources prometheus.Gauge
	protocol       *prometheus.CounterVec // app_proto, event, action

	evMu   sync.Mutex
	events map[string]bool
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "interdict", Subsystem: "policy", Name: name, Help: help}
	}
	m := &metrics{
		blocked: prometheus.NewGauge(prometheus.GaugeOpts(opts("blocked_sources",
			"Source prefixes on the block list now (static, API and rule consequences)."))),
		blocks: prometheus.NewCounterVec(prometheus.CounterOpts(opts("blocks_total",
			"Source prefixes blocked, by origin (static, api, rule).")), []string{"origin"}),
		unblocks: prometheus.NewCounterVec(prometheus.CounterOpts(opts("unblocks_total",
			"Source prefixes removed from the block list, by cause (expired, api).")), []string{"cause"}),
		resets: prometheus.NewCounter(prometheus.CounterOpts(opts("flows_reset_total",
			"Live flows ended because their source was blocked."))),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts(opts("flows_refused_total",
			"New flows refused by policy before upstream was dialled, by reason (blocked: the source is on the block list but its packet got past the guard).")), []string{"reason"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts(opts("rate_limited_flows_total",
			"Flows hit by a rate limit, by kind (new_flows: refused at NewFlow; bytes: counted once per flow) and action (drop, reject, delay).")), []string{"kind", "action"}),
		delaySeconds: prometheus.NewCounter(prometheus.CounterOpts(opts("rate_delay_seconds_total",
			"Time chunks waited for the bytes/s limit, summed over flows."))),
		limiterSources: prometheus.NewGauge(prometheus.GaugeOpts(opts("rate_limiter_sources",
			"Sources in the new-flows-per-second limiter table (bounded by rate.new_flows.max_sources)."))),
		protocol: prometheus.NewCounterVec(prometheus.CounterOpts(opts("protocol_anomalies_total",
			"App-layer anomalies seen by protocol validation, by app_proto, event (at most 256 names, then \"other\") and configured action (alert, drop, reject, ...; would-... in ids mode).")), []string{"app_proto", "event", "action"}),
		events: map[string]bool{},
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.blocked, m.blocks, m.unblocks, m.resets, m.refused, m.rateLimited,
		m.delaySeconds, m.limiterSources, m.protocol} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("policy metrics: %w (one Policy per registry)", err)
			}
			return nil, fmt.Errorf("policy metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) eventLabel(name string) string {
	m.evMu.Lock()
	defer m.evMu.Unlock()
	if m.events[name] {
		return name
	}
	if len(m.events) >= maxEventLabels {
		return "other"
	}
	m.events[name] = true
	return name
}

package cluster

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	connected prometheus.Gauge
	pending   prometheus.Gauge
	writes    prometheus.Counter
	applyLag  prometheus.Histogram
	conflicts *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "interdict", Subsystem: "cluster", Name: name, Help: help}
	}
	m := &metrics{
		connected: prometheus.NewGauge(prometheus.GaugeOpts(opts("connected",
			"1 while the appliance is connected to NATS, else 0 (it then enforces what it knows and queues its writes)."))),
		pending: prometheus.NewGauge(prometheus.GaugeOpts(opts("pending_writes",
			"Writes the cluster has not taken yet, written in order on reconnect."))),
		writes: prometheus.NewCounter(prometheus.CounterOpts(opts("writes_total",
			"Writes the cluster took (puts and deletes)."))),
		applyLag: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "interdict", Subsystem: "cluster", Name: "apply_lag_seconds",
			Help:    "From another appliance's write (the server's clock) to its application here.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .2, .5, 1, 5, 30}}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts(opts("conflicts_total",
			"Writes that lost a compare-and-set to another appliance's, by the value kept: local (written over it) or remote (this write dropped).")),
			[]string{"winner"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.connected, m.pending, m.writes, m.applyLag, m.conflicts} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("cluster metrics: %w", err)
		}
	}
	return m, nil
}

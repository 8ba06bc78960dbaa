package enforce

import (
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/interdict/interdict/netstack"
)

// DefaultMaxSIDLabels bounds the distinct sid label values of the alerts
// counter. A rule pack holds tens of thousands of rules but a deployment
// sees a few hundred fire; each series costs the scraper, so past the
// bound alerts are counted under sid="other" and the EVE log keeps the
// detail.
const DefaultMaxSIDLabels = 1000

// sidOther is the sid label of alerts past the cardinality bound.
const sidOther = "other"

// metrics are the handler's Prometheus series.
type metrics struct {
	alerts       *prometheus.CounterVec // sid, action (EVE alert.action: allowed|blocked)
	verdicts     *prometheus.CounterVec // mode, verdict
	inspect      prometheus.Histogram
	matchLatency prometheus.Histogram
	panics       prometheus.Counter
	flows        *prometheus.CounterVec // mode
	eveErrors    prometheus.Counter

	// verdict children resolved once: Chunk is the hot path.
	verdictCtr [2][netstack.RejectBoth + 1]prometheus.Counter

	sidMu   sync.Mutex
	sids    map[uint32]string
	maxSIDs int
}

func newMetrics(reg prometheus.Registerer, maxSIDs int) (*metrics, error) {
	m := &metrics{
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "interdict", Subsystem: "enforce", Name: "alerts_total",
			Help: "Alerts logged, by rule sid (at most max_sid_labels distinct values, then \"other\") and EVE alert action (allowed, blocked).",
		}, []string{"sid", "action"}),
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "interdict", Subsystem: "enforce", Name: "verdicts_total",
			Help: "Chunk verdicts decided by inspection, by mode; in ids mode drop and reject verdicts are only logged and the chunk is forwarded.",
		}, []string{"mode", "verdict"}),
		inspect: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "interdict", Subsystem: "enforce", Name: "inspect_seconds",
			Help: "Time of one Inspect call (one chunk of one direction).",
			// 1 us .. 262 ms: a chunk is at most the relay buffer (32 KiB).
			Buckets: prometheus.ExponentialBuckets(1e-6, 4, 10),
		}),
		matchLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "interdict", Subsystem: "enforce", Name: "match_verdict_seconds",
			Help:    "Time from a chunk that produced an alert or action reaching the handler to its verdict being returned (lock wait, inspection, event logging).",
			Buckets: prometheus.ExponentialBuckets(1e-6, 4, 10),
		}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "interdict", Subsystem: "enforce", Name: "panics_total",
			Help: "Panics recovered from flow inspection; each ended its flow (reset, or pass with fail_open).",
		}),
		flows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "interdict", Subsystem: "enforce", Name: "flows_total",
			Help: "Flows handed to inspection, by mode.",
		}, []string{"mode"}),
		eveErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "interdict", Subsystem: "enforce", Name: "eve_write_errors_total",
			Help: "EVE events that could not be written.",
		}),
		sids:    make(map[uint32]string),
		maxSIDs: maxSIDs,
	}
	for i, mode := range [2]Mode{IPS, IDS} {
		for v := netstack.Continue; v <= netstack.RejectBoth; v++ {
			m.verdictCtr[i][v] = m.verdicts.WithLabelValues(string(mode), v.String())
		}
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.alerts, m.verdicts, m.inspect, m.matchLatency, m.panics, m.flows, m.eveErrors} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("enforce: metrics already registered (one handler per registry): %w", err)
			}
			return nil, fmt.Errorf("enforce: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) verdict(mode Mode, v netstack.Verdict) {
	i := 0
	if !mode.enforcing() {
		i = 1
	}
	if v <= netstack.RejectBoth {
		m.verdictCtr[i][v].Inc()
	}
}

// sidLabel returns sid's label value, or "other" once maxSIDs distinct
// sids have been seen.
func (m *metrics) sidLabel(sid uint32) string {
	m.sidMu.Lock()
	defer m.sidMu.Unlock()
	if l, ok := m.sids[sid]; ok {
		return l
	}
	if len(m.sids) >= m.maxSIDs {
		return sidOther
	}
	l := strconv.FormatUint(uint64(sid), 10)
	m.sids[sid] = l
	return l
}

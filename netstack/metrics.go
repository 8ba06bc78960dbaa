package netstack

import (
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the data path's Prometheus series. They are registered on
// the Registerer given to New (never the global registry), so two stacks
// in one process (tests, harness) do not collide.
type metrics struct {
	packets       *prometheus.CounterVec // dir: in|out
	bytes         *prometheus.CounterVec // dir: in|out
	flowsActive   *prometheus.GaugeVec   // proto
	flowsTotal    *prometheus.CounterVec // proto, verdict
	synDropped    *prometheus.CounterVec // reason: per_source|per_prefix|validating|cookie_rate
	guardDrops    *prometheus.CounterVec // reason
	dialFailures  *prometheus.CounterVec // proto
	udpSessions   prometheus.Gauge
	udpRejected   *prometheus.CounterVec // reason: limit
	flowsRejected *prometheus.CounterVec // reason: table_full
	icmpDropped   prometheus.Counter
	// synMode is the SYNMode (0 dial_first, 1 validate_first), and
	// synModeChanges counts the switches into each.
	synMode        prometheus.Gauge
	synModeChanges *prometheus.CounterVec
	// synCookieRate counts SYNs the guard dropped past SYNCookieRate.
	synCookieRate prometheus.Counter
	// timeWaitReopened counts SYNs that reopened a client leg in
	// TIME_WAIT (Stack.reopenTimeWait).
	timeWaitReopened prometheus.Counter
	// holdUndecided counts flows whose held bytes were never decided:
	// reason limit (HoldLimit reached) or eof (the stream ended), and
	// holdOpen the subset forwarded anyway (HoldFailOpen).
	holdUndecided *prometheus.CounterVec

	// Per-flow series, resolved once: WithLabelValues hashes the label
	// values and takes a lock on every call.
	tcp, udp protoMetrics
}

// protoMetrics are one protocol's per-flow series. flows_total series
// are resolved on first use, so a series appears only once it counted.
type protoMetrics struct {
	proto        string
	active       prometheus.Gauge
	dialFailures prometheus.Counter
	total        *prometheus.CounterVec
	ended        [len(verdictNames)]lazyCounter
	dialFailedC  lazyCounter
	handshakeC   lazyCounter
}

type lazyCounter struct {
	once sync.Once
	c    prometheus.Counter
}

func (l *lazyCounter) get(vec *prometheus.CounterVec, proto, label string) prometheus.Counter {
	l.once.Do(func() { l.c = vec.WithLabelValues(proto, label) })
	return l.c
}

func (m *metrics) initProto(p *protoMetrics, proto string) {
	p.proto = proto
	p.active = m.flowsActive.WithLabelValues(proto)
	p.dialFailures = m.dialFailures.WithLabelValues(proto)
	p.total = m.flowsTotal
}

// endedWith counts a flow that ended with v.
func (p *protoMetrics) endedWith(v Verdict) {
	if int(v) < len(p.ended) {
		p.ended[v].get(p.total, p.proto, verdictNames[v]).Inc()
		return
	}
	p.total.WithLabelValues(p.proto, v.String()).Inc()
}

// dialFailed counts a flow whose upstream dial failed (both series).
func (p *protoMetrics) dialFailed() {
	p.dialFailures.Inc()
	p.dialFailedC.get(p.total, p.proto, "dial_failed").Inc()
}

// handshakeFailed counts a TCP flow whose client handshake failed.
func (p *protoMetrics) handshakeFailed() {
	p.handshakeC.get(p.total, p.proto, "handshake_failed").Inc()
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		packets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "interdict", Subsystem: "netstack", Name: "packets_total",
			Help: "Packets seen on the client-facing link, by direction (in: from clients).",
		}, []string{"dir"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "interdict", Subsystem: "netstack", Name: "bytes_total",
			Help: "IP bytes seen on the client-facing link, by direction.",
		}, []string{"dir"}),
		flowsActive: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "interdict", Subsystem: "netstack", Name: "flows_active",
			Help: "Flows currently in the flow table.",
		}, []string{"proto"}),
		flowsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "interdict", Subsystem: "netstack", Name: "flows_total",
			Help: "Flows ended, by the verdict they ended with.",
		}, []string{"proto", "verdict"}),
		synDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "interdict", Subsystem: "netstack", Name: "syn_dropped_total",
			Help: "SYNs ignored because too many handshakes were in flight (global or per source).",
		}, []string{"reason"}),
		guardDrops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "interdict", Subsystem: "netstack", Name: "guard_drops_total",
			Help: "Packets dropped by the packet guard, by reason.",
		}, []string{"reason"}),
		dialFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "interdict", Subsystem: "netstack", Name: "dial_failures_total",
			Help: "Upstream dials that failed (mirrored to the client as RST or ICMP unreachable).",
		}, []string{"proto"}),
		udpSessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "interdict", Subsystem: "netstack", Name: "udp_sessions",
			Help: "Live UDP sessions.",
		}),
		udpRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "interdict", Subsystem: "netstack", Name: "udp_sessions_refused_total",
			Help: "UDP sessions not created, by reason.",
		}, []string{"reason"}),
		flowsRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "interdict", Subsystem: "netstack", Name: "flows_refused_total",
			Help: "Flows refused before any verdict, by reason.",
		}, []string{"reason"}),
		icmpDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "interdict", Subsystem: "netstack", Name: "icmp_dropped_total",
			Help: "ICMP messages other than echo dropped on the client-facing link.",
		}),
		synMode: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "interdict", Subsystem: "netstack", Name: "syn_mode",
			Help: "How new TCP connections are answered: 0 dial upstream first, 1 validate the client with SYN cookies first (SYN pressure).",
		}),
		synModeChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "interdict", Subsystem: "netstack", Name: "syn_mode_changes_total",
			Help: "Switches of the SYN mode, by the mode switched to.",
		}, []string{"mode"}),
		timeWaitReopened: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "interdict", Subsystem: "netstack", Name: "tcp_time_wait_reopened_total",
			Help: "SYNs that reopened a client 4-tuple still in TIME_WAIT.",
		}),
		holdUndecided: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "interdict", Subsystem: "netstack", Name: "hold_undecided_total",
			Help: "Flows whose handler held bytes without deciding, by reason (limit: hold_limit reached, eof: the stream ended) and outcome (reject, or forward with hold_fail_open).",
		}, []string{"reason", "outcome"}),
	}
	m.initProto(&m.tcp, "tcp")
	m.initProto(&m.udp, "udp")
	// Series with known label values exist from the start at 0, so a rate()
	// or an alert over them works before the first event.
	m.synDropped.WithLabelValues("per_source")
	m.synDropped.WithLabelValues("per_prefix")
	m.synDropped.WithLabelValues("validating")
	m.synCookieRate = m.synDropped.WithLabelValues("cookie_rate")
	m.synModeChanges.WithLabelValues(DialFirst.String())
	m.synModeChanges.WithLabelValues(ValidateFirst.String())
	m.flowsRejected.WithLabelValues("table_full")
	m.udpRejected.WithLabelValues("limit")
	for _, r := range []string{"limit", "eof", "udp"} {
		m.holdUndecided.WithLabelValues(r, "reject")
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.packets, m.bytes, m.flowsActive, m.flowsTotal,
		m.synDropped, m.guardDrops, m.dialFailures, m.udpSessions, m.udpRejected, m.flowsRejected, m.icmpDropped, m.timeWaitReopened, m.holdUndecided,
		m.synMode, m.synModeChanges} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("netstack metrics: %w (one Registerer per stack)", err)
			}
			return nil, fmt.Errorf("netstack metrics: %w", err)
		}
	}
	return m, nil
}

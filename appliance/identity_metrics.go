package appliance

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/interdict/interdict/appliance/admin"
)

// maxIdentityLabels bounds the identity label of the per-identity
// series, as the alerts counter bounds its sid label: a fleet may hold
// thousands of runners and every series costs the scraper. Identities
// past the bound are summed under identity="other"; the admin API
// (GET /v1/identities) has every one of them.
const maxIdentityLabels = 1000

// identityOther is the label of the identities past maxIdentityLabels.
const identityOther = "other"

// identityCollector exports, at scrape time, what GET /v1/identities
// reports per identity: live flows, and for a WireGuard peer the bytes
// its device counted. Labels go to identities in the order scrapes first
// see them (by name within one scrape), and an identity keeps its label
// while it exists, so series do not jump between names; a removed
// identity frees its label. The "other" series are sums, so their
// counters fall when a member leaves: Prometheus reads that as a reset.
type identityCollector struct {
	a      *Appliance
	max    int
	flows  *prometheus.Desc
	rx, tx *prometheus.Desc

	mu    sync.Mutex
	named map[string]bool
}

func newIdentityCollector(a *Appliance, max int) *identityCollector {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName("interdict", "identity", name), help, []string{"identity"}, nil)
	}
	return &identityCollector{a: a, max: max, named: map[string]bool{},
		flows: desc("flows_active", "Live flows per identity (at most 1,000 identity labels, then \"other\")."),
		rx:    desc("rx_bytes_total", "Bytes received from a WireGuard peer, as its device counts them (encrypted, with headers), per identity (at most 1,000 identity labels, then \"other\")."),
		tx:    desc("tx_bytes_total", "Bytes sent to a WireGuard peer, as its device counts them, per identity (at most 1,000 identity labels, then \"other\")."),
	}
}

// Describe implements prometheus.Collector.
func (c *identityCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.flows
	ch <- c.rx
	ch <- c.tx
}

// Collect implements prometheus.Collector.
func (c *identityCollector) Collect(ch chan<- prometheus.Metric) {
	type sums struct {
		flows  int
		rx, tx uint64
		peer   bool
	}
	states := c.a.IdentityStates()
	out := map[string]*sums{}
	c.mu.Lock()
	present := make(map[string]bool, len(states))
	for _, s := range states {
		present[s.Name] = true
	}
	for n := range c.named {
		if !present[n] {
			delete(c.named, n)
		}
	}
	for _, s := range states {
		label := c.labelLocked(s)
		x := out[label]
		if x == nil {
			x = &sums{}
			out[label] = x
		}
		x.flows += s.Flows
		x.rx += s.RxBytes
		x.tx += s.TxBytes
		x.peer = x.peer || isPeer(s)
	}
	c.mu.Unlock()
	for label, x := range out {
		ch <- prometheus.MustNewConstMetric(c.flows, prometheus.GaugeValue, float64(x.flows), label)
		if x.peer {
			ch <- prometheus.MustNewConstMetric(c.rx, prometheus.CounterValue, float64(x.rx), label)
			ch <- prometheus.MustNewConstMetric(c.tx, prometheus.CounterValue, float64(x.tx), label)
		}
	}
}

// labelLocked is the identity's label: its name while the bound allows.
func (c *identityCollector) labelLocked(s admin.IdentityState) string {
	if c.named[s.Name] {
		return s.Name
	}
	if len(c.named) < c.max && s.Name != identityOther {
		c.named[s.Name] = true
		return s.Name
	}
	return identityOther
}

func isPeer(s admin.IdentityState) bool {
	return s.Source == "wireguard" || s.Source == "wireguard-config"
}

package appliance

import (
	"net/netip"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v4"

	"github.com/interdict/interdict/configs"
)

// TestPrometheusAlertsNameExportedMetrics keeps configs/prometheus in step
// with the code: every interdict_* metric an alert names must be one the
// appliance exports, or the alert could never fire. The fixture drives the
// paths that create labelled series (an alert, a reject, a refused reload,
// a block, a refused dial) so their families exist to be gathered.
func TestPrometheusAlertsNameExportedMetrics(t *testing.T) {
	var doc struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert  string            `yaml:"alert"`
				Expr   string            `yaml:"expr"`
				Labels map[string]string `yaml:"labels"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	require.NoError(t, yaml.Load(configs.PrometheusAlerts, &doc))
	require.NotEmpty(t, doc.Groups)

	have := exportedMetrics(t)

	var missing []string
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			require.NotEmpty(t, r.Alert)
			require.NotEmpty(t, r.Expr, r.Alert)
			assert.Contains(t, []string{"critical", "warning", "info"}, r.Labels["severity"], r.Alert)
			for _, name := range unknownMetrics(r.Expr, have) {
				missing = append(missing, r.Alert+": "+name)
			}
		}
	}
	logExported(t, missing, have)
	assert.Empty(t, missing, "alerts name metrics the appliance does not export")
}

// exportedMetrics gathers the metric families an appliance exports. The
// fixture drives the paths that create labelled series (an alert, a
// reject, a drop, a refused reload, a block) so their families exist.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	fx := newFixture(t, "")
	_, err := fx.exchange(t, "ALERTME")
	require.NoError(t, err)
	_, err = fx.exchange(t, "REJECTME")
	require.Error(t, err)
	_, _ = fx.exchange(t, "DROPME")
	require.NoError(t, os.WriteFile(fx.rules, []byte("alert tcp any any -> any any (msg:\"broken\"; sid:;)\n"), 0o600))
	_, err = fx.a.ReloadRules()
	require.Error(t, err, "a broken rule file is refused")
	_, err = fx.a.Block(netip.MustParsePrefix("192.0.2.0/24"), time.Minute, "test")
	require.NoError(t, err)

	have := map[string]bool{}
	// The WireGuard hub (the default link) exports its own families.
	for _, reg := range []prometheus.Gatherer{fx.a.Registry(), newHubAppliance(t).Registry()} {
		mfs, err := reg.Gather()
		require.NoError(t, err)
		for _, mf := range mfs {
			have[mf.GetName()] = true
		}
	}
	return have
}

var metricName = regexp.MustCompile(`\binterdict_[a-z0-9_]+`)

// unknownMetrics lists the interdict_* names in a PromQL expression that
// are not exported (a histogram's _bucket, _sum and _count count as its
// family).
func unknownMetrics(expr string, have map[string]bool) []string {
	var out []string
	for _, name := range metricName.FindAllString(expr, -1) {
		base := name
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, suf); ok && have[b] {
				base = b
			}
		}
		if !have[base] {
			out = append(out, name)
		}
	}
	return out
}

// logExported lists what is exported when a check found names that are not.
func logExported(t *testing.T, missing []string, have map[string]bool) {
	t.Helper()
	if len(missing) == 0 {
		return
	}
	var names []string
	for n := range have {
		if strings.HasPrefix(n, "interdict_") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	t.Logf("exported: %s", strings.Join(names, " "))
}

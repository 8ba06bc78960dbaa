package appliance

import (
	"net/netip"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

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

	fx := newFixture(t, "")
	_, err := fx.exchange(t, "ALERTME")
	require.NoError(t, err)
	_, err = fx.exchange(t, "REJECTME")
	require.Error(t, err)
	require.NoError(t, os.WriteFile(fx.rules, []byte("alert tcp any any -> any any (msg:\"broken\"; sid:;)\n"), 0o600))
	_, err = fx.a.ReloadRules()
	require.Error(t, err, "a broken rule file is refused")
	_, err = fx.a.Block(netip.MustParsePrefix("192.0.2.0/24"), time.Minute, "test")
	require.NoError(t, err)

	mfs, err := fx.a.Registry().Gather()
	require.NoError(t, err)
	have := map[string]bool{}
	for _, mf := range mfs {
		have[mf.GetName()] = true
	}

	metric := regexp.MustCompile(`\binterdict_[a-z0-9_]+`)
	var missing []string
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			require.NotEmpty(t, r.Alert)
			require.NotEmpty(t, r.Expr, r.Alert)
			assert.Contains(t, []string{"critical", "warning", "info"}, r.Labels["severity"], r.Alert)
			for _, name := range metric.FindAllString(r.Expr, -1) {
				base := name
				for _, suf := range []string{"_bucket", "_sum", "_count"} {
					if b, ok := strings.CutSuffix(name, suf); ok && have[b] {
						base = b
					}
				}
				if !have[base] {
					missing = append(missing, r.Alert+": "+name)
				}
			}
		}
	}
	if len(missing) > 0 {
		var names []string
		for n := range have {
			if strings.HasPrefix(n, "interdict_") {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		t.Logf("exported: %s", strings.Join(names, " "))
	}
	assert.Empty(t, missing, "alerts name metrics the appliance does not export")
}

//go:build !windows

package appliance

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v4"

	"github.com/interdict/interdict/configs"
	"github.com/interdict/interdict/tests/testenv"
)

const dashboardPath = "../configs/grafana/interdict.json"

type grafanaPanel struct {
	ID          int    `json:"id"`
	Type        string `json:"type"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Datasource  *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	GridPos *struct{ H, W, X, Y int } `json:"gridPos"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"`
}

// dashboardQueries reads the dashboard and returns every panel's queries
// by panel title, checking the panel structure Grafana needs on import.
func dashboardQueries(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(dashboardPath)
	require.NoError(t, err)
	var d struct {
		UID       string         `json:"uid"`
		Panels    []grafanaPanel `json:"panels"`
		Templates struct {
			List []struct {
				Name string `json:"name"`
			} `json:"list"`
		} `json:"templating"`
	}
	require.NoError(t, json.Unmarshal(b, &d))
	require.NotEmpty(t, d.UID)
	vars := map[string]bool{}
	for _, v := range d.Templates.List {
		vars[v.Name] = true
	}
	ids := map[int]bool{}
	out := map[string][]string{}
	var walk func([]grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			require.False(t, ids[p.ID], "panel id %d twice", p.ID)
			ids[p.ID] = true
			require.NotNil(t, p.GridPos, p.Title)
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			require.NotEmpty(t, p.Description, p.Title)
			require.NotNil(t, p.Datasource, p.Title)
			assert.Equal(t, "${datasource}", p.Datasource.UID, p.Title)
			require.NotEmpty(t, p.Targets, p.Title)
			for _, tg := range p.Targets {
				require.NotEmpty(t, tg.Expr, p.Title)
				for _, v := range []string{"instance", "max_flows"} {
					if strings.Contains(tg.Expr, "$"+v) {
						assert.True(t, vars[v], "%s: $%s is not a dashboard variable", p.Title, v)
					}
				}
				out[p.Title] = append(out[p.Title], tg.Expr)
			}
		}
	}
	walk(d.Panels)
	return out
}

// TestGrafanaDashboardNamesExportedMetrics holds configs/grafana to the
// code as the alert rules are held: every metric a panel queries is one
// the appliance exports, or the panel would stay empty.
func TestGrafanaDashboardNamesExportedMetrics(t *testing.T) {
	queries := dashboardQueries(t)
	require.GreaterOrEqual(t, len(queries), 20)
	have := exportedMetrics(t)
	var missing []string
	for title, exprs := range queries {
		for _, e := range exprs {
			for _, name := range unknownMetrics(e, have) {
				missing = append(missing, title+": "+name)
			}
		}
	}
	logExported(t, missing, have)
	assert.Empty(t, missing, "the dashboard queries metrics the appliance does not export")
}

// dashboardTopics is what an operator reads off the dashboard, each with
// the metrics a panel must query for it: issue 9's list, and the WireGuard
// hub that `interdict run` is by default.
var dashboardTopics = []struct {
	topic   string
	metrics []string
}{
	{"flows", []string{"interdict_netstack_flows_active", "interdict_netstack_flows_total"}},
	{"throughput", []string{"interdict_netstack_bytes_total"}},
	{"alerts by sid and action", []string{"interdict_enforce_alerts_total"}},
	{"resets and blackholes", []string{"interdict_enforce_verdicts_total"}},
	{"blocked sources", []string{"interdict_policy_blocked_sources"}},
	{"quarantined and paused identities", []string{"interdict_identity_quarantined", "interdict_identity_paused"}},
	{"inspection latency", []string{"interdict_enforce_inspect_seconds_bucket"}},
	{"match-to-verdict latency", []string{"interdict_enforce_match_verdict_seconds_bucket"}},
	{"SYN pressure", []string{"interdict_netstack_syn_dropped_total"}},
	{"flow-table pressure", []string{"interdict_netstack_flows_refused_total"}},
	{"rules loaded", []string{"interdict_rules_loaded"}},
	{"reload results", []string{"interdict_rules_reloads_total"}},
	{"WireGuard peers", []string{"interdict_wireguard_peers", "interdict_wireguard_peers_active"}},
	{"WireGuard handshakes rejected", []string{"interdict_wireguard_handshakes_rejected_total"}},
}

// TestGrafanaDashboardCoversTopics: every topic has a panel that queries
// its metrics.
func TestGrafanaDashboardCoversTopics(t *testing.T) {
	queried := map[string]bool{}
	for _, exprs := range dashboardQueries(t) {
		for _, e := range exprs {
			for _, name := range metricName.FindAllString(e, -1) {
				queried[name] = true
			}
		}
	}
	for _, tc := range dashboardTopics {
		for _, m := range tc.metrics {
			assert.True(t, queried[m], "%s: no panel queries %s", tc.topic, m)
		}
	}
}

// TestPromtoolCheckRules runs Prometheus's own checker over the alert
// rules shipped in configs/prometheus.
func TestPromtoolCheckRules(t *testing.T) {
	testenv.RequireTools(t, "promtool")
	path := filepath.Join(t.TempDir(), "alerts.yaml")
	require.NoError(t, os.WriteFile(path, configs.PrometheusAlerts, 0o600))
	out, err := exec.Command("promtool", "check", "rules", path).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "SUCCESS")
}

// TestPrometheusScrapesAppliance starts a real Prometheus (Debian's
// package) that scrapes a running appliance every second and loads the
// alert rules. After known traffic (three flows that match the alert
// rule sid 1003) the query over the alerts counter returns 3; every
// dashboard query and every alert rule evaluates without error against
// the live data.
func TestPrometheusScrapesAppliance(t *testing.T) {
	testenv.RequireTools(t, "prometheus")
	metricsAddr := freePort(t)
	fx := newFixture(t, "metrics:\n  listen: "+metricsAddr+"\n")
	fx.serve(t)
	const alerts = 3
	for i := range alerts {
		// Not HTTP: the echo server's answer is no status line, which
		// the default policy refuses after an HTTP request.
		out, err := fx.exchange(t, fmt.Sprintf("x%d ALERTME", i))
		require.NoError(t, err)
		require.Contains(t, out, "ALERTME", "an alert rule forwards the bytes")
	}

	dir := t.TempDir()
	rules := filepath.Join(dir, "alerts.yaml")
	require.NoError(t, os.WriteFile(rules, configs.PrometheusAlerts, 0o600))
	cfg, err := yaml.Dump(map[string]any{
		"global":     map[string]any{"scrape_interval": "1s", "evaluation_interval": "1s"},
		"rule_files": []string{rules},
		"scrape_configs": []any{map[string]any{
			"job_name":       "interdict",
			"static_configs": []any{map[string]any{"targets": []string{metricsAddr}}},
		}},
	})
	require.NoError(t, err)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(cfgPath, cfg, 0o600))
	promAddr := freePort(t)
	cmd := exec.Command("prometheus", "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus: %s", logs.String())
		}
	})

	base := "http://" + promAddr
	c := &http.Client{Timeout: 5 * time.Second}
	query := func(q string) (string, []struct {
		Value []any `json:"value"`
	}, error) {
		resp, err := c.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return "", nil, err
		}
		defer resp.Body.Close()
		var r struct {
			Status string `json:"status"`
			Error  string `json:"error"`
			Data   struct {
				Result []struct {
					Value []any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			return "", nil, err
		}
		if r.Status != "success" {
			return r.Status, nil, fmt.Errorf("%s: %s", q, r.Error)
		}
		return r.Status, r.Data.Result, nil
	}

	counter := `sum(interdict_enforce_alerts_total{job="interdict", sid="1003", action="allowed"})`
	var got float64
	require.Eventually(t, func() bool {
		_, res, err := query(counter)
		if err != nil || len(res) != 1 || len(res[0].Value) != 2 {
			return false
		}
		s, _ := res[0].Value[1].(string)
		got, _ = strconv.ParseFloat(s, 64)
		return got == alerts
	}, 30*time.Second, 250*time.Millisecond, "Prometheus reads the alerts counter from the appliance (last value %v)", got)

	// up is 1 and the scrape is the appliance's /metrics.
	_, res, err := query(`up{job="interdict"}`)
	require.NoError(t, err)
	require.Len(t, res, 1)
	assert.Equal(t, "1", res[0].Value[1])

	// Every dashboard query parses and evaluates on the live data, with
	// Grafana's variables as Grafana would substitute them.
	sub := strings.NewReplacer("$__rate_interval", "1m", "$__range", "5m", "$instance", ".*", "$max_flows", "65536")
	for title, exprs := range dashboardQueries(t) {
		for _, e := range exprs {
			_, _, err := query(sub.Replace(e))
			assert.NoError(t, err, title)
		}
	}

	// The alert rules loaded and evaluate without error.
	require.Eventually(t, func() bool {
		resp, err := c.Get(base + "/api/v1/rules")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Groups []struct {
					Rules []struct {
						Name   string `json:"name"`
						Health string `json:"health"`
					} `json:"rules"`
				} `json:"groups"`
			} `json:"data"`
		}
		if json.NewDecoder(resp.Body).Decode(&r) != nil || len(r.Data.Groups) == 0 {
			return false
		}
		for _, g := range r.Data.Groups {
			for _, rule := range g.Rules {
				if rule.Health != "ok" {
					return false
				}
			}
		}
		return len(r.Data.Groups[0].Rules) > 5
	}, 15*time.Second, 250*time.Millisecond, "every alert rule evaluates (health ok)")
}

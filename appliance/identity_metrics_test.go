package appliance

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

// The per-identity series name at most the bound of identities (first
// come, by name) and sum the rest under "other"; a removed identity frees
// its label for the next one.
func TestIdentityMetricsBounded(t *testing.T) {
	fx := newFixture(t, `identities:
  - {name: runner-a, prefixes: [10.0.0.2/32]}
  - {name: runner-b, prefixes: [10.0.0.3/32]}
  - {name: runner-c, prefixes: [10.0.0.4/32]}
  - {name: runner-d, prefixes: [10.0.0.5/32]}
`)
	fx.liveFlow(t) // from 10.0.0.2: runner-a
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(newIdentityCollector(fx.a, 2)))
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP interdict_identity_flows_active Live flows per identity (at most 1,000 identity labels, then "other").
# TYPE interdict_identity_flows_active gauge
interdict_identity_flows_active{identity="other"} 0
interdict_identity_flows_active{identity="runner-a"} 1
interdict_identity_flows_active{identity="runner-b"} 0
`), "interdict_identity_flows_active"))

	// runner-b goes; runner-c takes its label, runner-d stays "other".
	require.NoError(t, fx.a.idents.Replace("config", configEntries(removeIdentity(fx.a.s.Identities, "runner-b"))))
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP interdict_identity_flows_active Live flows per identity (at most 1,000 identity labels, then "other").
# TYPE interdict_identity_flows_active gauge
interdict_identity_flows_active{identity="other"} 0
interdict_identity_flows_active{identity="runner-a"} 1
interdict_identity_flows_active{identity="runner-c"} 0
`), "interdict_identity_flows_active"))
}

func removeIdentity(list []Identity, name string) []Identity {
	var out []Identity
	for _, s := range list {
		if s.Name != name {
			out = append(out, s)
		}
	}
	return out
}

package main

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/interdict/interdict/appliance/identity"
	"github.com/interdict/interdict/appliance/state"
)

func TestPolicySuggest(t *testing.T) {
	dir := t.TempDir()
	st, err := state.Open(dir)
	require.NoError(t, err)
	now := time.Now()
	put := func(obs identity.Observations) {
		b, err := json.Marshal(obs)
		require.NoError(t, err)
		require.NoError(t, st.Put("observations", obs.Identity, b))
	}
	put(identity.Observations{Identity: "runner-a", Tags: []string{"ci"}, List: []identity.Observation{
		{To: "api.github.example", Port: 443, Proto: "tcp", Count: 3, First: now, Last: now},
		{To: "10.99.0.7", Port: 5432, Proto: "tcp", Count: 1, First: now, Last: now},
		{To: "old.example.org", Port: 443, Proto: "tcp", Count: 1, First: now.Add(-72 * time.Hour), Last: now.Add(-72 * time.Hour)},
	}})
	put(identity.Observations{Identity: "runner-b", Tags: []string{"ci"}, List: []identity.Observation{
		{To: "registry.example.org", Port: 443, Proto: "tcp", Method: "GET", Path: "/v2/", Count: 9, First: now, Last: now},
	}})

	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		app := newApp()
		app.Writer, app.ErrWriter = &out, &out
		app.ExitErrHandler = func(*cli.Context, error) {}
		err := app.Run(append([]string{"interdict", "policy", "suggest", "--state-dir", dir}, args...))
		return out.String(), err
	}
	out, err := run("--since", "24h", "runner-a")
	require.NoError(t, err)
	assert.Equal(t, `policies:
  - name: suggested-runner-a
    identities: [runner-a]
    default: deny
    allow:
      - {to: "10.99.0.7/32", ports: [5432], proto: tcp}
      - {to: "api.github.example", ports: [443], proto: tcp}
`, out)
	out, err = run("--tag", "ci")
	require.NoError(t, err)
	assert.Contains(t, out, "    tags: [ci]\n")
	assert.Contains(t, out, `{to: "old.example.org", ports: [443], proto: tcp}`, "without --since everything counts")
	assert.Contains(t, out, `{to: "registry.example.org", ports: [443], proto: tcp, methods: [GET], paths: ["/v2/"]}`)
	_, err = run("ghost")
	assert.ErrorContains(t, err, "no observations for ghost")
}

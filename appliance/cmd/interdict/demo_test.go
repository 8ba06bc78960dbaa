package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// The demo passes the benign request, resets the exploit and the leaked
// key before the server sees a byte of them, names the runner on each,
// quarantines the scanning runner while the other goes on, and leaves no
// temporary directory and no goroutine behind.
func TestDemo(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	rep, err := runDemo(context.Background())
	require.NoError(t, err)
	require.Len(t, rep.Scenes, 5)
	byName := map[string]demoResult{}
	for _, s := range rep.Scenes {
		byName[s.Name] = s
		if s.Name != "port-scan" {
			assert.Equal(t, "demo-runner", s.Identity, s.Name)
		}
	}
	assert.Equal(t, "passed", byName["benign"].Verdict)
	assert.Equal(t, 200, byName["benign"].HTTPStatus)
	assert.Positive(t, byName["benign"].ServerBytes)
	assert.Equal(t, "reset", byName["exploit"].Verdict)
	assert.Equal(t, 9100001, byName["exploit"].SID)
	assert.Zero(t, byName["exploit"].ServerBytes)
	assert.Equal(t, "reset", byName["secret"].Verdict)
	assert.Contains(t, byName["secret"].Rule, "AWS access key")
	assert.Zero(t, byName["secret"].ServerBytes)
	// The scanner is quarantined by the port-scan trigger and its other
	// open flow is reset; the first runner still gets its page afterwards.
	scan := byName["port-scan"]
	assert.Equal(t, "quarantine", scan.Verdict)
	assert.Equal(t, "port-scan", scan.Trigger)
	assert.Equal(t, "demo-scanner", scan.Identity)
	assert.Equal(t, "reset", scan.OpenFlow)
	assert.True(t, scan.OK)
	other := byName["other-runner"]
	assert.Equal(t, "passed", other.Verdict)
	assert.Equal(t, 200, other.HTTPStatus)
	assert.Positive(t, other.ServerBytes)
	assert.True(t, rep.OK)
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, left, "the demo removes its directory")

	var out bytes.Buffer
	app := newApp()
	app.Writer = &out
	require.NoError(t, app.Run([]string{"interdict", "demo", "--json"}))
	var got demoReport
	require.NoError(t, json.Unmarshal(out.Bytes(), &got))
	assert.True(t, got.OK)
	require.Len(t, got.Scenes, 5)
	assert.Equal(t, "port-scan", got.Scenes[3].Trigger)
	left, err = os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, left)
}

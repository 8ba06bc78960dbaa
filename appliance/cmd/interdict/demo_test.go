package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The demo passes the benign request, drops the exploit and the leaked
// key before the server sees a byte of them, names the runner on each,
// and leaves no temporary directory behind.
func TestDemo(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	rep, err := runDemo(context.Background())
	require.NoError(t, err)
	require.Len(t, rep.Scenes, 3)
	byName := map[string]demoResult{}
	for _, s := range rep.Scenes {
		byName[s.Name] = s
		assert.Equal(t, "demo-runner", s.Identity, s.Name)
	}
	assert.Equal(t, "passed", byName["benign"].Verdict)
	assert.Equal(t, 200, byName["benign"].HTTPStatus)
	assert.Positive(t, byName["benign"].ServerBytes)
	assert.Equal(t, "dropped", byName["exploit"].Verdict)
	assert.Equal(t, 9100001, byName["exploit"].SID)
	assert.Zero(t, byName["exploit"].ServerBytes)
	assert.Equal(t, "dropped", byName["secret"].Verdict)
	assert.Contains(t, byName["secret"].Rule, "AWS access key")
	assert.Zero(t, byName["secret"].ServerBytes)
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
	left, err = os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, left)
}

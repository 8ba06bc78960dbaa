package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/interdict/interdict/tests/testenv"
)

func runRules(t *testing.T, args ...string) (string, error) {
	var out bytes.Buffer
	app := &cli.App{Name: "interdict", Writer: &out, ErrWriter: &out, Commands: []*cli.Command{rulesCommand()},
		ExitErrHandler: func(*cli.Context, error) {}}
	err := app.Run(append([]string{"interdict", "rules"}, args...))
	return out.String(), err
}

func TestRulesCheck(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.rules")
	require.NoError(t, os.WriteFile(p, []byte(`# comment
alert tcp any any -> any any (msg:"ok"; content:"x"; sid:1;)
#alert tcp any any -> any any (msg:"disabled"; content:"x"; sid:2;)
alert tcp any any -> any any (msg:"bad"; \
  content:"x"; foo_bar; sid:3;)
alert tcp $NOPE any -> any any (msg:"var"; sid:4;)
`), 0o600))
	out, err := runRules(t, "check", p)
	require.Error(t, err, "rejections fail without --allow-partial")
	assert.Contains(t, out, p+": 1 loaded, 2 rejected")
	assert.Contains(t, out, p+":4: sid 3: unsupported keyword foo_bar")
	assert.Contains(t, out, p+":6: sid 4: source address: unknown variable $NOPE")
	_, err = runRules(t, "check", "--allow-partial", p)
	require.NoError(t, err)
	out, err = runRules(t, "check", "--var", "NOPE=10.0.0.0/8", p)
	require.Error(t, err)
	assert.Contains(t, out, "2 loaded, 1 rejected")
	assert.Contains(t, out, "rejected by reason:\n      1  unsupported keyword foo_bar\n")

	ok := filepath.Join(dir, "ok.rules")
	require.NoError(t, os.WriteFile(ok, []byte("alert tcp any any -> any any (msg:\"ok\"; content:\"x\"; sid:1;)\n"), 0o600))
	out, err = runRules(t, "check", ok)
	require.NoError(t, err)
	assert.Equal(t, ok+": 1 loaded, 0 rejected\n\ntotal: 1 enabled rules, 1 loaded (100.00%), 0 rejected\n", out,
		"a clean file: no empty \"rejected by reason\" heading")
}

func TestRulesETOpen(t *testing.T) {
	et := testenv.ETOpenDir(t)
	files, _ := filepath.Glob(filepath.Join(et, "*.rules"))
	args := append([]string{"check", "--allow-partial", "--classification", filepath.Join(et, "classification.config")}, files...)
	out, err := runRules(t, args...)
	require.NoError(t, err)
	i := strings.Index(out, "rejected by reason:")
	require.Positive(t, i)
	t.Log(out[i:])
	out, err = runRules(t, append([]string{"stats"}, files...)...)
	require.NoError(t, err)
	assert.Contains(t, out, "prefilter groups")
	if testing.Verbose() {
		t.Log(out)
	}
}

// TestRulesCheckAsRun: without flags, rules check refuses an unknown
// classtype as run does under the default config (the default pack's
// classification.config); --config uses exactly a config's rule settings.
func TestRulesCheckAsRun(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.rules")
	require.NoError(t, os.WriteFile(p, []byte(`alert tcp any any -> any any (msg:"c"; content:"x"; classtype:site-specific-class; sid:1;)
alert tcp any any -> any any (msg:"d"; content:"y"; sid:1;)
`), 0o600))
	out, err := runRules(t, "check", p)
	require.Error(t, err)
	assert.Contains(t, out, p+`:1: sid 1: unknown classtype "site-specific-class"`)

	cls := filepath.Join(dir, "classification.config")
	require.NoError(t, os.WriteFile(cls, []byte("config classification: site-specific-class,Local,2\n"), 0o600))
	cfg := filepath.Join(dir, "interdict.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("rules:\n  default_pack: false\n  classification: "+cls+"\n  files: ["+p+"]\n"), 0o600))
	out, err = runRules(t, "check", "--config", cfg)
	require.Error(t, err, "the duplicate sid is still refused")
	assert.Contains(t, out, p+": 1 loaded, 1 rejected")
	assert.Contains(t, out, p+":2: sid 1: duplicate sid 1 (first at "+p+":1)")
}

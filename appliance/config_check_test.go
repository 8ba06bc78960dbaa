package appliance

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// `config check` reports every mistake of a file, each at its own line
// with the dotted key, not only the first; and a rule file that `run`
// could not open is an error before `run` finds it.
func TestCheckConfigReportsEveryError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`lmits:
  x: 1
limits:
  max_flow: 3
  dial_timeout: soon
mode: bogus
identities:
  - {name: a, prefixes: [10.1.0/16]}
  - {name: b, prefixes: [10.2.0.0/16], mode: x}
rules:
  files: [missing.rules]
log: {level: loud}
`), 0o600))
	var got []string
	for _, err := range CheckConfig(path) {
		got = append(got, err.Error())
	}
	missing := filepath.Join(dir, "missing.rules")
	assert.Equal(t, []string{
		"config: " + path + ":1: lmits: unknown key (did you mean limits?)",
		"config: " + path + ":4: limits.max_flow: unknown key (did you mean max_flows?)",
		"config: " + path + `:5: limits.dial_timeout: invalid duration "soon" (use e.g. 30s, 5m)`,
		"config: " + path + `:6: mode: "bogus" not supported (want ips or ids)`,
		"config: " + path + `:8: identities.0.prefixes: invalid prefix "10.1.0/16" (want address/bits, e.g. 10.0.1.0/24)`,
		"config: " + path + `:9: identities.1.mode: "x" not supported (want ips or ids)`,
		"config: " + path + ":11: rules.files.0: " + missing + ": no such file or directory",
		"config: " + path + `:12: log.level: "loud" not supported (want debug, info, warn or error)`,
	}, got)

	// The same file with the mistakes fixed checks clean once the rule
	// file exists.
	require.NoError(t, os.WriteFile(missing, []byte(testRules), 0o600))
	require.NoError(t, os.WriteFile(path, []byte("rules:\n  files: [missing.rules]\n"), 0o600))
	assert.Empty(t, CheckConfig(path))
	assert.Empty(t, CheckConfig(""), "the embedded default is valid")
}

// A config with no document (only comments) changes nothing; it is not
// a parse error.
func TestCommentOnlyConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte("# nothing to change yet\n"), 0o600))
	_, err := LoadConfig(path)
	require.NoError(t, err)
	assert.Empty(t, CheckConfig(path))
}

// LoadConfig's decode errors are ConfigErrors naming the key, so a
// program can tell which key is wrong.
func TestConfigErrorKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte("metrics:\n  lisen: x\n"), 0o600))
	_, err := LoadConfig(path)
	var ce *ConfigError
	require.True(t, errors.As(err, &ce), "%v", err)
	assert.Equal(t, "metrics.lisen", ce.Key)
	assert.Equal(t, 2, ce.Line)
	assert.Equal(t, "unknown key (did you mean listen?)", ce.Msg)
}

func TestNearestKey(t *testing.T) {
	keys := []string{"max_flows", "max_udp_sessions", "syn_in_flight", "tcp_idle"}
	for in, want := range map[string]string{
		"max_flow": "max_flows", "tcp_idel": "tcp_idle", "syn_inflight": "syn_in_flight", "colour": "",
	} {
		assert.Equal(t, want, nearest(in, keys), in)
	}
}

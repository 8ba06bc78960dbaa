package images

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v4"

	"github.com/interdict/interdict/appliance"
	"github.com/interdict/interdict/tunnel/wg"
)

// checkApplianceConfig validates a config file shipped inside a
// deployment recipe with the appliance's own checker. files are the
// other files the recipe puts beside it (absolute path: content); they
// are written under a temporary root, and the config's absolute paths
// are moved under it too, so references to them are checked.
func checkApplianceConfig(t *testing.T, where, config string, files map[string]string) {
	t.Helper()
	root := t.TempDir()
	for path, content := range files {
		p := filepath.Join(root, path)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	config = strings.ReplaceAll(config, " /etc/interdict/", " "+root+"/etc/interdict/")
	config = strings.ReplaceAll(config, "[/etc/interdict/", "["+root+"/etc/interdict/")
	p := filepath.Join(root, "config.yaml")
	require.NoError(t, os.WriteFile(p, []byte(config), 0o644))
	for _, err := range appliance.CheckConfig(p) {
		t.Errorf("%s: %v", where, err)
	}
}

// TestKubernetesConfigs validates the appliance config of every
// ConfigMap in images/kubernetes with the appliance's loader (the
// Kubernetes objects themselves are checked by the module
// images/kubernetes/check), with the ConfigMap's other keys mounted where
// the pods mount them.
func TestKubernetesConfigs(t *testing.T) {
	files, err := filepath.Glob("kubernetes/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	// The hub's Deployment hands its key in from the Secret through this
	// variable (link.wireguard.private_key_env); any valid key stands in.
	key, err := wg.GenerateKey()
	require.NoError(t, err)
	t.Setenv("INTERDICT_WG_PRIVATE_KEY", key.String())
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		dec, err := yaml.NewLoader(bytes.NewReader(data))
		require.NoError(t, err)
		for {
			var doc struct {
				Kind string            `yaml:"kind"`
				Data map[string]string `yaml:"data"`
			}
			err := dec.Load(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err, f)
			cfg, ok := doc.Data["config.yaml"]
			if doc.Kind != "ConfigMap" || !ok {
				continue
			}
			mounted := map[string]string{}
			if rules, ok := doc.Data["local.rules"]; ok {
				mounted["/etc/interdict/rules/local.rules"] = rules
			}
			checkApplianceConfig(t, f, cfg, mounted)
			n++
		}
	}
	assert.Equal(t, 3, n, "the hub's, the fleet's and the TUN DaemonSet's configs")
}

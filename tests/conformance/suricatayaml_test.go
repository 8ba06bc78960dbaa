package conformance

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadSuricataYAMLDropFlows(t *testing.T) {
	cases := []struct {
		name, yaml string
		start      bool
	}{
		{"no drop output", "%YAML 1.1\n---\noutputs:\n  - eve-log:\n      types:\n        - alert\n", false},
		{"drop without flows: Suricata's default", "%YAML 1.1\n---\noutputs:\n  - eve-log:\n      types:\n        - alert\n        - drop\n", true},
		{"drop: with no options", "%YAML 1.1\n---\noutputs:\n  - eve-log:\n      types:\n        - drop:\n", true},
		{"flows: start", "%YAML 1.1\n---\noutputs:\n  - eve-log:\n      types:\n        - drop:\n            flows: start\n", true},
		{"flows: all", "%YAML 1.1\n---\noutputs:\n  - eve-log:\n      types:\n        - drop:\n            alerts: yes\n            flows: all\n  - stats:\n      enabled: yes\n", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "suricata.yaml"), []byte(tc.yaml), 0o644))
			var o RunOpts
			require.NoError(t, o.readSuricataYAML(dir))
			assert.Equal(t, tc.start, o.DropStart)
		})
	}
}

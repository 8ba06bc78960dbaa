package appliance

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/appliance/enforce"
	"github.com/interdict/interdict/inspect/prefilter"
)

// The "rules compiled" line names the engine rules.prefilter resolved to:
// the only place a running appliance says whether it scans with Hyperscan.
func TestRulesCompiledLogNamesPrefilter(t *testing.T) {
	for _, tc := range []struct {
		engine prefilter.Builder
		want   string
	}{
		{nil, "prefilter=fdr "},
		{prefilter.NewAC, "prefilter=ac "},
	} {
		s, err := LoadConfig("")
		require.NoError(t, err)
		s.Rules.Prefilter = tc.engine
		var buf bytes.Buffer
		_, err = NewDetection(s.Rules, enforce.Config{}, slog.New(slog.NewTextHandler(&buf, nil)))
		require.NoError(t, err)
		assert.Contains(t, buf.String(), `msg="rules compiled"`)
		assert.Contains(t, buf.String(), tc.want)
	}
}

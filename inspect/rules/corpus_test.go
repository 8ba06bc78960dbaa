package rules

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/tests/testenv"
)

// countEnabled counts rule lines that are not comments, continuing lines
// ending in a backslash, as Load does.
func countEnabled(t testing.TB, files []string) int {
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		cont := false
		for _, l := range strings.Split(string(b), "\n") {
			t := strings.TrimSpace(l)
			if !cont && (t == "" || strings.HasPrefix(t, "#")) {
				continue
			}
			if !cont {
				n++
			}
			cont = strings.HasSuffix(l, "\\")
		}
	}
	return n
}

func etFiles(t testing.TB) []string {
	etDir := testenv.ETOpenDir(t)
	files, err := filepath.Glob(filepath.Join(etDir, "*.rules"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	return files
}

func TestETOpenLoadRatio(t *testing.T) {
	files := etFiles(t)
	cf, err := os.Open(filepath.Join(testenv.ETOpenDir(t), "classification.config"))
	require.NoError(t, err)
	defer cf.Close()
	classes, err := LoadClassification(cf, "classification.config")
	require.NoError(t, err)
	set, err := LoadFiles(files, &Options{Classification: classes})
	require.NoError(t, err)
	enabled := countEnabled(t, files)
	require.Equal(t, enabled, len(set.Rules)+len(set.Errors), "every enabled rule is either loaded or rejected")
	ratio := float64(len(set.Rules)) / float64(enabled)
	byReason := map[string]int{}
	for _, e := range set.Errors {
		require.NotEmpty(t, e.File)
		require.Positive(t, e.Line)
		byReason[e.Reason]++
	}
	type rc struct {
		r string
		n int
	}
	var rcs []rc
	for r, n := range byReason {
		rcs = append(rcs, rc{r, n})
	}
	sort.Slice(rcs, func(i, j int) bool { return rcs[i].n > rcs[j].n })
	for i, x := range rcs {
		if i > 25 {
			break
		}
		t.Logf("%6d %s", x.n, x.r)
	}
	t.Logf("loaded %d of %d enabled rules (%.2f%%), rejected %d", len(set.Rules), enabled, 100*ratio, len(set.Errors))
	require.GreaterOrEqual(t, ratio, 0.995, "ET Open with its classification.config: goal 99.5%% of enabled rules")
}

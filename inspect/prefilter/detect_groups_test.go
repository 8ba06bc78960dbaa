package prefilter_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/interdict/interdict/inspect/detect"
	"github.com/interdict/interdict/inspect/prefilter"
	"github.com/interdict/interdict/inspect/rules"
	"github.com/interdict/interdict/tests/testenv"
)

func init() { prefilter.LoadDetectGroups = loadDetectGroups }

// loadDetectGroups loads the enabled ET Open rules and compiles them with
// detect, recording the pattern set of every group instead of building a
// matcher for it: these are exactly the fast patterns (explicit
// fast_pattern, else the longest content) detect hands to a prefilter.
func loadDetectGroups(tb testing.TB) []prefilter.FastPatternGroup {
	tb.Helper()
	etOpenDir := testenv.ETOpenDir(tb)
	files, err := filepath.Glob(filepath.Join(etOpenDir, "*.rules"))
	if err != nil || len(files) == 0 {
		testenv.SkipOrFail(tb, "no ET Open rule files")
	}
	cf, err := os.Open(filepath.Join(etOpenDir, "classification.config"))
	if err != nil {
		tb.Fatal(err)
	}
	defer cf.Close()
	classes, err := rules.LoadClassification(cf, "classification.config")
	if err != nil {
		tb.Fatal(err)
	}
	set, err := rules.LoadFiles(files, &rules.Options{Classification: classes})
	if err != nil {
		tb.Fatal(err)
	}
	var sets [][]prefilter.Pattern
	record := func(ps []prefilter.Pattern) (prefilter.Matcher, error) {
		sets = append(sets, append([]prefilter.Pattern(nil), ps...))
		return recorded{n: len(ps), idx: len(sets) - 1}, nil
	}
	e, err := detect.New(set.Rules, detect.Options{Prefilter: record})
	if err != nil {
		tb.Fatal(err)
	}
	var out []prefilter.FastPatternGroup
	for _, g := range e.Groups() {
		var idx int
		if _, err := fmt.Sscanf(g.Engine, "recorded#%d", &idx); err == nil {
			out = append(out, prefilter.FastPatternGroup{Name: g.Name, Patterns: sets[idx]})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].Patterns) > len(out[j].Patterns) })
	return out
}

// recorded stands in for a matcher while detect.New runs; its name tells
// which recorded set belongs to which group.
type recorded struct{ n, idx int }

func (r recorded) NewStream() prefilter.Stream { return nil }
func (r recorded) Patterns() int               { return r.n }
func (r recorded) Name() string                { return fmt.Sprintf("recorded#%d", r.idx) }

package prefilter

import "testing"

// FastPatternGroup is one prefilter group as inspect/detect compiles it:
// the group's name and the fast pattern of each of its rules.
type FastPatternGroup struct {
	Name     string
	Patterns []Pattern
}

// LoadDetectGroups is set by the external test package (detect imports
// prefilter, so only prefilter_test may import detect): it loads ET Open
// and returns the fast-pattern groups detect would compile, so the
// benchmarks measure the sets the engine really builds.
var LoadDetectGroups func(tb testing.TB) []FastPatternGroup

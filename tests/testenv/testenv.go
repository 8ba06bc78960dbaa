// Package testenv decides whether a test that needs privileges or tools
// can run here. Locally such a test skips with the reason; in CI (CI=true)
// the same condition fails the test, because CI runs as root with every
// tool installed and a skip there would hide a broken check.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true).
func InCI() bool { return os.Getenv("CI") == "true" }

// SkipOrFail skips the test locally and fails it in CI.
func SkipOrFail(t testing.TB, reason string) {
	t.Helper()
	if InCI() {
		t.Fatalf("cannot run in CI: %s (CI=true turns this skip into a failure)", reason)
	}
	t.Skip(reason)
}

// RequireRoot skips (or fails in CI) unless the test runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		SkipOrFail(t, "needs root (TUN devices, network namespaces)")
	}
}

// RequireTools skips (or fails in CI) unless every named program is on PATH.
func RequireTools(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			SkipOrFail(t, "needs "+tool+" on PATH")
		}
	}
}

// RequireFile skips (or fails in CI) unless path exists; for the shared
// corpus, which lives beside the repository and not in it.
func RequireFile(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		SkipOrFail(t, "needs "+path+": "+err.Error())
	}
}

// Package testenv decides whether a test that needs privileges or tools
// can run here. Locally such a test skips with the reason; in CI (CI=true)
// the same condition fails the test, because CI runs as root with every
// tool installed and a skip there would hide a broken check.
package testenv

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
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

// CorpusDir is the shared test corpus (ET Open rules, suricata-verify
// cases): $INTERDICT_CORPUS if set, else shared/corpus beside the
// repository (<repo>/../shared/corpus), which is where CI puts it. It
// skips (or fails in CI) when the corpus is not there.
func CorpusDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("INTERDICT_CORPUS")
	if dir == "" {
		root, err := repoRoot()
		if err != nil {
			SkipOrFail(t, "corpus: "+err.Error())
		}
		dir = filepath.Join(filepath.Dir(root), "shared", "corpus")
	}
	RequireFile(t, dir)
	return dir
}

// ETOpenDir is the ET Open rule set in the corpus.
func ETOpenDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(CorpusDir(t), "et-open")
	RequireFile(t, filepath.Join(dir, "classification.config"))
	return dir
}

// repoRoot walks up from the working directory (a test runs in its
// package's directory) to the directory holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Generated compares a generated file with the committed one at path
// (relative to the repository root) and fails with how to regenerate it
// when they differ; with UPDATE_DOCS=1 (`make docs`) it writes the file
// instead. It keeps generated documents from drifting from the code.
func Generated(t testing.TB, path string, got []byte) {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(root, path)
	if os.Getenv("UPDATE_DOCS") == "1" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: run `make docs` to generate it", err)
	}
	if !bytes.Equal(want, got) {
		t.Fatalf("%s is stale: run `make docs` and commit the result", path)
	}
}

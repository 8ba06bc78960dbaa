package images

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// repoRoot is the repository, one level up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	return root
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binOut  []byte
)

// staticBinary builds the interdict binary once for every test of this
// package, as `make build` does (static, CGO_ENABLED=0): the package, the
// image and the rootfs checks all run that one file.
func staticBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "interdict-images-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "interdict")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=images-test",
			"-o", binPath, "./appliance/cmd/interdict")
		cmd.Dir = repoRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		binOut, binErr = cmd.CombinedOutput()
	})
	require.NoError(t, binErr, "%s", binOut)
	return binPath
}

// TestMain removes the shared binary after the package's tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// run runs a command and fails the test with its output if it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	require.NoError(t, err, "%s %v:\n%s", name, args, out)
	return string(out)
}

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

// builtBinary is an interdict binary built once for every test of this
// package.
type builtBinary struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

var (
	binDir       string
	binDirErr    error
	binDirOnce   sync.Once
	staticBin    builtBinary
	hyperscanBin builtBinary
)

// build builds ./appliance/cmd/interdict as name with CGO_ENABLED=cgo and
// the extra go build arguments, once.
func (b *builtBinary) build(t *testing.T, name, cgo string, args ...string) string {
	t.Helper()
	b.once.Do(func() {
		binDirOnce.Do(func() { binDir, binDirErr = os.MkdirTemp("", "interdict-images-bin") })
		if b.err = binDirErr; b.err != nil {
			return
		}
		b.path = filepath.Join(binDir, name)
		cmd := exec.Command("go", append(append([]string{"build", "-trimpath"}, args...), "-o", b.path, "./appliance/cmd/interdict")...)
		cmd.Dir = repoRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+cgo)
		b.out, b.err = cmd.CombinedOutput()
	})
	require.NoError(t, b.err, "%s", b.out)
	return b.path
}

// staticBinary builds the interdict binary as `make build` does (static,
// CGO_ENABLED=0): the package, the image and the rootfs checks all run
// that one file.
func staticBinary(t *testing.T) string {
	t.Helper()
	return staticBin.build(t, "interdict", "0", "-ldflags", "-s -w -X main.version=images-test")
}

// hyperscanBinary builds the Hyperscan variant's binary as `make
// image-hyperscan` does: cgo with Debian's libhs.a, linked statically.
func hyperscanBinary(t *testing.T) string {
	t.Helper()
	return hyperscanBin.build(t, "interdict-hyperscan", "1", "-tags", "hyperscan,netgo,osusergo",
		"-ldflags", "-s -w -X main.version=images-test -linkmode external -extldflags -static")
}

// TestMain removes the shared binaries after the package's tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
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

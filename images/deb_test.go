//go:build linux

package images

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/tests/testenv"
)

// throwawayRoot makes a root file system just big enough for dpkg --root:
// an empty package database and a /bin/sh (with rm) for the maintainer
// scripts, copied from the host with the libraries they load.
func throwawayRoot(t *testing.T) string {
	t.Helper()
	r := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "bin"} {
		require.NoError(t, os.MkdirAll(filepath.Join(r, d), 0o755))
	}
	for _, f := range []string{"var/lib/dpkg/status", "var/lib/dpkg/available"} {
		require.NoError(t, os.WriteFile(filepath.Join(r, f), nil, 0o644))
	}
	copyFile := func(src, dst string) {
		b, err := os.ReadFile(src)
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		require.NoError(t, os.WriteFile(dst, b, 0o755))
	}
	for prog, dst := range map[string]string{"/bin/dash": "bin/sh", "/bin/rm": "bin/rm"} {
		copyFile(prog, filepath.Join(r, dst))
		out := run(t, "ldd", prog)
		for _, lib := range regexp.MustCompile(`(/\S+\.so[.0-9]*)`).FindAllString(out, -1) {
			copyFile(lib, filepath.Join(r, lib))
		}
	}
	return r
}

// TestDebInstallsAndRuns builds the package with images/deb/build.sh
// (what `make deb` runs), installs it with dpkg into a throwaway root,
// runs the installed binary there as root and as nobody, verifies the
// installed unit with systemd-analyze (with and without the TUN drop-in)
// and holds its exposure score, then purges the package.
func TestDebInstallsAndRuns(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "dpkg-deb", "dpkg", "chroot", "ldd", "systemd-analyze")
	bin := staticBinary(t)
	out := t.TempDir()
	deb := strings.TrimSpace(run(t, "sh", filepath.Join(repoRoot(t), "images/deb/build.sh"), bin, out, "1.2.3"))
	require.FileExists(t, deb)
	fi, err := os.Stat(deb)
	require.NoError(t, err)
	t.Logf("%s: %d bytes", filepath.Base(deb), fi.Size())

	info := run(t, "dpkg-deb", "--field", deb, "Package", "Version")
	assert.Contains(t, info, "Package: interdict")
	assert.Contains(t, info, "Version: 1.2.3")

	r := throwawayRoot(t)
	run(t, "dpkg", "--root="+r, "-i", deb)
	assert.Contains(t, run(t, "dpkg", "--root="+r, "-l", "interdict"), "ii  interdict")
	for _, f := range []string{"usr/bin/interdict", "lib/systemd/system/interdict.service", "etc/interdict/config.yaml",
		"etc/logrotate.d/interdict", "usr/share/interdict/systemd/tun.conf", "usr/share/doc/interdict/docs/configuration.md"} {
		assert.FileExists(t, filepath.Join(r, f))
	}
	conf := run(t, "dpkg-query", "--admindir="+filepath.Join(r, "var/lib/dpkg"), "-W", "-f=${Conffiles}", "interdict")
	assert.Contains(t, conf, "/etc/interdict/config.yaml")
	assert.Contains(t, conf, "/etc/logrotate.d/interdict")

	// The installed binary runs in the root, as root and as an
	// unprivileged user (the service's DynamicUser reads the config too).
	assert.Contains(t, run(t, "chroot", r, "/usr/bin/interdict", "version"), "interdict images-test")
	for _, user := range []string{"0:0", "65534:65534"} {
		assert.Equal(t, "/etc/interdict/config.yaml: ok\n",
			run(t, "chroot", "--userspec="+user, r, "/usr/bin/interdict", "config", "check", "/etc/interdict/config.yaml"), user)
	}

	// systemd-analyze reads the unit from the root; the targets it
	// depends on come from the host.
	units := filepath.Join(r, "lib/systemd/system")
	hostUnits, err := filepath.Glob("/lib/systemd/system/*.target")
	require.NoError(t, err)
	require.NotEmpty(t, hostUnits, "the host's systemd targets")
	for _, u := range hostUnits {
		if b, err := os.ReadFile(u); err == nil {
			require.NoError(t, os.WriteFile(filepath.Join(units, filepath.Base(u)), b, 0o644))
		}
	}
	require.NoError(t, os.MkdirAll(filepath.Join(r, "bin"), 0o755))
	if _, err := os.Stat(filepath.Join(r, "bin/kill")); err != nil {
		b, err := os.ReadFile("/bin/kill")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(r, "bin/kill"), b, 0o755))
	}
	verify := func(what string, maxExposure float64) {
		out, err := exec.Command("systemd-analyze", "verify", "--root="+r, "interdict.service").CombinedOutput()
		require.NoError(t, err, "%s: %s", what, out)
		assert.Empty(t, strings.TrimSpace(string(out)), "%s: systemd-analyze verify warns", what)
		sec, _ := exec.Command("systemd-analyze", "security", "--offline=yes", "--root="+r, "interdict.service").CombinedOutput()
		m := regexp.MustCompile(`Overall exposure level for interdict.service: ([0-9.]+)`).FindStringSubmatch(string(sec))
		require.NotNil(t, m, "%s: %s", what, sec)
		score, err := strconv.ParseFloat(m[1], 64)
		require.NoError(t, err)
		t.Logf("%s: systemd-analyze security exposure %.1f", what, score)
		assert.LessOrEqual(t, score, maxExposure, what)
	}
	verify("unit", 1.5)
	dropin := filepath.Join(r, "etc/systemd/system/interdict.service.d")
	require.NoError(t, os.MkdirAll(dropin, 0o755))
	b, err := os.ReadFile(filepath.Join(r, "usr/share/interdict/systemd/tun.conf"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dropin, "tun.conf"), b, 0o644))
	verify("unit with the TUN drop-in", 2.0)

	run(t, "dpkg", "--root="+r, "--purge", "interdict")
	assert.NoFileExists(t, filepath.Join(r, "usr/bin/interdict"))
	assert.NoFileExists(t, filepath.Join(r, "etc/interdict/config.yaml"), "purge removes the conffiles")
}

//go:build linux

package images

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/appliance"
	"github.com/interdict/interdict/inspect/prefilter"
	"github.com/interdict/interdict/tests/testenv"
)

// imageCommands run from the built image as its user: the demo runs a
// WireGuard hub, a client and a server on the image's loopback with no
// privileges.
var imageCommands = []struct {
	args []string
	want string
}{
	{[]string{"version"}, "interdict images-test go"},
	{[]string{"config", "check"}, "default.yaml (embedded): ok"},
	{[]string{"config", "check", "/etc/interdict/config.yaml"}, "/etc/interdict/config.yaml: ok"},
	{[]string{"demo"}, "Every scene ended as expected."},
}

// TestContainerImage builds the image with images/container/build.sh
// (what `make image` runs: buildah, vfs storage, chroot isolation, no
// base image pulled) into a throwaway store, checks its configuration
// (non-root user, entrypoint, ports), that its binary is static and its
// writable directories belong to its user, and runs the binary from the
// image as the image's user.
func TestContainerImage(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "buildah")
	flags, ctr := buildImage(t, staticBinary(t), "")
	buildah := func(args ...string) string {
		t.Helper()
		return run(t, "buildah", append(append([]string{}, flags...), args...)...)
	}
	mnt := strings.TrimSpace(buildah("mount", ctr))
	// A file only root may read tells who the process runs as.
	require.NoError(t, os.WriteFile(filepath.Join(mnt, "etc/root-only.yaml"), []byte("mode: ips\n"), 0o600))
	buildah("umount", ctr)

	// buildah run uses the image's user (65532) unless told otherwise.
	for _, ic := range imageCommands {
		got, err := buildahRun(flags, ctr, nil, ic.args...)
		require.NoError(t, err, "%v: %s", ic.args, got)
		assert.Contains(t, got, ic.want, ic.args)
	}
	imageServesMetrics(t, flags, ctr)
	imageRunsTUNWithNetAdminOnly(t, flags, ctr)

	denied, err := buildahRun(flags, ctr, nil, "config", "check", "/etc/root-only.yaml")
	require.Error(t, err, "the image's user is not root: %s", denied)
	assert.Contains(t, denied, "permission denied")
	ok, err := buildahRun(flags, ctr, []string{"--user", "0:0"}, "config", "check", "/etc/root-only.yaml")
	require.NoError(t, err, ok)
	assert.Contains(t, ok, "/etc/root-only.yaml: ok", "root reads it: the refusal above was the user")
}

// buildImage builds the image of bin with images/container/build.sh and
// config (empty: the script's default, config.yaml) into a throwaway store
// removed when the test ends, checks what every variant must hold (user,
// entrypoint, ports, a static binary, writable directories owned by the
// user, passwd and CA bundle) and returns the store's global buildah flags
// and a working container of the image.
func buildImage(t *testing.T, bin, config string) (flags []string, ctr string) {
	t.Helper()
	store := t.TempDir()
	flags = []string{"--storage-driver", "vfs", "--root", filepath.Join(store, "root"), "--runroot", filepath.Join(store, "run")}
	buildah := func(args ...string) string {
		t.Helper()
		return run(t, "buildah", append(append([]string{}, flags...), args...)...)
	}
	t.Cleanup(func() {
		_ = exec.Command("buildah", append(append([]string{}, flags...), "rm", "--all")...).Run()
		_ = exec.Command("buildah", append(append([]string{}, flags...), "rmi", "--all", "--force")...).Run()
	})

	args := []string{filepath.Join(repoRoot(t), "images/container/build.sh"), bin, "interdict:test"}
	if config != "" {
		args = append(args, config)
	}
	cmd := exec.Command("sh", args...)
	cmd.Env = append(os.Environ(), "BUILDAH_FLAGS="+strings.Join(flags[2:], " "))
	start := time.Now()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Logf("image: %s (built in %s)", strings.TrimSpace(string(out)), time.Since(start).Round(time.Second))
	t.Cleanup(func() {
		os.RemoveAll(filepath.Join(repoRoot(t), "bin/image-root"))
		os.RemoveAll(filepath.Join(repoRoot(t), "bin/image-empty"))
	})

	var cfg struct {
		OCIv1 struct {
			Config struct {
				User         string              `json:"User"`
				Entrypoint   []string            `json:"Entrypoint"`
				Cmd          []string            `json:"Cmd"`
				ExposedPorts map[string]struct{} `json:"ExposedPorts"`
				Env          []string            `json:"Env"`
			} `json:"config"`
		} `json:"OCIv1"`
	}
	require.NoError(t, json.Unmarshal([]byte(buildah("inspect", "--type", "image", "interdict:test")), &cfg))
	c := cfg.OCIv1.Config
	assert.Equal(t, "65532:65532", c.User, "the image runs as a non-root user")
	assert.Equal(t, []string{"/usr/bin/interdict"}, c.Entrypoint)
	assert.Equal(t, []string{"run"}, c.Cmd, "the image runs whatever `interdict run` defaults to")
	assert.Contains(t, c.ExposedPorts, "51820/udp")
	assert.Contains(t, c.ExposedPorts, "9108/tcp")
	assert.Contains(t, c.Env, "XDG_STATE_HOME=/var/lib", "a non-root appliance's state lands in /var/lib/interdict")
	assert.Contains(t, c.Env, "INTERDICT_CONFIG=/etc/interdict/config.yaml", "run reads the image's config")

	ctr = strings.TrimSpace(buildah("from", "--quiet", "interdict:test"))
	mnt := strings.TrimSpace(buildah("mount", ctr))
	f, err := elf.Open(filepath.Join(mnt, "usr/bin/interdict"))
	require.NoError(t, err)
	for _, p := range f.Progs {
		assert.NotEqual(t, elf.PT_INTERP, p.Type, "the binary is static: no dynamic loader in the image")
	}
	f.Close()
	for _, d := range []string{"var/lib/interdict", "var/log/interdict", "run/interdict"} {
		fi, err := os.Stat(filepath.Join(mnt, d))
		require.NoError(t, err, d)
		st := fi.Sys().(*syscall.Stat_t)
		assert.Equal(t, uint32(65532), st.Uid, "%s belongs to the image's user", d)
	}
	passwd, err := os.ReadFile(filepath.Join(mnt, "etc/passwd"))
	require.NoError(t, err)
	assert.Contains(t, string(passwd), "interdict:x:65532:65532:")
	assert.FileExists(t, filepath.Join(mnt, "etc/ssl/certs/ca-certificates.crt"))
	buildah("umount", ctr)
	return flags, ctr
}

// buildahRun runs /usr/bin/interdict in the container with chroot
// isolation and the extra buildah run flags (--user uid:gid, -v), as the
// image's user unless they say otherwise. Debian's buildah
// 1.28 now and then loses the whole output of a short process under chroot
// isolation (measured here: 4 of 60 runs printed nothing, exit status 0);
// a run that printed nothing is tried again, up to 5 times.
func buildahRun(flags []string, ctr string, runFlags []string, args ...string) (string, error) {
	cmd := append(append(append([]string{}, flags...), "run", "--isolation", "chroot"), runFlags...)
	cmd = append(append(cmd, ctr, "--", "/usr/bin/interdict"), args...)
	var out []byte
	var err error
	for range 5 {
		out, err = exec.Command("buildah", cmd...).CombinedOutput()
		if len(strings.TrimSpace(string(out))) > 0 {
			break
		}
	}
	return string(out), err
}

// imageRun is the image's command running under buildah in a network
// namespace of its own, as a container runtime would run it.
type imageRun struct {
	ns   string
	logs string // the file its output goes to: read while it runs
	done chan struct{}
}

// output is what the command has printed so far.
func (r *imageRun) output(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(r.logs)
	require.NoError(t, err)
	return string(b)
}

// startImageRun starts `buildah run ... ctr -- /usr/bin/interdict run`
// with the extra buildah run flags in a new network namespace whose eth0
// has 192.0.2.10/24; it is stopped (SIGINT) when the test ends.
func startImageRun(t *testing.T, flags []string, ctr string, runFlags ...string) *imageRun {
	t.Helper()
	testenv.RequireTools(t, "ip", "curl")
	r := &imageRun{ns: fmt.Sprintf("idimg%d", rand.IntN(1<<30)), logs: filepath.Join(t.TempDir(), "run.log"), done: make(chan struct{})}
	logs, err := os.Create(r.logs)
	require.NoError(t, err)
	defer logs.Close() // the child has its own descriptor
	run(t, "ip", "netns", "add", r.ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", r.ns).Run() })
	run(t, "ip", "-n", r.ns, "link", "set", "lo", "up")
	run(t, "ip", "-n", r.ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p")
	run(t, "ip", "-n", r.ns, "addr", "add", "192.0.2.10/24", "dev", "eth0")
	run(t, "ip", "-n", r.ns, "link", "set", "eth0", "up")
	run(t, "ip", "-n", r.ns, "link", "set", "eth0p", "up")

	args := append([]string{"netns", "exec", r.ns, "buildah"}, flags...)
	args = append(append(append(args, "run", "--isolation", "chroot"), runFlags...), ctr, "--", "/usr/bin/interdict", "run")
	cmd := exec.Command("ip", args...)
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	go func() { _ = cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

// curl GETs a path of the appliance's metrics listener on addr, from
// inside the namespace.
func (r *imageRun) curl(addr, path string) (string, error) {
	out, err := exec.Command("ip", "netns", "exec", r.ns, "curl", "-sS", "-f", "-m", "5", "http://"+addr+path).CombinedOutput()
	return string(out), err
}

// waitReady waits for /readyz to answer "ready" on addr; if the process
// exits first, the test fails with its output.
func (r *imageRun) waitReady(t *testing.T, addr string) {
	t.Helper()
	ready, exited := false, false
	assert.Eventually(t, func() bool {
		select {
		case <-r.done:
			exited = true
			return true
		default:
		}
		out, err := r.curl(addr, "/readyz")
		ready = err == nil && strings.TrimSpace(out) == "ready"
		return ready
	}, 60*time.Second, 250*time.Millisecond)
	if exited {
		t.Fatalf("interdict run exited in the image:\n%s", r.output(t))
	}
	require.True(t, ready, "/readyz on %s", addr)
}

// imageServesMetrics runs the image's command (`interdict run`, the
// WireGuard hub) as the image's user, and reads /readyz and /metrics on
// the namespace's non-loopback address: what a published port (podman
// run -p 9108:9108) or a Kubernetes probe reaches. With the appliance's
// default (127.0.0.1:9108) nothing answers there.
func imageServesMetrics(t *testing.T, flags []string, ctr string) {
	t.Helper()
	r := startImageRun(t, flags, ctr)
	r.waitReady(t, "192.0.2.10:9108")
	metrics, err := r.curl("192.0.2.10:9108", "/metrics")
	require.NoError(t, err, metrics)
	assert.Contains(t, metrics, "interdict_wireguard_peers 0", "the image runs the WireGuard hub")
	assert.Contains(t, metrics, "interdict_rules_loaded ")
}

// imageRunsTUNWithNetAdminOnly runs the image in TUN mode as the
// DaemonSet does: root, every capability dropped but CAP_NET_ADMIN, the
// host's /dev/net/tun, volumes for its writable directories and a
// mounted config. The process holds exactly CAP_NET_ADMIN, and the TUN
// comes up. (buildah 1.28 applies --cap-drop ALL after --cap-add, so
// its default capabilities are dropped by name.)
func imageRunsTUNWithNetAdminOnly(t *testing.T, flags []string, ctr string) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("link:\n  mode: tun\n  tun:\n    name: interdict0\n    addresses: [10.201.0.1/24]\n"+
		"eve:\n  path: \"-\"\nadmin:\n  socket: /run/interdict/admin.sock\nmetrics:\n  listen: \":9108\"\n"), 0o644))
	runFlags := []string{"--user", "0:0", "--cap-add", "CAP_NET_ADMIN",
		"-v", "/dev/net/tun:/dev/net/tun", "-v", cfg + ":/etc/interdict/config.yaml:ro"}
	for _, c := range []string{"CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"} {
		runFlags = append(runFlags, "--cap-drop", "CAP_"+c)
	}
	for _, d := range []string{"/var/lib/interdict", "/run/interdict", "/var/log/interdict"} {
		// Writable by root without CAP_DAC_OVERRIDE, as a Kubernetes
		// emptyDir is.
		v := filepath.Join(dir, strings.ReplaceAll(d, "/", "_"))
		require.NoError(t, os.Mkdir(v, 0o777))
		require.NoError(t, os.Chmod(v, 0o777))
		runFlags = append(runFlags, "-v", v+":"+d)
	}
	r := startImageRun(t, flags, ctr, runFlags...)
	r.waitReady(t, "192.0.2.10:9108")
	assert.Contains(t, run(t, "ip", "-n", r.ns, "link", "show", "interdict0"), "interdict0")
	assert.Equal(t, "0000000000001000", interdictCapEff(t, r.ns), "CapEff of interdict run: CAP_NET_ADMIN (bit 12) only")
}

// interdictCapEff is the effective capability set of the process whose
// argv[0] is /usr/bin/interdict in network namespace ns.
func interdictCapEff(t *testing.T, ns string) string {
	t.Helper()
	var want syscall.Stat_t
	require.NoError(t, syscall.Stat("/run/netns/"+ns, &want))
	procs, err := filepath.Glob("/proc/[0-9]*")
	require.NoError(t, err)
	for _, p := range procs {
		cmdline, err := os.ReadFile(filepath.Join(p, "cmdline"))
		if err != nil || !bytes.HasPrefix(cmdline, []byte("/usr/bin/interdict\x00")) {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat(filepath.Join(p, "ns/net"), &st) != nil || st.Ino != want.Ino || st.Dev != want.Dev {
			continue
		}
		status, err := os.ReadFile(filepath.Join(p, "status"))
		require.NoError(t, err)
		m := regexp.MustCompile(`(?m)^CapEff:\s+([0-9a-f]+)$`).FindSubmatch(status)
		require.NotNil(t, m, "%s", status)
		return string(m[1])
	}
	t.Fatalf("no interdict process in namespace %s", ns)
	return ""
}

// The Hyperscan variant's config selects the engine: the appliance's
// checker accepts it in a binary built with Hyperscan and, in one built
// without, refuses exactly that key.
func TestHyperscanImageConfig(t *testing.T) {
	errs := appliance.CheckConfig("container/config-hyperscan.yaml")
	if _, built := prefilter.Builders()["hyperscan"]; built {
		assert.Empty(t, errs)
		return
	}
	require.Len(t, errs, 1, "%v", errs)
	assert.Contains(t, errs[0].Error(), "config-hyperscan.yaml:7: rules.prefilter: hyperscan engine not built in")
}

// TestHyperscanImage builds the Hyperscan variant as `make
// image-hyperscan` does (a cgo binary linked statically with libhs.a and
// libstdc++, config-hyperscan.yaml, the same empty base), holds it to
// what the default image holds, runs version, config check and demo as
// the image's user, and shows that Hyperscan is the engine in use: ET
// Open, loaded from the image, compiles the same rules as the default
// engine on the host with every fast-pattern group scanned by Hyperscan,
// and `interdict run` logs the engine it compiled the rules with.
func TestHyperscanImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a cgo binary and an image: make test runs it, make race (-short) need not run it again")
	}
	if runtime.GOARCH != "amd64" {
		t.Skipf("the Hyperscan variant is x86-64 only (Hyperscan needs SSSE3); this is %s", runtime.GOARCH)
	}
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "buildah", "pkg-config", "gcc")
	if out, err := exec.Command("pkg-config", "--exists", "libhs").CombinedOutput(); err != nil {
		testenv.SkipOrFail(t, fmt.Sprintf("needs libhyperscan-dev (pkg-config libhs: %v %s)", err, out))
	}
	et := testenv.ETOpenDir(t)
	start := time.Now()
	bin := hyperscanBinary(t)
	t.Logf("hyperscan binary built in %s", time.Since(start).Round(time.Second))
	flags, ctr := buildImage(t, bin, filepath.Join(repoRoot(t), "images/container/config-hyperscan.yaml"))

	for _, ic := range []struct {
		args []string
		want string
	}{
		{[]string{"version"}, "prefilter engines: ac, fdr, hyperscan, naive"},
		{[]string{"config", "check", "/etc/interdict/config.yaml"}, "/etc/interdict/config.yaml: ok"},
		{[]string{"demo"}, "Every scene ended as expected."},
	} {
		got, err := buildahRun(flags, ctr, nil, ic.args...)
		require.NoError(t, err, "%v: %s", ic.args, got)
		assert.Contains(t, got, ic.want, ic.args)
	}

	files, err := filepath.Glob(filepath.Join(et, "*.rules"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	inImage := []string{"rules", "stats", "--classification", "/et-open/classification.config"}
	onHost := []string{"rules", "stats", "--classification", filepath.Join(et, "classification.config")}
	for _, f := range files {
		inImage = append(inImage, "/et-open/"+filepath.Base(f))
		onHost = append(onHost, f)
	}
	hsOut, err := buildahRun(flags, ctr, []string{"-v", et + ":/et-open:ro"}, inImage...)
	require.NoError(t, err, hsOut)
	hsRules, hsEngines := prefilterGroups(t, hsOut)
	fdrRules, fdrEngines := prefilterGroups(t, run(t, staticBinary(t), onHost...))
	assert.Equal(t, fdrRules, hsRules, "ET Open compiles the same rules with Hyperscan as with the default engine")
	assert.Equal(t, []string{"hyperscan"}, hsEngines, "the image's config selects Hyperscan for every group")
	assert.Equal(t, []string{"fdr"}, fdrEngines, "the default engine, for contrast")

	r := startImageRun(t, flags, ctr)
	r.waitReady(t, "192.0.2.10:9108")
	assert.Regexp(t, `msg="rules compiled".* prefilter=hyperscan `, r.output(t))
}

// prefilterGroups reads the output of `interdict rules stats`: how many
// rules were compiled and the engines the groups with fast patterns scan
// with.
func prefilterGroups(t *testing.T, out string) (compiled int, engines []string) {
	t.Helper()
	m := regexp.MustCompile(`prefilter groups \((\d+) rules compiled`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	compiled, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	groups := regexp.MustCompile(`(?m)^  \S+\s+rules\s+\d+\s+patterns\s+(\d+)\s+always\s+\d+\s*(\S*)$`).FindAllStringSubmatch(out, -1)
	require.NotEmpty(t, groups, out)
	for _, g := range groups {
		if g[1] != "0" && !slices.Contains(engines, g[2]) {
			engines = append(engines, g[2])
		}
	}
	slices.Sort(engines)
	return compiled, engines
}

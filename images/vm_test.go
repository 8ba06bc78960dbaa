//go:build linux

package images

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v4"

	"github.com/interdict/interdict/tests/testenv"
)

// The two VM recipes: the two-segment TUN appliance, and the WireGuard
// hub with its initial peers.
const (
	userData    = "vm/cloud-init.yaml"
	hubUserData = "vm/cloud-init-hub.yaml"
)

// readUserData returns the files a user-data writes (path: content) and
// its runcmd lines.
func readUserData(t *testing.T, path string) (map[string]string, []string) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var ud struct {
		WriteFiles []struct {
			Path    string `yaml:"path"`
			Content string `yaml:"content"`
		} `yaml:"write_files"`
		RunCmd []string `yaml:"runcmd"`
	}
	require.NoError(t, yaml.Load(data, &ud))
	files := map[string]string{}
	for _, f := range ud.WriteFiles {
		files[f.Path] = f.Content
	}
	return files, ud.RunCmd
}

// TestCloudInitSchema validates the VM user-data with cloud-init's own
// schema (Debian's cloud-init package).
func TestCloudInitSchema(t *testing.T) {
	testenv.RequireTools(t, "cloud-init")
	for _, ud := range []string{userData, hubUserData} {
		out, err := exec.Command("cloud-init", "schema", "--config-file", ud).CombinedOutput()
		require.NoError(t, err, "%s: %s", ud, out)
		assert.Contains(t, string(out), "Valid cloud-config", ud)
	}
}

// TestCloudInitConfig checks what cloud-init writes: the appliance config
// passes the appliance's checker, the TUN drop-in the package ships is
// installed, and the routing script is the one the unit runs.
func TestCloudInitConfig(t *testing.T) {
	files, runcmd := readUserData(t, userData)
	cfg, ok := files["/etc/interdict/config.yaml"]
	require.True(t, ok, "user-data writes /etc/interdict/config.yaml")
	checkApplianceConfig(t, userData, cfg, nil)
	assert.Contains(t, files["/etc/systemd/system/interdict.service.d/routes.conf"], "ExecStartPost=+/usr/local/sbin/interdict-routes")
	assert.Contains(t, files, "/usr/local/sbin/interdict-routes")
	assert.Contains(t, files["/usr/local/sbin/interdict-routes"], "prohibit", "fail closed when the TUN is gone")
	assert.Contains(t, runcmd, "install -D -m 0644 /usr/share/interdict/systemd/tun.conf /etc/systemd/system/interdict.service.d/tun.conf")
}

// TestCloudInitRoutes runs the routing script the user-data installs in
// a network namespace with the two interfaces it expects, twice (a
// restart runs it again), and checks the policy rules and the route into
// the TUN, including the rule that keeps eth1's traffic from being
// forwarded uninspected when the TUN is gone.
func TestCloudInitRoutes(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "ip")
	files, _ := readUserData(t, userData)
	script := files["/usr/local/sbin/interdict-routes"]
	require.NotEmpty(t, script)
	path := filepath.Join(t.TempDir(), "interdict-routes")
	require.NoError(t, os.WriteFile(path, []byte(script), 0o755))

	ns := fmt.Sprintf("idci%d", rand.IntN(1<<30))
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	in := func(args ...string) string { return run(t, "ip", append([]string{"netns", "exec", ns}, args...)...) }
	in("ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p")
	in("ip", "link", "set", "eth1", "up")
	in("ip", "tuntap", "add", "dev", "interdict0", "mode", "tun")
	in("sh", path)
	in("sh", path)
	rules := in("ip", "rule", "show")
	for _, want := range []string{"100:\tfrom all fwmark 0x1d1c lookup main", "200:\tfrom all iif eth1 lookup 100", "210:\tfrom all iif eth1 prohibit"} {
		assert.Equal(t, 1, strings.Count(rules, want), "%q once in:\n%s", want, rules)
	}
	assert.Contains(t, in("ip", "route", "show", "table", "100"), "default dev interdict0")
}

// TestCloudInitInstallsOverItsConfig does what each user-data does on a
// fresh VM, in a throwaway root: write_files first (its
// /etc/interdict/config.yaml among them), then the package install with
// the dpkg options of its runcmd and no terminal. The package ships
// that path as a conffile: without an answer decided in advance dpkg
// stops at its conffile prompt ("end of file on stdin") and leaves the
// package unconfigured. The user-data's config must stay, and the
// installed binary must accept it. The hub's root then runs the hub
// with its enrolled peers.
func TestCloudInitInstallsOverItsConfig(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "dpkg-deb", "dpkg", "chroot", "ldd")
	deb := strings.TrimSpace(run(t, "sh", filepath.Join(repoRoot(t), "images/deb/build.sh"), staticBinary(t), t.TempDir(), "1.2.3"))
	for _, ud := range []string{userData, hubUserData} {
		t.Run(filepath.Base(ud), func(t *testing.T) {
			files, runcmd := readUserData(t, ud)
			r := installLikeCloudInit(t, deb, files, runcmd)
			if ud == hubUserData {
				var cfg struct {
					Link struct {
						WireGuard struct {
							Peers []struct {
								Name string `yaml:"name"`
							} `yaml:"peers"`
						} `yaml:"wireguard"`
					} `yaml:"link"`
				}
				require.NoError(t, yaml.Load([]byte(files["/etc/interdict/config.yaml"]), &cfg))
				require.NotEmpty(t, cfg.Link.WireGuard.Peers, "the hub's user-data enrolls initial peers")
				hubServesEnrolledPeers(t, r, len(cfg.Link.WireGuard.Peers))
			}
		})
	}
}

// installLikeCloudInit writes the user-data's files into a throwaway
// root, installs the package there with its runcmd's dpkg options and
// returns the root.
func installLikeCloudInit(t *testing.T, deb string, files map[string]string, runcmd []string) string {
	t.Helper()
	var install string
	for _, c := range runcmd {
		if strings.Contains(c, "apt-get install") {
			install = c
		}
	}
	require.NotEmpty(t, install, "the user-data installs the package with apt-get")
	var opts []string
	for _, m := range regexp.MustCompile(`Dpkg::Options::=(\S+)`).FindAllStringSubmatch(install, -1) {
		opts = append(opts, m[1])
	}
	require.Contains(t, opts, "--force-confold", "the config written by write_files is kept: %s", install)

	r := throwawayRoot(t)
	for path, content := range files {
		p := filepath.Join(r, path)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	cmd := exec.Command("dpkg", append(append([]string{"--root=" + r}, opts...), "-i", deb)...)
	out, err := cmd.CombinedOutput() // stdin is /dev/null, as under cloud-init
	require.NoError(t, err, "%s", out)
	assert.Contains(t, run(t, "dpkg", "--root="+r, "-l", "interdict"), "ii  interdict", "installed and configured")
	got, err := os.ReadFile(filepath.Join(r, "etc/interdict/config.yaml"))
	require.NoError(t, err)
	assert.Equal(t, files["/etc/interdict/config.yaml"], string(got), "the user-data's config is the one in place")
	assert.Equal(t, "/etc/interdict/config.yaml: ok\n",
		run(t, "chroot", r, "/usr/bin/interdict", "config", "check", "/etc/interdict/config.yaml"))
	return r
}

// hubServesEnrolledPeers runs the installed binary in the root as the
// service would (an unprivileged user, XDG_STATE_HOME=/var/lib, the
// directories systemd makes for it) in a network namespace of its own,
// and reads from its metrics that the config's peers are enrolled.
func hubServesEnrolledPeers(t *testing.T, r string, peers int) {
	t.Helper()
	testenv.RequireTools(t, "ip", "curl")
	for _, d := range []string{"var/lib/interdict", "var/log/interdict", "run/interdict"} {
		require.NoError(t, os.MkdirAll(filepath.Join(r, d), 0o755))
		require.NoError(t, os.Chmod(filepath.Join(r, d), 0o750))
		require.NoError(t, os.Chown(filepath.Join(r, d), 65534, 65534))
	}
	ns := fmt.Sprintf("idvm%d", rand.IntN(1<<30))
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	run(t, "ip", "-n", ns, "link", "set", "lo", "up")

	hub := exec.Command("ip", "netns", "exec", ns, "chroot", "--userspec=65534:65534", r,
		"/usr/bin/interdict", "run", "--config", "/etc/interdict/config.yaml")
	hub.Env = append(os.Environ(), "XDG_STATE_HOME=/var/lib")
	logPath := filepath.Join(t.TempDir(), "hub.log")
	logs, err := os.Create(logPath)
	require.NoError(t, err)
	defer logs.Close()
	hub.Stdout, hub.Stderr = logs, logs
	require.NoError(t, hub.Start())
	done := make(chan struct{})
	go func() { _ = hub.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = hub.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = hub.Process.Kill()
			<-done
		}
	})

	want := fmt.Sprintf("interdict_wireguard_peers %d\n", peers)
	seen := false
	assert.Eventually(t, func() bool {
		select {
		case <-done:
			return true // exited: no use waiting
		default:
		}
		out, err := exec.Command("ip", "netns", "exec", ns, "curl", "-sS", "-f", "-m", "5", "http://127.0.0.1:9108/metrics").CombinedOutput()
		seen = err == nil && strings.Contains(string(out), want)
		return seen
	}, 60*time.Second, 250*time.Millisecond)
	if !seen {
		b, _ := os.ReadFile(logPath)
		t.Fatalf("the hub never exported %q; its log:\n%s", want, b)
	}
	_, err = os.Stat(filepath.Join(r, "var/lib/interdict/wireguard.key"))
	assert.NoError(t, err, "the hub's key is generated in its state directory")
}

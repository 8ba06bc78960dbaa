//go:build linux

package netns

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/interdict/interdict/tests/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wgClientConf splits the wg-quick config `interdict peer add` printed
// into what `wg setconf` reads and the interface fields wg-quick would
// apply itself (Address, MTU). wg-quick is not used: with AllowedIPs of
// one subnet it would do the same, but it also edits resolv.conf and
// policy routes of the whole host, which a test must not.
func wgClientConf(t *testing.T, conf string) (setconf string, addrs []string, mtu string) {
	t.Helper()
	var keep []string
	for _, line := range strings.Split(conf, "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch strings.TrimSpace(k) {
		case "Address":
			for _, a := range strings.Split(v, ",") {
				addrs = append(addrs, strings.TrimSpace(a))
			}
			continue
		case "MTU":
			mtu = strings.TrimSpace(v)
			continue
		}
		keep = append(keep, line)
	}
	require.NotEmpty(t, addrs, "the config has an Address")
	return strings.Join(keep, "\n"), addrs, mtu
}

// TestWireGuardInterop: Debian's wireguard-go and wg, in a client
// namespace, connect to the hub with the config `interdict peer add`
// printed; curl and iperf3 go through it; the default pack stops an
// exploit before the server sees it; `interdict peer remove` cuts the
// client off.
func TestWireGuardInterop(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "ip", "curl", "iperf3", "wireguard-go", "wg", "sh")

	dir := t.TempDir()
	evePath := filepath.Join(dir, "eve.json")
	sock := filepath.Join(dir, "admin.sock")
	config := fmt.Sprintf(`state_dir: %s
link:
  mode: wireguard
  wireguard:
    listen_port: 51820
mode: ips
eve:
  path: %s
  stats_interval: 1h
admin:
  socket: %s
metrics:
  listen: 127.0.0.1:9108
`, filepath.Join(dir, "state"), evePath, sock)

	tp := newTopology(t)
	logs := startAppliance(t, tp, config)
	assert.Contains(t, logs.String(), "interdict peer add", "the hub printed the next step")

	// The peer's config, exactly as a person would get it.
	out := nsExec(t, tp.appliance, binary, "peer", "add", "--socket", sock, "runner-1", "--tag", "ci",
		"--endpoint", "10.77.1.1:51820", "--route", "10.77.2.0/24")
	setconf, addrs, mtu := wgClientConf(t, out)
	assert.Equal(t, "1420", mtu)
	confPath := filepath.Join(dir, "runner-1.conf")
	require.NoError(t, os.WriteFile(confPath, []byte(setconf), 0o600))

	var b [3]byte
	_, _ = rand.Read(b[:])
	ifname := "iwg" + hex.EncodeToString(b[:])
	wgGo := exec.Command("ip", "netns", "exec", tp.client, "wireguard-go", ifname)
	wgGo.Env = append(os.Environ(), "WG_PROCESS_FOREGROUND=1")
	var wgLogs strings.Builder
	wgGo.Stdout, wgGo.Stderr = &wgLogs, &wgLogs
	require.NoError(t, wgGo.Start())
	t.Cleanup(func() {
		_ = wgGo.Process.Signal(syscall.SIGTERM)
		_ = wgGo.Wait()
		if t.Failed() {
			t.Logf("wireguard-go:\n%s", wgLogs.String())
		}
	})
	require.Eventually(t, func() bool {
		return exec.Command("ip", "-n", tp.client, "link", "show", ifname).Run() == nil
	}, 10*time.Second, 50*time.Millisecond, "wireguard-go made %s", ifname)
	nsExec(t, tp.client, "wg", "setconf", ifname, confPath)
	for _, a := range addrs {
		ipCmd(t, "-n", tp.client, "addr", "add", a, "dev", ifname)
	}
	ipCmd(t, "-n", tp.client, "link", "set", ifname, "mtu", mtu, "up")
	// Only the server subnet goes into the tunnel (the config's
	// AllowedIPs); its route is more specific than the default route,
	// so nothing reaches the server around the hub.
	ipCmd(t, "-n", tp.client, "route", "add", "10.77.2.0/24", "dev", ifname)

	rs := &recordingServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ln := listenIn(t, tp.server, serverAddr+":8080")
	go func() { _ = hs.Serve(recListener{ln, rs}) }()
	t.Cleanup(func() { _ = hs.Close() })
	url := "http://" + serverAddr + ":8080"

	t.Run("curl-through-the-tunnel", func(t *testing.T) {
		got := nsExec(t, tp.client, "curl", "-sS", "--fail", "--max-time", "10", url+"/hello")
		assert.Equal(t, "ok\n", got)
		assert.Contains(t, rs.received(), "GET /hello HTTP/1.1")
		hs := nsExec(t, tp.client, "wg", "show", ifname, "latest-handshakes")
		assert.NotContains(t, hs, "\t0\n", "the client completed a handshake with the hub")
	})

	t.Run("flow-carries-the-identity", func(t *testing.T) {
		require.Eventually(t, func() bool {
			for _, ev := range readEVE(t, evePath) {
				id, _ := ev["identity"].(map[string]any)
				if ev["event_type"] == "flow" && id["name"] == "runner-1" && strings.HasPrefix(fmt.Sprint(ev["src_ip"]), "100.96.") {
					return true
				}
			}
			return false
		}, 10*time.Second, 50*time.Millisecond)
	})

	t.Run("exploit-stopped-before-the-server", func(t *testing.T) {
		// The default pack's path traversal rule (sid 9100001) is a reject
		// rule: the client gets a RST at once, which curl reports as a
		// failure receiving data (exit 56), not a timeout (exit 28).
		before := rs.received()
		code := curlExit(t, tp.client, "--path-as-is", "--max-time", "3", url+"/static/../../../../etc/passwd")
		assert.Equal(t, 56, code, "curl exit 56: the flow was reset")
		// Dial before accept: the server saw the connection open (a new
		// "\n--\n" separator) but not one byte of the request on it.
		bytesOnly := func(s string) string { return strings.ReplaceAll(s, "\n--\n", "") }
		assert.Equal(t, bytesOnly(before), bytesOnly(rs.received()), "the server received none of the exploit request")
		assert.NotContains(t, rs.received(), "passwd", "the server received none of the exploit")
		found := false
		for _, ev := range readEVE(t, evePath) {
			alert, _ := ev["alert"].(map[string]any)
			id, _ := ev["identity"].(map[string]any)
			if ev["event_type"] == "alert" && alert["signature_id"] == float64(9100001) && id["name"] == "runner-1" {
				found = true
			}
		}
		assert.True(t, found, "an EVE alert names the rule and runner-1")
	})

	t.Run("iperf3-completes", func(t *testing.T) {
		srv := exec.Command("ip", "netns", "exec", tp.server, "iperf3", "-s", "-1", "-B", serverAddr, "-p", "5201")
		require.NoError(t, srv.Start())
		t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
		var res struct {
			End struct {
				SumReceived struct {
					Bytes         float64 `json:"bytes"`
					BitsPerSecond float64 `json:"bits_per_second"`
				} `json:"sum_received"`
			} `json:"end"`
		}
		var raw string
		// The server must listen before the client starts: the hub dials
		// first, so an early client is refused, and iperf3 -J has been seen
		// to exit 0 with an empty result then.
		require.Eventually(t, func() bool {
			o, _ := exec.Command("ip", "netns", "exec", tp.server, "ss", "-Hltn", "sport = :5201").CombinedOutput()
			return strings.Contains(string(o), "5201")
		}, 10*time.Second, 50*time.Millisecond, "iperf3 server listening")
		out, err := exec.Command("ip", "netns", "exec", tp.client, "iperf3", "-c", serverAddr, "-p", "5201", "-t", "3", "-J").Output()
		raw = string(out)
		require.NoError(t, err, "iperf3: %s", raw)
		require.NoError(t, json.Unmarshal([]byte(raw), &res))
		assert.Positive(t, res.End.SumReceived.Bytes, "iperf3: %s", raw)
		t.Logf("iperf3 through the hub (1 stream, shared machine): %.0f Mbit/s", res.End.SumReceived.BitsPerSecond/1e6)
	})

	t.Run("peer-remove-cuts-the-client", func(t *testing.T) {
		out, errOut, code := func() (string, string, int) {
			cmd := exec.Command("ip", "netns", "exec", tp.appliance, binary, "peer", "remove", "--socket", sock, "runner-1")
			var o, e strings.Builder
			cmd.Stdout, cmd.Stderr = &o, &e
			err := cmd.Run()
			if ee, ok := err.(*exec.ExitError); ok {
				return o.String(), e.String(), ee.ExitCode()
			}
			return o.String(), e.String(), 0
		}()
		require.Equal(t, 0, code, "peer remove: %s %s", out, errOut)
		assert.Contains(t, out, "removed peer runner-1")
		before := rs.received()
		assert.Equal(t, 28, curlExit(t, tp.client, "--max-time", "3", url+"/after-remove"), "the removed client gets nothing")
		assert.Equal(t, before, rs.received(), "nothing of it reached the server")
	})
}

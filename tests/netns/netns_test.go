//go:build linux

package netns

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/interdict/interdict/tests/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

var binary string // the interdict binary built by TestMain

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "interdict-netns-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "interdict")
	out, err := exec.Command("go", "build", "-o", binary, "github.com/interdict/interdict/appliance/cmd/interdict").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	mark          = "0x1d1c"
	rejectPattern = "INTERDICT-TEST-REJECT"
	serverAddr    = "10.77.2.2"
)

// topology is client <-veth-> appliance <-veth-> server. In the appliance
// namespace every packet to the server subnet is routed into the TUN,
// except packets of sockets marked 0x1d1c: the appliance's upstream leg.
// Without the mark the upstream dial would re-enter the TUN.
type topology struct {
	client, appliance, server string
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	require.NoError(t, err, "ip %s: %s", strings.Join(args, " "), out)
}

func newTopology(t *testing.T) *topology {
	t.Helper()
	var b [3]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	tp := &topology{client: "idc-" + id, appliance: "ida-" + id, server: "ids-" + id}
	for _, ns := range []string{tp.client, tp.appliance, tp.server} {
		ipCmd(t, "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v %s", ns, err, out)
			}
		})
		ipCmd(t, "-n", ns, "link", "set", "lo", "up")
	}
	ipCmd(t, "-n", tp.appliance, "link", "add", "a0", "type", "veth", "peer", "name", "c0", "netns", tp.client)
	ipCmd(t, "-n", tp.appliance, "link", "add", "a1", "type", "veth", "peer", "name", "s0", "netns", tp.server)
	for _, c := range [][]string{
		{"-n", tp.client, "addr", "add", "10.77.1.2/24", "dev", "c0"},
		{"-n", tp.client, "link", "set", "c0", "up"},
		{"-n", tp.client, "route", "add", "default", "via", "10.77.1.1"},
		{"-n", tp.server, "addr", "add", serverAddr + "/24", "dev", "s0"},
		{"-n", tp.server, "link", "set", "s0", "up"},
		{"-n", tp.server, "route", "add", "default", "via", "10.77.2.1"},
		{"-n", tp.appliance, "addr", "add", "10.77.1.1/24", "dev", "a0"},
		{"-n", tp.appliance, "addr", "add", "10.77.2.1/24", "dev", "a1"},
		{"-n", tp.appliance, "link", "set", "a0", "up"},
		{"-n", tp.appliance, "link", "set", "a1", "up"},
	} {
		ipCmd(t, c...)
	}
	// Through /proc rather than sysctl(8), which Debian's base image lacks.
	// rp_filter off: replies to the marked upstream sockets arrive on a1,
	// but without the mark the reverse route points into the TUN.
	nsExec(t, tp.appliance, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward && "+
		"for f in all default a1; do echo 0 > /proc/sys/net/ipv4/conf/$f/rp_filter; done")
	return tp
}

// routeIntoTUN sends the server subnet into the appliance's TUN; marked
// sockets (the upstream leg) still use the main table.
func (tp *topology) routeIntoTUN(t *testing.T, dev string) {
	ipCmd(t, "-n", tp.appliance, "rule", "add", "pref", "100", "fwmark", mark, "lookup", "main")
	ipCmd(t, "-n", tp.appliance, "rule", "add", "pref", "200", "to", "10.77.2.0/24", "lookup", "100")
	ipCmd(t, "-n", tp.appliance, "route", "add", "default", "dev", dev, "table", "100")
}

func nsExec(t *testing.T, ns string, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
	require.NoError(t, err, "%s in %s: %s", strings.Join(args, " "), ns, out)
	return string(out)
}

// inNetns runs fn on a thread switched into the named namespace: sockets
// belong to the namespace of the thread that creates them. The thread is
// only handed back to the scheduler if it could be switched back.
func inNetns(ns string, fn func() error) error {
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		orig, oerr := os.Open("/proc/thread-self/ns/net")
		if oerr != nil {
			err = oerr
			return
		}
		defer orig.Close()
		target, oerr := os.Open("/var/run/netns/" + ns)
		if oerr != nil {
			err = oerr
			return
		}
		defer target.Close()
		if err = unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			return
		}
		err = fn()
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
	}()
	<-done
	return err
}

// listenIn creates a TCP listener inside a namespace.
func listenIn(t *testing.T, ns, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	err := inNetns(ns, func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	})
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	return ln
}

// server is the test's upstream: /upload answers the sha256 and length of
// the body, /download streams the bytes it was given, and every request
// whose URL contains the reject pattern is counted (it must never arrive).
type server struct {
	download []byte
	rejected atomic.Int64
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.Contains(r.URL.Path, rejectPattern) {
		s.rejected.Add(1)
	}
	switch r.URL.Path {
	case "/upload":
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%x %d", h.Sum(nil), n)
	case "/download":
		w.Header().Set("Content-Length", fmt.Sprint(len(s.download)))
		_, _ = w.Write(s.download)
	default:
		fmt.Fprintln(w, "ok")
	}
}

// outputBuffer collects a child's output while the test reads it: exec
// copies into it from its own goroutine.
type outputBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *outputBuffer) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *outputBuffer) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// startAppliance runs the built binary in the appliance namespace and
// stops it (SIGTERM, then SIGKILL) when the test ends.
func startAppliance(t *testing.T, tp *topology, config string) *outputBuffer {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "interdict.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(config), 0o600))
	nsExec(t, tp.appliance, binary, "config", "check", cfg)

	var logs outputBuffer
	cmd := exec.Command("ip", "netns", "exec", tp.appliance, binary, "run", "--config", cfg)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			assert.NoError(t, err, "interdict exit after SIGTERM")
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("interdict did not stop within 10s of SIGTERM")
		}
		if t.Failed() {
			t.Logf("interdict output:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := exec.Command("ip", "netns", "exec", tp.appliance, "curl", "-sf", "-o", "/dev/null", "http://127.0.0.1:9108/metrics").Run()
		if err == nil {
			return &logs
		}
		select {
		case err := <-exited:
			t.Fatalf("interdict exited: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("interdict metrics not up after 10s\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

const applianceConfig = `link:
  mode: tun
  tun:
    name: itun0
    queues: 2
upstream:
  mode: host
  host:
    mark: ` + mark + `
handler:
  mode: pattern
  pattern: ` + rejectPattern + `
  verdict: reject
metrics:
  listen: 127.0.0.1:9108
# No EVE file or admin socket outside the test.
eve:
  path: ""
admin:
  socket: ""
log:
  level: debug
`

func TestAppliance(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "ip", "curl", "iperf3", "sh")

	tp := newTopology(t)
	startAppliance(t, tp, applianceConfig)
	tp.routeIntoTUN(t, "itun0")

	payload := make([]byte, 256<<20)
	_, _ = rand.Read(payload)
	sum := sha256.Sum256(payload)
	want := hex.EncodeToString(sum[:])
	file := filepath.Join(t.TempDir(), "payload")
	require.NoError(t, os.WriteFile(file, payload, 0o600))

	srv := &server{download: payload}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}
	ln := listenIn(t, tp.server, serverAddr+":8080")
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })

	url := "http://" + serverAddr + ":8080"
	t.Run("upload-256MiB-byte-exact", func(t *testing.T) {
		out := nsExec(t, tp.client, "curl", "-sS", "--fail", "--max-time", "120", "-H", "Expect:", "--data-binary", "@"+file, url+"/upload")
		assert.Equal(t, fmt.Sprintf("%s %d", want, len(payload)), strings.TrimSpace(out), "sha256 and length the server received")
	})
	t.Run("download-256MiB-byte-exact", func(t *testing.T) {
		out := nsExec(t, tp.client, "sh", "-c", "curl -sS --fail --max-time 120 "+url+"/download | sha256sum")
		assert.Equal(t, want, strings.Fields(out)[0])
	})
	t.Run("reject-pattern-resets", func(t *testing.T) {
		cmd := exec.Command("ip", "netns", "exec", tp.client, "curl", "-sS", "--max-time", "10", url+"/"+rejectPattern)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		require.True(t, errors.As(err, &ee), "curl must fail: %v %s", err, out)
		assert.Equal(t, 56, ee.ExitCode(), "curl exit 56 (connection reset): %s", out)
		assert.Zero(t, srv.rejected.Load(), "the request with the pattern reached the server")
	})
	t.Run("iperf3", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		iperf := exec.CommandContext(ctx, "ip", "netns", "exec", tp.server, "iperf3", "-s", "-1", "-B", serverAddr)
		require.NoError(t, iperf.Start())
		defer func() { cancel(); _ = iperf.Wait() }()
		// Wait for the listening socket itself rather than retrying the
		// client: a client attempt that reaches the appliance before the
		// server listens is refused, and with -1 a half-made attempt would
		// end the one-off server.
		listening := false
		for i := 0; i < 100 && !listening; i++ {
			o, _ := exec.Command("ip", "netns", "exec", tp.server, "ss", "-Hltn", "sport = :5201").CombinedOutput()
			listening = strings.Contains(string(o), "5201")
			if !listening {
				time.Sleep(50 * time.Millisecond)
			}
		}
		require.True(t, listening, "iperf3 server never listened")
		o, err := exec.Command("ip", "netns", "exec", tp.client, "iperf3", "-c", serverAddr, "-t", "2", "-J").CombinedOutput()
		out := string(o)
		require.NoError(t, err, "%s", out)
		var res struct {
			End struct {
				SumReceived struct {
					Bytes         float64 `json:"bytes"`
					BitsPerSecond float64 `json:"bits_per_second"`
				} `json:"sum_received"`
			} `json:"end"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &res), "%s", out)
		assert.Greater(t, res.End.SumReceived.Bytes, float64(0))
		t.Logf("iperf3 through the appliance: %.2f Gbit/s (shared 2-core machine; not an assertion)", res.End.SumReceived.BitsPerSecond/1e9)
	})
	t.Run("metrics-show-flows", func(t *testing.T) {
		m := nsExec(t, tp.appliance, "curl", "-sS", "--fail", "http://127.0.0.1:9108/metrics")
		assert.Contains(t, m, `interdict_netstack_flows_total{proto="tcp",verdict="reject"} 1`)
		assert.Regexp(t, `interdict_netstack_flows_total\{proto="tcp",verdict="(continue|pass)"\} [1-9]`, m)
		// GRO-merged packets must survive the packet guard's header check.
		assert.Contains(t, m, `interdict_netstack_guard_drops_total{reason="malformed"} 0`)
		assert.Contains(t, m, `interdict_tun_rx_dropped_total{device="itun0",link="client"} 0`)
		assert.Regexp(t, `interdict_tun_rx_bytes_total\{device="itun0",link="client"\} [1-9]`, m)
	})
}

//go:build linux

package netns

import (
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/tests/testenv"
)

// TestSYNFlood floods the appliance with 20,000 SYNs from random spoofed
// sources in about 5 s (hping3) while 20 real clients connect: every
// real client gets its answer within its timeout, clients connect at
// once after the flood, and the mode change is in the metrics and in
// EVE. The server sees no connection for a spoofed SYN with
// limits.validate_first: always, and at most syn_pressure-1 (the SYNs
// dialled before the switch) with the default, which keeps dial-first
// in normal operation.
func TestSYNFlood(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "ip", "curl", "hping3")
	for _, validate := range []string{"pressure", "always"} {
		t.Run(validate, func(t *testing.T) { synFlood(t, validate) })
	}
}

func synFlood(t *testing.T, validate string) {
	const pressure = 16
	evePath := filepath.Join(t.TempDir(), "eve.json")
	config := fmt.Sprintf(`link:
  mode: tun
  tun:
    name: itun2
    queues: 2
upstream:
  mode: host
  host:
    mark: %s
handler:
  mode: pass
limits:
  syn_pressure: %d
  validate_first: %s
eve:
  path: %s
admin:
  socket: ""
metrics:
  listen: 127.0.0.1:9108
log:
  level: info
`, mark, pressure, validate, evePath)
	tp := newTopology(t)
	startAppliance(t, tp, config)
	tp.routeIntoTUN(t, "itun2")

	var conns atomic.Int64
	hs := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }),
		ReadHeaderTimeout: 5 * time.Second,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		},
	}
	ln := listenIn(t, tp.server, serverAddr+":8080")
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	url := "http://" + serverAddr + ":8080/"
	curl := func(maxTime string) error {
		return exec.Command("ip", "netns", "exec", tp.client, "curl", "-sS", "--fail", "-o", "/dev/null", "--max-time", maxTime, url).Run()
	}
	require.NoError(t, curl("5"), "a client connects before the flood")
	legit := int64(1)

	flood := exec.Command("ip", "netns", "exec", tp.client, "hping3", "-q", "-S", "-p", "8080", "--rand-source",
		"-i", "u250", "-c", "20000", serverAddr)
	require.NoError(t, flood.Start())
	floodDone := make(chan struct{})
	go func() { _ = flood.Wait(); close(floodDone) }() // hping3 exits 1 when nothing answered
	t.Cleanup(func() {
		select {
		case <-floodDone:
		default:
			_ = flood.Process.Kill()
			<-floodDone
		}
	})

	// 20 real clients spread over the flood, each with a 5 s timeout.
	time.Sleep(500 * time.Millisecond)
	var (
		wg     sync.WaitGroup
		failed atomic.Int64
	)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := curl("5"); err != nil {
				failed.Add(1)
				t.Logf("client %d during the flood: %v", i, err)
			}
		}()
		time.Sleep(200 * time.Millisecond)
	}
	wg.Wait()
	legit += 20
	assert.Zero(t, failed.Load(), "real clients that failed during the flood")
	select {
	case <-floodDone:
	case <-time.After(30 * time.Second):
		t.Fatal("hping3 did not finish its 20,000 SYNs in 30 s")
	}

	// After the flood: new connections succeed at once.
	for i := range 5 {
		start := time.Now()
		assert.NoError(t, curl("1"), "client %d right after the flood", i)
		t.Logf("connect after the flood: %v", time.Since(start))
	}
	legit += 5

	spoofed := conns.Load() - legit
	t.Logf("server connections: %d, from real clients: %d", conns.Load(), legit)
	if validate == "always" {
		assert.Zero(t, spoofed, "server connections made for spoofed SYNs")
	} else {
		assert.LessOrEqual(t, spoofed, int64(pressure-1), "server connections made for spoofed SYNs")
	}

	m := nsExec(t, tp.appliance, "curl", "-sS", "--fail", "http://127.0.0.1:9108/metrics")
	assert.Regexp(t, `interdict_netstack_syn_mode_changes_total\{mode="validate_first"\} [1-9]`, m)
	valid := regexp.MustCompile(`interdict_netstack_syn_cookies_valid_total (\d+)`).FindStringSubmatch(m)
	require.Len(t, valid, 2, "cookie metric: %s", m)
	n, _ := strconv.Atoi(valid[1])
	assert.Positive(t, n, "real clients validated by SYN cookies")

	var anomaly bool
	for _, ev := range readEVE(t, evePath) {
		if a, ok := ev["anomaly"].(map[string]any); ok && a["event"] == "SYN_PRESSURE_VALIDATE_FIRST" {
			anomaly = true
		}
	}
	assert.True(t, anomaly, "the switch to validate-first is an EVE anomaly")
}

//go:build linux

package netns

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/tests/testenv"
)

// e2eRules are written into the test's temp dir and loaded by the binary.
const e2eRules = `drop http any any -> any any (msg:"e2e drop"; flow:established,to_server; http.uri; content:"/drop-me"; classtype:bad-unknown; sid:4001; rev:3;)
reject http any any -> any any (msg:"e2e reject"; flow:established,to_server; http.uri; content:"/reject-me"; classtype:bad-unknown; sid:4002; rev:1;)
rejectdst http any any -> any any (msg:"e2e rejectdst"; flow:established,to_server; http.uri; content:"/rejectdst-me"; classtype:bad-unknown; sid:4003; rev:1;)
reject tcp any any -> any any (msg:"e2e slow"; flow:established,to_server; content:"SLOWATTACK"; classtype:bad-unknown; sid:4004; rev:1;)
`

// recordingServer is an HTTP server that records every byte each
// connection delivered and how many connections were reset by the peer.
type recordingServer struct {
	mu     sync.Mutex
	conns  []*recConn
	resets int
}

type recConn struct {
	net.Conn
	s   *recordingServer
	mu  sync.Mutex
	got []byte
}

func (c *recConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	c.got = append(c.got, b[:n]...)
	c.mu.Unlock()
	if errors.Is(err, syscall.ECONNRESET) {
		c.s.mu.Lock()
		c.s.resets++
		c.s.mu.Unlock()
	}
	return n, err
}

type recListener struct {
	net.Listener
	s *recordingServer
}

func (l recListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	rc := &recConn{Conn: c, s: l.s}
	l.s.mu.Lock()
	l.s.conns = append(l.s.conns, rc)
	l.s.mu.Unlock()
	return rc, nil
}

// received is everything every connection delivered, joined.
func (s *recordingServer) received() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sb strings.Builder
	for _, c := range s.conns {
		c.mu.Lock()
		sb.Write(c.got)
		sb.WriteString("\n--\n")
		c.mu.Unlock()
	}
	return sb.String()
}

func (s *recordingServer) resetCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resets
}

// dialIn connects from inside a namespace (see inNetns).
func dialIn(t *testing.T, ns, addr string) *net.TCPConn {
	t.Helper()
	var c net.Conn
	err := inNetns(ns, func() (err error) {
		c, err = net.DialTimeout("tcp", addr, 5*time.Second)
		return err
	})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// curlExit runs curl in the client namespace and returns its exit code.
func curlExit(t *testing.T, ns string, args ...string) int {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, "curl", "-sS", "-o", "/dev/null"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "curl: %v %s", err, out)
	return ee.ExitCode()
}

// ctl runs `interdict ctl` against the appliance's socket.
func ctl(sock string, args ...string) (string, string, int) {
	cmd := exec.Command(binary, append([]string{"ctl", "--socket", sock}, args...)...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
	}
	return out.String(), errOut.String(), code
}

func TestEnforceEndToEnd(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "ip", "curl", "sh")

	dir := t.TempDir()
	rulesPath := filepath.Join(dir, "e2e.rules")
	evePath := filepath.Join(dir, "eve.json")
	sock := filepath.Join(dir, "admin.sock")
	require.NoError(t, os.WriteFile(rulesPath, []byte(e2eRules), 0o600))
	config := fmt.Sprintf(`link:
  mode: tun
  tun:
    name: itun1
    queues: 2
upstream:
  mode: host
  host:
    mark: %s
mode: ips
rules:
  default_pack: false
  files: [%s]
eve:
  path: %s
  stats_interval: 1s
admin:
  socket: %s
metrics:
  listen: 127.0.0.1:9108
policy:
  protocol:
    anomalies:
      REQUEST_CONTENT_LENGTH_AND_TRANSFER_ENCODING: reject
log:
  level: debug
`, mark, rulesPath, evePath, sock)

	tp := newTopology(t)
	startAppliance(t, tp, config)
	tp.routeIntoTUN(t, "itun1")

	rs := &recordingServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ln := listenIn(t, tp.server, serverAddr+":8080")
	go func() { _ = hs.Serve(recListener{ln, rs}) }()
	t.Cleanup(func() { _ = hs.Close() })
	url := "http://" + serverAddr + ":8080"

	t.Run("benign-before", func(t *testing.T) {
		assert.Equal(t, 0, curlExit(t, tp.client, "--fail", "--max-time", "5", url+"/hello"))
		assert.Contains(t, rs.received(), "GET /hello HTTP/1.1")
	})
	t.Run("drop-times-out", func(t *testing.T) {
		assert.Equal(t, 28, curlExit(t, tp.client, "--max-time", "3", url+"/drop-me"), "curl exit 28: timeout")
		assert.NotContains(t, rs.received(), "/drop-me", "the request that completed the match never reached the server")
	})
	t.Run("reject-resets", func(t *testing.T) {
		assert.Equal(t, 56, curlExit(t, tp.client, "--max-time", "3", url+"/reject-me"), "curl exit 56: connection reset")
		assert.NotContains(t, rs.received(), "/reject-me")
	})
	t.Run("rejectdst-resets-server-only", func(t *testing.T) {
		before := rs.resetCount()
		code := curlExit(t, tp.client, "--max-time", "3", url+"/rejectdst-me")
		assert.Equal(t, 52, code, "the client leg is closed (curl 52: empty reply), not reset")
		assert.NotContains(t, rs.received(), "/rejectdst-me")
		assert.Eventually(t, func() bool { return rs.resetCount() == before+1 }, 3*time.Second, 20*time.Millisecond,
			"the server saw a reset")
	})
	t.Run("one-byte-segments", func(t *testing.T) {
		c := dialIn(t, tp.client, serverAddr+":8080")
		require.NoError(t, c.SetNoDelay(true))
		attack := []byte("POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\nxxxxxxxxxxSLOWATTACK")
		body := bytes.Index(attack, []byte("\r\n\r\n")) + 4
		var werr error
		for i := range attack {
			if _, werr = c.Write(attack[i : i+1]); werr != nil {
				break
			}
			if i < body || i == len(attack)-1 {
				// The appliance may hold the head until it is complete.
				time.Sleep(3 * time.Millisecond)
				continue
			}
			// Each body byte must be its own chunk: bytes the relay
			// read together with the last one were, rightly, never
			// forwarded, which on a loaded machine (the relay reading
			// late) failed this test. So the next byte goes only once
			// this one reached the server.
			require.Eventually(t, func() bool { return strings.Contains(rs.received(), string(attack[:i+1])) },
				5*time.Second, time.Millisecond, "byte %d reaches the server", i)
		}
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		_, rerr := io.ReadAll(c)
		assert.True(t, errors.Is(werr, syscall.ECONNRESET) || errors.Is(rerr, syscall.ECONNRESET), "the client is reset: write %v, read %v", werr, rerr)
		got := rs.received()
		assert.Contains(t, got, "xxxxxxxxxxSLOWATTAC", "every byte before the last one was forwarded")
		assert.NotContains(t, got, "SLOWATTACK", "the last byte never reached the server")
	})
	t.Run("smuggling-rejected-by-policy", func(t *testing.T) {
		c := dialIn(t, tp.client, serverAddr+":8080")
		_, werr := c.Write([]byte("POST /smuggle HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		_, rerr := io.ReadAll(c)
		assert.True(t, errors.Is(werr, syscall.ECONNRESET) || errors.Is(rerr, syscall.ECONNRESET), "the client is reset: write %v, read %v", werr, rerr)
		assert.NotContains(t, rs.received(), "/smuggle", "the CL+TE request never reached the server")
	})
	t.Run("benign-after", func(t *testing.T) {
		assert.Equal(t, 0, curlExit(t, tp.client, "--fail", "--max-time", "5", url+"/again"))
	})
	t.Run("eve", func(t *testing.T) {
		evs := readEVE(t, evePath)
		var alert, drop map[string]any
		stats := 0
		for _, ev := range evs {
			al, _ := ev["alert"].(map[string]any)
			switch ev["event_type"] {
			case "alert":
				if al["signature_id"] == 4001.0 {
					alert = ev
				}
			case "drop":
				if al != nil && al["signature_id"] == 4001.0 {
					drop = ev
				}
			case "stats":
				stats++
			}
		}
		require.NotNil(t, alert, "alert event for sid 4001")
		require.NotNil(t, drop, "drop event for sid 4001")
		for _, ev := range []map[string]any{alert, drop} {
			assert.Equal(t, "10.77.1.2", ev["src_ip"])
			assert.Equal(t, serverAddr, ev["dest_ip"])
			assert.Equal(t, 8080.0, ev["dest_port"])
			assert.Equal(t, "TCP", ev["proto"])
			assert.Equal(t, "itun1", ev["in_iface"])
			al := ev["alert"].(map[string]any)
			assert.Equal(t, "blocked", al["action"])
			assert.Equal(t, "e2e drop", al["signature"])
			assert.Equal(t, 3.0, al["rev"])
			assert.Equal(t, 1.0, al["gid"])
		}
		assert.Equal(t, "http", alert["app_proto"])
		// The dropped request never completed, yet its alert names it,
		// as Suricata's alert records do.
		if assert.Contains(t, alert, "http", "the alert of a dropped HTTP request carries its http object") {
			h := alert["http"].(map[string]any)
			assert.Equal(t, "/drop-me", h["url"])
			assert.Equal(t, "GET", h["http_method"])
			assert.Contains(t, h["hostname"], serverAddr)
		}
		assert.Equal(t, alert["flow_id"], drop["flow_id"])
		assert.Positive(t, stats, "stats events every second")
	})
	t.Run("metrics", func(t *testing.T) {
		m := nsExec(t, tp.appliance, "curl", "-sS", "--fail", "http://127.0.0.1:9108/metrics")
		for sid, action := range map[int]string{4001: "blocked", 4002: "blocked", 4003: "blocked", 4004: "blocked"} {
			assert.Contains(t, m, fmt.Sprintf(`interdict_enforce_alerts_total{action="%s",sid="%d"} 1`, action, sid))
		}
		assert.Contains(t, m, `interdict_enforce_verdicts_total{mode="ips",verdict="drop"} 1`)
		assert.Contains(t, m, `interdict_enforce_verdicts_total{mode="ips",verdict="reject"} 2`)
		assert.Contains(t, m, `interdict_enforce_verdicts_total{mode="ips",verdict="rejectdst"} 1`)
		assert.Contains(t, m, "interdict_rules_loaded 4\n")
	})
	t.Run("ctl-block", func(t *testing.T) {
		live := dialIn(t, tp.client, serverAddr+":8080")
		_, err := live.Write([]byte("GET /live HTTP/1.1\r\nHost: x\r\n\r\n"))
		require.NoError(t, err)
		br := bufio.NewReader(live)
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()

		out, errOut, code := ctl(sock, "flows")
		require.Equal(t, 0, code, errOut)
		assert.Regexp(t, `TCP\s+10\.77\.1\.2:\d+\s+10\.77\.2\.2:8080`, out)

		out, errOut, code = ctl(sock, "block", "--for", "4s", "--reason", "e2e", "10.77.1.0/24")
		require.Equal(t, 0, code, errOut)
		assert.Regexp(t, regexp.MustCompile(`blocked 10\.77\.1\.0/24 until .* \([1-9]\d* live flows reset\)`), out)

		_ = live.SetReadDeadline(time.Now().Add(3 * time.Second))
		_, err = br.ReadByte()
		assert.ErrorIs(t, err, syscall.ECONNRESET, "the live flow is reset")

		out, _, _ = ctl(sock, "blocks")
		assert.Contains(t, out, "10.77.1.0/24")
		assert.Contains(t, out, "e2e")
		var rec map[string]any
		for _, ev := range readEVE(t, evePath) {
			if ev["event_type"] == "interruption" {
				rec, _ = ev["interruption"].(map[string]any)
			}
		}
		require.NotNil(t, rec, "the block is an interruption event in the EVE file")
		assert.Equal(t, "block", rec["action"])
		assert.Equal(t, "10.77.1.0/24", rec["prefix"])
		assert.Equal(t, "api", rec["origin"])
		assert.Equal(t, "e2e", rec["reason"])
		assert.Equal(t, 28, curlExit(t, tp.client, "--max-time", "1", url+"/blocked"), "new connections fail")

		assert.Eventually(t, func() bool {
			return curlExit(t, tp.client, "--fail", "--max-time", "1", url+"/expired") == 0
		}, 10*time.Second, 200*time.Millisecond, "the block expires")
	})
	t.Run("ctl-reload-broken-refused", func(t *testing.T) {
		broken := e2eRules + `alert tcp any any -> any any (msg:"broken"; nosuchkeyword; sid:4999;)` + "\n"
		require.NoError(t, os.WriteFile(rulesPath, []byte(broken), 0o600))
		_, errOut, code := ctl(sock, "reload")
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, rulesPath+":5: sid 4999: unsupported keyword nosuchkeyword")
		assert.Equal(t, 56, curlExit(t, tp.client, "--max-time", "3", url+"/reject-me"), "the old rules keep enforcing")

		require.NoError(t, os.WriteFile(rulesPath, []byte(e2eRules+
			`reject http any any -> any any (msg:"e2e new"; flow:established,to_server; http.uri; content:"/new-bad"; sid:4005;)`+"\n"), 0o600))
		out, errOut, code := ctl(sock, "reload")
		require.Equal(t, 0, code, errOut)
		assert.Contains(t, out, "reloaded: generation 2, 5 rules loaded")
		assert.Equal(t, 56, curlExit(t, tp.client, "--max-time", "3", url+"/new-bad"), "the new rule enforces")
		m := nsExec(t, tp.appliance, "curl", "-sS", "--fail", "http://127.0.0.1:9108/metrics")
		assert.Contains(t, m, `interdict_rules_reloads_total{result="failed"} 1`)
		assert.Contains(t, m, `interdict_rules_reloads_total{result="ok"} 1`)
	})
}

func readEVE(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &ev), sc.Text())
		out = append(out, ev)
	}
	return out
}

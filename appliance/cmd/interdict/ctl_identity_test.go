package main

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/appliance"
	"github.com/interdict/interdict/tests/harness"
)

// TestCtlIdentitiesAndTokens drives a real appliance over the harness
// with `ctl identities|quarantine|release|tokens|tokens unbind`.
func TestCtlIdentitiesAndTokens(t *testing.T) {
	const secret = "glpat-ctlTestSecret0123456789abcdef"
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`link:
  mode: tun
  tun:
    name: t0
handler:
  mode: pass
eve:
  path: eve.json
admin:
  socket: ""
state_dir: state
identities:
  - {name: runner-a, prefixes: [10.0.0.2/32], tags: [ci]}
tokens:
  enabled: true
`), 0o600))
	s, err := appliance.LoadConfig(cfg)
	require.NoError(t, err)
	var logs strings.Builder
	a, err := appliance.New(s, slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	n := harness.New(t, a.StackOptions()...)
	require.NoError(t, a.Attach(n.Appliance))

	// A server that answers one request per connection.
	ap := netip.AddrPortFrom(harness.ServerAddr, 80)
	ln, err := n.Listen(ap)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Read(make([]byte, 4096))
				c.Write([]byte("HTTP/1.1 204 No Content\r\n\r\n"))
			}()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := n.Dial(ctx, ap)
	require.NoError(t, err)
	_, err = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nPrivate-Token: " + secret + "\r\n\r\n"))
	require.NoError(t, err)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(c)
	c.Close()
	require.Equal(t, "HTTP/1.1 204 No Content\r\n\r\n", string(got))

	sock := serveAdmin(t, a, filepath.Join(dir, "a.sock"))

	run := func(args ...string) string {
		t.Helper()
		out, errOut, err := runCtl(t, sock, args...)
		require.NoError(t, err, errOut)
		return out
	}
	// The client has closed, but the appliance tears the flow down on its
	// own schedule (FIN on both legs): the count reaches 0 shortly after.
	idle := regexp.MustCompile(`runner-a\s+ci\s+active\s+-\s+0\s+-`)
	var last string
	if !assert.Eventually(t, func() bool {
		last = run("identities")
		return idle.MatchString(last)
	}, 5*time.Second, 20*time.Millisecond) {
		t.Fatalf("identities never showed runner-a without flows:\n%s", last)
	}
	assert.Contains(t, run("quarantine", "--for", "2h", "--reason", "ctl test", "runner-a"), "runner-a quarantined for 1h59m")
	assert.Regexp(t, `runner-a\s+ci\s+quarantined\s+1h59m\d+s\s+0\s+manual\s+ctl test`, run("identities"))
	assert.Contains(t, run("release", "--tag", "ci"), "released runner-a")
	assert.Contains(t, run("release", "runner-a"), "nothing to release")
	// Flags after the name, as the README writes `ctl block PREFIX --for`,
	// are flags too, not arguments the command refuses.
	assert.Contains(t, run("pause", "runner-a", "--for", "30m", "--reason", "after"), "runner-a paused for 29m")
	assert.Regexp(t, `runner-a\s+ci\s+paused\s+29m\d+s\s+0\s+manual\s+after`, run("identities"))
	assert.Contains(t, run("release", "runner-a"), "released runner-a")
	_, _, err = runCtl(t, sock, "pause", "ghost")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `no such identity "ghost" (HTTP 404)`)

	toks := run("tokens")
	assert.Regexp(t, `[0-9a-f]{12}\s+glpa…\s+runner-a\s+tofu`, toks)
	prefix := strings.Fields(strings.Split(toks, "\n")[1])[0]
	assert.Contains(t, run("tokens", "unbind", prefix), "unbound "+prefix+" from runner-a")
	assert.NotContains(t, run("tokens", "--json"), prefix)

	eve, err := os.ReadFile(filepath.Join(dir, "eve.json"))
	require.NoError(t, err)
	for name, out := range map[string]string{"logs": logs.String(), "tokens output": toks, "EVE": string(eve)} {
		assert.NotContains(t, out, secret, name)
	}
}

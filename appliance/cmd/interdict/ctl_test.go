package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/interdict/interdict/appliance/admin"
)

type ctlBackend struct {
	mu     sync.Mutex
	blocks map[netip.Prefix]admin.Block
	good   bool
}

type refused struct{}

func (refused) Error() string { return "reload refused" }
func (refused) RefusalReasons() []string {
	return []string{"/etc/x.rules:3: sid 5: unsupported keyword foo"}
}

func (b *ctlBackend) Status() admin.Status {
	return admin.Status{Version: "v9", Mode: "ips", Handler: "detect", UptimeSeconds: 65, RulesLoaded: 12, RuleGeneration: 3, FlowsActive: 1}
}
func (b *ctlBackend) Flows() []admin.Flow {
	return []admin.Flow{{ID: 4, Proto: "TCP", Src: "10.0.0.2:5000", Dst: "10.99.0.1:80", BytesToServer: 77, BytesToClient: 88, Verdict: "continue", AgeSeconds: 2}}
}
func (b *ctlBackend) Block(p netip.Prefix, d time.Duration, reason string) (admin.Block, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bl := admin.Block{Prefix: p.String(), Until: time.Now().Add(d), Reason: reason, Origin: "api", FlowsReset: 1}
	b.blocks[p] = bl
	return bl, nil
}
func (b *ctlBackend) Unblock(p netip.Prefix) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.blocks[p]
	delete(b.blocks, p)
	return ok, nil
}
func (b *ctlBackend) Blocks() []admin.Block {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []admin.Block
	for _, x := range b.blocks {
		out = append(out, x)
	}
	return out
}
func (b *ctlBackend) Reload(context.Context) (admin.Rules, error) {
	if !b.good {
		return admin.Rules{}, refused{}
	}
	return admin.Rules{Generation: 4, Loaded: 13}, nil
}
func (b *ctlBackend) Rules() admin.Rules {
	return admin.Rules{Generation: 3, Loaded: 12, RejectedCount: 1, Files: []admin.RuleFile{{File: "a.rules", Parsed: 13, Rejected: 1}},
		Rejected: []admin.RejectedRule{{File: "a.rules", Line: 9, SID: 5, Reason: "unsupported keyword foo"}}}
}

func runCtl(t *testing.T, sock string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	app := &cli.App{Name: "interdict", Commands: []*cli.Command{ctlCommand()}, Writer: &out, ErrWriter: &errOut,
		ExitErrHandler: func(*cli.Context, error) {}}
	err := app.Run(flagsFirst(app.Commands, append([]string{"interdict", "ctl", "--socket", sock}, args...)))
	return out.String(), errOut.String(), err
}

func TestCtl(t *testing.T) {
	dir, err := os.MkdirTemp("", "ctl")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "a.sock")
	ln, err := admin.ListenUnix(sock)
	require.NoError(t, err)
	be := &ctlBackend{blocks: map[netip.Prefix]admin.Block{}}
	srv := httptest.NewUnstartedServer(admin.NewHandler(be, nil))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)

	cases := []struct {
		name string
		args []string
		want []string // substrings of stdout
	}{
		{"status", []string{"status"}, []string{"version          v9", "uptime           1m5s", "rules            12 loaded, 0 rejected (generation 3)", "flows active     1"}},
		{"flows", []string{"flows"}, []string{"ID  PROTO  SOURCE", "4   TCP    10.0.0.2:5000  10.99.0.1:80  -         77         88         continue  2s"}},
		{"block", []string{"block", "--for", "10m", "--reason", "scan", "10.0.0.0/24"}, []string{"blocked 10.0.0.0/24 until ", "(1 live flows reset)"}},
		{"blocks", []string{"blocks"}, []string{"PREFIX       EXPIRES IN  ORIGIN  REASON", "10.0.0.0/24  10m0s       api     scan"}},
		{"unblock", []string{"unblock", "10.0.0.0/24"}, []string{"unblocked 10.0.0.0/24"}},
		// The README's spelling: the prefix first, then the flags.
		{"block-flags-after", []string{"block", "10.0.1.0/24", "--for", "20m", "--reason", "scan2"}, []string{"blocked 10.0.1.0/24 until "}},
		{"blocks-flags-after", []string{"blocks"}, []string{"10.0.1.0/24", "scan2"}},
		{"unblock-flags-after", []string{"unblock", "10.0.1.0/24", "--json"}, []string{`"unblocked": "10.0.1.0/24"`}},
		{"rules", []string{"rules"}, []string{"generation 3", "12 rules loaded, 1 rejected", "a.rules  13      1", "rejected: a.rules:9: sid 5: unsupported keyword foo"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, err := runCtl(t, sock, tc.args...)
			require.NoError(t, err, errOut)
			for _, w := range tc.want {
				assert.Contains(t, out, w)
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		out, _, err := runCtl(t, sock, "status", "--json")
		require.NoError(t, err)
		var st admin.Status
		require.NoError(t, json.Unmarshal([]byte(out), &st))
		assert.Equal(t, be.Status(), st)
	})
	t.Run("unblock-missing", func(t *testing.T) {
		_, _, err := runCtl(t, sock, "unblock", "10.9.9.9")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "10.9.9.9/32 is not blocked (HTTP 404)")
	})
	t.Run("block-needs-prefix", func(t *testing.T) {
		_, _, err := runCtl(t, sock, "block")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "want exactly one PREFIX")
	})
	t.Run("reload-refused", func(t *testing.T) {
		_, errOut, err := runCtl(t, sock, "reload")
		var ec cli.ExitCoder
		require.True(t, errors.As(err, &ec), "%v", err)
		assert.Equal(t, 1, ec.ExitCode())
		assert.Contains(t, errOut, "/etc/x.rules:3: sid 5: unsupported keyword foo")
	})
	t.Run("reload-ok", func(t *testing.T) {
		be.good = true
		out, _, err := runCtl(t, sock, "reload")
		require.NoError(t, err)
		assert.Contains(t, out, "reloaded: generation 4, 13 rules loaded, 0 rejected")
	})
	t.Run("no-server", func(t *testing.T) {
		_, _, err := runCtl(t, filepath.Join(dir, "none.sock"), "status")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "none.sock")
	})
}

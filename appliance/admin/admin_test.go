package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fake records what the API asked for.
type fake struct {
	mu       sync.Mutex
	blocks   map[netip.Prefix]Block
	reloadOK bool
}

type refusal struct{ reasons []string }

func (r *refusal) Error() string            { return "refused: " + strings.Join(r.reasons, "; ") }
func (r *refusal) RefusalReasons() []string { return r.reasons }

func (f *fake) Status() Status {
	return Status{Version: "v1", Mode: "ips", RulesLoaded: 42, FlowsActive: 1, BlockedSources: len(f.Blocks())}
}
func (f *fake) Flows() []Flow {
	return []Flow{{ID: 7, Proto: "TCP", Src: "10.0.0.2:40000", Dst: "10.99.0.1:80", Identity: "ci", BytesToServer: 10, BytesToClient: 20, Verdict: "continue", AgeSeconds: 3}}
}
func (f *fake) Block(p netip.Prefix, d time.Duration, reason string) (Block, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p.Addr().IsLoopback() {
		return Block{}, fmt.Errorf("guard: %w", ErrUnavailable)
	}
	b := Block{Prefix: p.String(), Until: time.Now().Add(d), Reason: reason, FlowsReset: 2}
	f.blocks[p] = b
	return b, nil
}
func (f *fake) Unblock(p netip.Prefix) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.blocks[p]
	delete(f.blocks, p)
	return ok, nil
}
func (f *fake) Blocks() []Block {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Block
	for _, b := range f.blocks {
		out = append(out, b)
	}
	return out
}
func (f *fake) Reload(context.Context) (Rules, error) {
	if f.reloadOK {
		return Rules{Generation: 2, Loaded: 43}, nil
	}
	return Rules{}, &refusal{[]string{"x.rules:4: sid 9: unsupported keyword nosuchkeyword"}}
}
func (f *fake) Rules() Rules {
	return Rules{Generation: 1, Loaded: 42, RejectedCount: 1, Rejected: []RejectedRule{{File: "x.rules", Line: 4, SID: 9, Reason: "bad"}}}
}

func startUnix(t *testing.T, b Backend) (*Client, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "adm") // short: unix socket paths are limited to 108 bytes
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "sub", "admin.sock")
	ln, err := ListenUnix(path)
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(NewHandler(b, slog.New(slog.NewTextHandler(io.Discard, nil))))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return NewUnixClient(path), path
}

func TestAPIOverUnixSocket(t *testing.T) {
	f := &fake{blocks: map[netip.Prefix]Block{}}
	c, path := startUnix(t, f)
	ctx := context.Background()

	t.Run("socket-mode-0600", func(t *testing.T) {
		fi, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
		assert.NotZero(t, fi.Mode()&os.ModeSocket)
	})
	t.Run("second-listener-refused", func(t *testing.T) {
		_, err := ListenUnix(path)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "another process is serving it")
	})
	t.Run("status", func(t *testing.T) {
		st, err := c.Status(ctx)
		require.NoError(t, err)
		assert.Equal(t, Status{Version: "v1", Mode: "ips", RulesLoaded: 42, FlowsActive: 1}, st)
	})
	t.Run("flows", func(t *testing.T) {
		fl, err := c.Flows(ctx)
		require.NoError(t, err)
		require.Len(t, fl, 1)
		assert.Equal(t, f.Flows()[0], fl[0])
	})
	t.Run("block-unblock", func(t *testing.T) {
		b, err := c.Block(ctx, BlockRequest{Prefix: "10.0.0.0/24", Duration: "10m", Reason: "scan"})
		require.NoError(t, err)
		assert.Equal(t, "10.0.0.0/24", b.Prefix)
		assert.Equal(t, 2, b.FlowsReset)
		assert.WithinDuration(t, time.Now().Add(10*time.Minute), b.Until, 5*time.Second)
		b, err = c.Block(ctx, BlockRequest{Prefix: "10.0.1.7"})
		require.NoError(t, err)
		assert.Equal(t, "10.0.1.7/32", b.Prefix, "a bare address is a /32")
		assert.WithinDuration(t, time.Now().Add(DefaultBlockDuration), b.Until, 5*time.Second)
		bl, err := c.Blocks(ctx)
		require.NoError(t, err)
		assert.Len(t, bl, 2)
		require.NoError(t, c.Unblock(ctx, "10.0.0.0/24"))
		err = c.Unblock(ctx, "10.0.0.0/24")
		assert.True(t, IsStatus(err, http.StatusNotFound), "%v", err)
		assert.Contains(t, err.Error(), "10.0.0.0/24 is not blocked")
	})
	t.Run("reload-refused", func(t *testing.T) {
		_, err := c.Reload(ctx)
		var ae *APIError
		require.True(t, errors.As(err, &ae), "%v", err)
		assert.Equal(t, http.StatusConflict, ae.Status)
		assert.Equal(t, []string{"x.rules:4: sid 9: unsupported keyword nosuchkeyword"}, ae.Reasons)
		f.reloadOK = true
		r, err := c.Reload(ctx)
		require.NoError(t, err)
		assert.Equal(t, 2, r.Generation)
	})
	t.Run("rules", func(t *testing.T) {
		r, err := c.Rules(ctx)
		require.NoError(t, err)
		assert.Equal(t, f.Rules(), r)
	})
	errCases := []struct {
		name, method, path, body string
		status                   int
		msg                      string
	}{
		{"bad-prefix", "POST", "/v1/block", `{"prefix":"10.0.0.300/24"}`, 400, `invalid prefix "10.0.0.300/24"`},
		{"bad-duration", "POST", "/v1/block", `{"prefix":"10.0.0.0/24","duration":"forever"}`, 400, `duration "forever"`},
		{"negative-duration", "POST", "/v1/block", `{"prefix":"10.0.0.0/24","duration":"-1m"}`, 400, `duration "-1m"`},
		{"unknown-field", "POST", "/v1/block", `{"prefix":"10.0.0.0/24","for":"1m"}`, 400, `unknown field "for"`},
		{"not-json", "POST", "/v1/block", `block it`, 400, "block: body:"},
		{"backend-unavailable", "POST", "/v1/block", `{"prefix":"127.0.0.1"}`, 503, "not available"},
		{"unblock-bad", "DELETE", "/v1/block/nonsense", "", 400, `invalid prefix "nonsense"`},
		{"wrong-method", "GET", "/v1/reload", "", 404, "no endpoint GET /v1/reload"},
		{"unknown", "GET", "/v2/x", "", 404, "no endpoint GET /v2/x"},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = []byte(tc.body)
			}
			err := c.do(ctx, tc.method, tc.path, body, nil)
			var ae *APIError
			require.True(t, errors.As(err, &ae), "%v", err)
			assert.Equal(t, tc.status, ae.Status)
			assert.Contains(t, ae.Message, tc.msg)
		})
	}
}

func TestTCPNeedsToken(t *testing.T) {
	_, err := RequireToken(http.NotFoundHandler(), "")
	require.Error(t, err, "no TCP listener without a token")

	const token = "s3cret-token-0123456789"
	h, err := RequireToken(NewHandler(&fake{blocks: map[netip.Prefix]Block{}}, nil), token)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name, token string
		ok          bool
	}{{"none", "", false}, {"wrong", "s3cret-token-0123456788", false}, {"prefix", "s3cret", false}, {"right", token, true}} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewTCPClient(srv.URL, tc.token)
			require.NoError(t, err)
			st, err := c.Status(context.Background())
			if tc.ok {
				require.NoError(t, err)
				assert.Equal(t, 42, st.RulesLoaded)
				return
			}
			assert.True(t, IsStatus(err, http.StatusUnauthorized), "%v", err)
		})
	}
	_, err = NewTCPClient("unix:///x", "t")
	assert.Error(t, err)
}

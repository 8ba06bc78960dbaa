//go:build !windows

package appliance

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// freePort returns a loopback address no one listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func httpGet(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// A running appliance answers the probes on the metrics listener (where
// orchestrators reach it) and on the admin socket; readiness reflects the
// appliance's state, and ends when shutdown begins.
func TestServeHealthProbes(t *testing.T) {
	addr := freePort(t)
	fx := newFixture(t, "metrics:\n  listen: "+addr+"\n")
	fx.serve(t)

	c := &http.Client{Timeout: 5 * time.Second}
	code, body := httpGet(t, c, "http://"+addr+"/healthz")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ok\n", body)
	code, body = httpGet(t, c, "http://"+addr+"/readyz")
	assert.Equal(t, http.StatusOK, code, body)

	unix := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", fx.sock)
		}}}
	code, body = httpGet(t, unix, "http://interdict/readyz")
	assert.Equal(t, http.StatusOK, code, body)

	fx.a.stopping.Store(true)
	code, body = httpGet(t, c, "http://"+addr+"/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "not ready: shutting down\n", body)
	fx.a.stopping.Store(false)
}

// An appliance whose stack is not attached yet is not ready.
func TestReadyNeedsStack(t *testing.T) {
	fx := newFixture(t, "")
	require.NoError(t, fx.a.Ready())
	fx.a.stack.Store(nil)
	assert.EqualError(t, fx.a.Ready(), "no link attached yet")
}

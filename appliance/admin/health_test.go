package admin

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func get(t *testing.T, url string, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if len(hdr) == 2 {
		req.Header.Set(hdr[0], hdr[1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// The probes answer without the bearer token on the TCP listener, where
// every other endpoint still refuses a request without it; /readyz says
// why it is not ready with a 503.
func TestHealthProbes(t *testing.T) {
	var notReady error
	mux := http.NewServeMux()
	RegisterHealth(mux, func() error { return notReady })
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) { plain(w, http.StatusOK, "secret") })
	h, err := RequireToken(mux, "0123456789abcdef-token")
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()

	code, body := get(t, srv.URL+"/healthz")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ok\n", body)
	code, body = get(t, srv.URL+"/readyz")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ready\n", body)

	notReady = errors.New("no rules loaded")
	code, body = get(t, srv.URL+"/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "not ready: no rules loaded\n", body)

	code, _ = get(t, srv.URL+"/v1/status")
	assert.Equal(t, http.StatusUnauthorized, code, "other endpoints still need the token")
	code, body = get(t, srv.URL+"/v1/status", "Authorization", "Bearer 0123456789abcdef-token")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "secret\n", body)
}

package harness

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/appliance/identity"
	"github.com/interdict/interdict/appliance/state"
	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/netstack"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestTokenBoundOnFirstUseRejectedForAnotherIdentity(t *testing.T) {
	leakCheck(t)
	const secret = "ghp_Zq81SecretTokenValue0123456789"
	logs := &lockedBuf{}
	st, err := state.Open(t.TempDir())
	require.NoError(t, err)
	in := newIdentNet(t, identSetup{store: st, logs: logs, tokens: identity.TokensConfig{Enabled: true},
		interrupt: identity.InterruptConfig{Triggers: []identity.TriggerConfig{
			{Name: "stolen-token", TokenMisuse: true, Action: identity.ActionQuarantine, For: "1h"}}}})
	e := in.e
	srv := &reqServer{}
	serve(t, in.n, httpAP, srv.serve)

	req := "GET /repos HTTP/1.1\r\nHost: example.test\r\nAuthorization: Bearer " + secret + "\r\n\r\n"
	got, err := request(t, in.n, ClientAddr, httpAP, req)
	require.NoError(t, err)
	assert.Equal(t, httpResponse, got, "runner-a's first use binds the token and passes")

	_, err = request(t, in.n, ClientAddr2, httpAP, req)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "reset", "runner-b's use of runner-a's token is rejected")
	require.Eventually(t, func() bool { return srv.accepted() == 2 }, 5*time.Second, 5*time.Millisecond)
	require.Error(t, srv.waitEnd(t, 1))
	srvGot, _ := srv.got(1)
	assert.Empty(t, srvGot, "the server never saw runner-b's request")
	require.Eventually(t, func() bool { _, ok := e.Get("runner-b"); return ok }, 5*time.Second, 5*time.Millisecond,
		"token misuse is an interruption trigger")

	binds := e.TokenBindings()
	require.Len(t, binds, 1)
	assert.Equal(t, "runner-a", binds[0].Identity)
	assert.Equal(t, "ghp_…", binds[0].Lead)
	evs := in.eve.of(t, eve.TypePolicy, 0)
	require.Len(t, evs, 1)
	assert.Equal(t, "tokens", evs[0].Policy.Policy)
	assert.Equal(t, "runner-b", evs[0].Identity.Name)
	assert.Equal(t, "sha256:"+binds[0].HashPrefix+" ghp_…", evs[0].Policy.Token)
	assert.Equal(t, 1.0, counter(t, in.reg, "interdict_identity_token_misuse_total", map[string]string{"action": "deny"}))

	// The token in clear appears in no output: logs, EVE, the API's
	// view, the metrics, the state directory.
	api, err := json.Marshal(binds)
	require.NoError(t, err)
	mfs, err := in.reg.Gather()
	require.NoError(t, err)
	var metrics strings.Builder
	for _, mf := range mfs {
		metrics.WriteString(mf.String())
	}
	var stored strings.Builder
	keys, err := st.Keys("tokens")
	require.NoError(t, err)
	for _, k := range keys {
		v, err := st.Get("tokens", k)
		require.NoError(t, err)
		stored.WriteString(k)
		stored.Write(v)
	}
	require.NotEmpty(t, logs.String())
	for name, out := range map[string]string{"logs": logs.String(), "EVE": readAll(in.eve), "API": string(api),
		"metrics": metrics.String(), "state": stored.String()} {
		assert.NotContains(t, out, secret, name)
		assert.NotContains(t, out, secret[4:12], name+" (a part of it)")
	}

	// Unbinding lets the next identity bind it.
	_, err = e.Release("runner-b", "")
	require.NoError(t, err)
	un, err := e.Unbind(binds[0].HashPrefix)
	require.NoError(t, err)
	require.Len(t, un, 1)
	assert.Empty(t, e.TokenBindings())
}

// TestTokenSplitHeadIsChecked: a request head written one byte at a time
// is held until it is whole; the misused token is rejected before any of
// it reaches the server.
func TestTokenSplitHeadIsChecked(t *testing.T) {
	leakCheck(t)
	in := newIdentNet(t, identSetup{tokens: identity.TokensConfig{Enabled: true}})
	srv := &reqServer{}
	serve(t, in.n, httpAP, srv.serve)
	req := "GET /repos HTTP/1.1\r\nHost: example.test\r\nX-Api-Key: k3y-0123456789abcdef0123\r\n\r\n"
	got, err := request(t, in.n, ClientAddr, httpAP, req)
	require.NoError(t, err)
	require.Equal(t, httpResponse, got)

	c, err := dialFrom(in.n, ClientAddr2, httpAP, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	writeByByte(c, req)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.ReadAll(c)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "reset")
	require.Eventually(t, func() bool { return srv.accepted() == 2 }, 5*time.Second, 5*time.Millisecond)
	require.Error(t, srv.waitEnd(t, 1))
	srvGot, _ := srv.got(1)
	assert.Empty(t, srvGot, "the server received none of the head")
	assert.Len(t, in.eve.of(t, eve.TypePolicy, 0), 1)
}

// passAfterFirst is an inspector that gives up on a flow after its first
// chunk, as an IDS-mode handler does when it stops inspecting (a pass
// verdict, a panic with fail-open).
type passAfterFirst struct{}

func (passAfterFirst) NewFlow(*netstack.FlowInfo) (netstack.FlowHandler, netstack.Verdict) {
	return passAfterFirst{}, netstack.Continue
}
func (passAfterFirst) Chunk(netstack.Direction, []byte) netstack.Verdict { return netstack.Pass }
func (passAfterFirst) Close(netstack.FlowStats)                          {}

// TestTokenCheckedAfterInnerPass: the rule inspector's pass ends
// signature inspection of a flow, not the identity's token checks. On a
// keep-alive connection whose first request the inspector passed,
// runner-b's second request carrying runner-a's token is still rejected
// before the server sees it.
func TestTokenCheckedAfterInnerPass(t *testing.T) {
	leakCheck(t)
	in := newIdentNet(t, identSetup{tokens: identity.TokensConfig{Enabled: true}, inner: passAfterFirst{}})
	srv := &reqServer{}
	serve(t, in.n, httpAP, srv.serve)
	stolen := "GET /repos HTTP/1.1\r\nHost: example.test\r\nX-Api-Key: k3y-0123456789abcdef0123\r\n\r\n"
	got, err := request(t, in.n, ClientAddr, httpAP, stolen)
	require.NoError(t, err)
	require.Equal(t, httpResponse, got, "runner-a binds its token")

	c, err := dialFrom(in.n, ClientAddr2, httpAP, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	first := "GET /health HTTP/1.1\r\nHost: example.test\r\n\r\n"
	_, err = c.Write([]byte(first))
	require.NoError(t, err)
	require.Eventually(t, func() bool { g, _ := srv.got(1); return g == first }, 5*time.Second, 5*time.Millisecond)
	_, err = c.Write([]byte(stolen))
	require.NoError(t, err)
	require.Error(t, srv.waitEnd(t, 1), "the server's conn is reset")
	srvGot, _ := srv.got(1)
	assert.Equal(t, first, srvGot, "the request with runner-a's token never reached the server")
	assert.Len(t, in.eve.of(t, eve.TypePolicy, 0), 1)
}

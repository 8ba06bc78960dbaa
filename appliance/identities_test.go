package appliance

import (
	"context"
	"io"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/appliance/admin"
	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/tests/harness"
)

const identityConfig = `identities:
  - {name: runner-a, prefixes: [10.0.0.2/32], tags: [ci]}
interruption:
  triggers:
    - name: secret-leak
      tags: [ci]
      alerts: {sids: [1003]}
      action: quarantine
      for: 10m
`

func adminClient(t *testing.T, a *Appliance) *admin.Client {
	t.Helper()
	const tok = "0123456789abcdef0123"
	h, err := admin.RequireToken(admin.NewHandler(a, nil), tok)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cl, err := admin.NewTCPClient(srv.URL, tok)
	require.NoError(t, err)
	return cl
}

// TestIdentityAlertQuarantinesAtOnce: a selected sid quarantines its
// identity on the first alert; the operator sees it and releases it over
// the admin API.
func TestIdentityAlertQuarantinesAtOnce(t *testing.T) {
	fx := newFixture(t, identityConfig)
	cl := adminClient(t, fx.a)
	ctx := context.Background()
	live := fx.liveFlow(t)

	// The alerting flow is the identity's too: the quarantine may reset
	// it before its chunk or the answer is through.
	_, _ = fx.exchange(t, "ALERTME")
	require.Eventually(t, func() bool { _, ok := fx.a.Interruptions().Get("runner-a"); return ok }, 5*time.Second, 5*time.Millisecond)
	_ = live.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := live.Read(make([]byte, 1))
	require.Error(t, err, "the other live flow is reset")
	fx.refused(t, "a quarantined identity cannot connect")

	st, err := cl.Identities(ctx)
	require.NoError(t, err)
	require.Len(t, st, 1)
	assert.Equal(t, "runner-a", st[0].Name)
	assert.Equal(t, "quarantined", st[0].State)
	assert.Equal(t, "secret-leak", st[0].LastTrigger)
	assert.InDelta(t, 600, st[0].RemainingSeconds, 5)
	n, err := testutil.GatherAndCount(fx.a.Registry(), "interdict_identity_interruptions_total")
	require.NoError(t, err)
	assert.Equal(t, 1, n, "one series: quarantine by secret-leak")
	mfs, err := fx.a.Registry().Gather()
	require.NoError(t, err)
	var quarantined float64
	for _, mf := range mfs {
		if mf.GetName() == "interdict_identity_quarantined" {
			quarantined = mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	assert.Equal(t, 1.0, quarantined)

	var ev *eve.Event
	for _, e := range fx.events(t) {
		if e.EventType == eve.TypeInterruption && e.Interruption.Trigger == "secret-leak" {
			ev = &e
			break
		}
	}
	require.NotNil(t, ev, "an EVE interruption event")
	assert.Equal(t, "runner-a", ev.Identity.Name)
	require.Len(t, ev.Interruption.Evidence, 1)
	assert.Equal(t, uint32(1003), ev.Interruption.Evidence[0].SignatureID)
	assert.NotZero(t, ev.Interruption.Evidence[0].FlowID)

	_, err = cl.Release(ctx, admin.ReleaseRequest{Identity: "ghost"})
	assert.True(t, admin.IsStatus(err, 404), "an unknown identity: %v", err)
	r, err := cl.Release(ctx, admin.ReleaseRequest{Tag: "ci"})
	require.NoError(t, err)
	assert.Equal(t, []string{"runner-a"}, r.Released)
	got, err := fx.exchange(t, "hello")
	require.NoError(t, err)
	assert.Equal(t, "ok:hello", got)

	out, err := cl.Interrupt(ctx, admin.InterruptRequest{Identity: "runner-a", Action: "pause", Duration: "2d", Reason: "audit"})
	require.NoError(t, err)
	require.Len(t, out, 1)
	assert.Equal(t, "paused", out[0].State)
	assert.InDelta(t, 48*3600, out[0].RemainingSeconds, 5)
	_, err = fx.exchange(t, "hello")
	assert.Error(t, err, "a paused identity's new flow is refused")
	_, err = cl.Interrupt(ctx, admin.InterruptRequest{Identity: "runner-a", Tag: "ci", Action: "pause"})
	assert.True(t, admin.IsStatus(err, 400), "identity and tag: %v", err)
}

// TestPolicyReloadKeepsRunningPolicyOnError: a broken policy file is
// refused with file:line: key: reason and the running policy stays; a
// good one is swapped in.
func TestPolicyReloadKeepsRunningPolicyOnError(t *testing.T) {
	const allowServer = "identities:\n  - {name: runner-a, prefixes: [10.0.0.2/32]}\npolicies:\n  - name: p\n    identities: [runner-a]\n    allow:\n      - to: 10.99.0.1/32\n"
	fx := newFixture(t, allowServer)
	cfg := filepath.Join(fx.dir, "c.yaml")
	good, err := os.ReadFile(cfg)
	require.NoError(t, err)
	_, err = fx.exchange(t, "hello")
	require.NoError(t, err, "the server is allowed")

	for name, tc := range map[string]struct{ bad, want string }{
		"bad prefix":       {"      - to: 10.99.0.1/40\n", `c.yaml:19: policies[0].allow[0].to: invalid prefix "10.99.0.1/40"`},
		"bad time zone":    {"      - {to: x.example.com, schedule: {tz: Nowhere/City}}\n", `c.yaml:19: policies[0].allow[0].schedule.tz: unknown time zone "Nowhere/City"`},
		"unknown key":      {"      - {to: x.example.com, port: 80}\n", `c.yaml:19: policies.0.allow.0.port: unknown key (did you mean ports?)`},
		"unknown identity": {"  - name: q\n    identities: [ghost]\n", `c.yaml:20: policies[1].identities[0]: unknown identity "ghost"`},
	} {
		text := strings.Replace(string(good), "      - to: 10.99.0.1/32\n", tc.bad, 1)
		require.NoError(t, os.WriteFile(cfg, []byte(text), 0o600))
		_, err := fx.a.Reload(context.Background())
		var re *ReloadError
		require.ErrorAs(t, err, &re, name)
		assert.Contains(t, re.Reasons[0], tc.want, name)
		got, err := fx.exchange(t, "hello")
		require.NoError(t, err, "%s: the running policy stays", name)
		assert.Equal(t, "ok:hello", got)
	}

	// A valid policy that no longer allows the server is swapped in, with
	// a new trigger.
	next := strings.Replace(string(good), "10.99.0.1/32", "10.98.0.0/16", 1) +
		"interruption:\n  triggers:\n    - {name: scan, scan: {ports: 2}, action: pause}\n"
	require.NoError(t, os.WriteFile(cfg, []byte(next), 0o600))
	_, err = fx.a.Reload(context.Background())
	require.NoError(t, err)
	_, err = fx.exchange(t, "hello")
	require.Error(t, err, "the reloaded policy denies the server")
	_, paused := fx.a.Interruptions().Get("runner-a")
	require.False(t, paused)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if c, err := fx.net.Dial(ctx, netip.AddrPortFrom(harness.ServerAddr, 81)); err == nil {
		c.Close()
	}
	in, paused := fx.a.Interruptions().Get("runner-a")
	require.True(t, paused, "the reloaded scan trigger counted a second port")
	assert.Equal(t, "scan", in.Trigger)
}

// TestIdentityHTTP401PausesAfterCount: responses 401 to the identity,
// seen by the HTTP parser, count towards an http_status trigger.
func TestIdentityHTTP401PausesAfterCount(t *testing.T) {
	fx := newFixture(t, `identities:
  - {name: runner-a, prefixes: [10.0.0.2/32]}
interruption:
  triggers:
    - {name: key-probing, http_status: [401, 403], count: 3, window: 1m, action: pause, for: 5m}
`)
	ap := netip.AddrPortFrom(harness.ServerAddr, 8081)
	ln, err := fx.net.Listen(ap)
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
				c.Write([]byte("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
			}()
		}
	}()
	probe := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := fx.net.Dial(ctx, ap)
		require.NoError(t, err)
		defer c.Close()
		_, err = c.Write([]byte("GET /api HTTP/1.1\r\nHost: api.test\r\nAuthorization: Bearer stolen\r\n\r\n"))
		require.NoError(t, err)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, _ := io.ReadAll(c)
		assert.Contains(t, string(got), "401")
	}
	probe()
	probe()
	_, paused := fx.a.Interruptions().Get("runner-a")
	assert.False(t, paused, "two 401s are under the count")
	probe()
	require.Eventually(t, func() bool { _, ok := fx.a.Interruptions().Get("runner-a"); return ok }, 5*time.Second, 5*time.Millisecond)
	in, _ := fx.a.Interruptions().Get("runner-a")
	assert.Equal(t, "pause", in.Action)
	require.Len(t, in.Evidence, 3)
	assert.Equal(t, 401, in.Evidence[2].Status)
	_, err = fx.exchange(t, "hello")
	assert.Error(t, err, "a paused identity's new flow is refused")
}

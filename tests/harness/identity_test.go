package harness

// End-to-end interruption of prefix identities: the identity engine in
// front of the handler, the registry naming the harness's two client
// addresses (runner-a, runner-b), the guard and flow table attached.

import (
	"crypto/sha256"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/appliance/identity"
	"github.com/interdict/interdict/appliance/policy/policytest"
	"github.com/interdict/interdict/appliance/state"
	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/netstack"
)

type identNet struct {
	n   *Net
	e   *identity.Engine
	reg *prometheus.Registry
	eve *eveBuf
}

// runners is the registry of the identity tests: runner-a is the
// harness's first client address, runner-b its second; both tagged ci.
func runners(t testing.TB) *identity.Registry {
	r := identity.NewRegistry()
	require.NoError(t, r.Replace("config", []identity.Entry{
		{Identity: &identity.Identity{Name: "runner-a", Tags: []string{"ci"}}, Prefixes: []netip.Prefix{netip.PrefixFrom(ClientAddr, 32)}},
		{Identity: &identity.Identity{Name: "runner-b", Tags: []string{"ci"}}, Prefixes: []netip.Prefix{netip.PrefixFrom(ClientAddr2, 32)}},
	}))
	return r
}

// identSetup configures the engine of an identity test.
type identSetup struct {
	interrupt identity.InterruptConfig
	policies  []identity.PolicyConfig
	tokens    identity.TokensConfig
	store     state.Store
	clock     *policytest.Clock // nil: the wall clock
	logs      io.Writer         // nil: discarded
	inner     netstack.Handler  // nil: netstack.PassAll
}

// newIdentNet builds the harness with the identity engine in front of
// PassAll, runner-a and runner-b as the client's two addresses.
func newIdentNet(t *testing.T, s identSetup) *identNet {
	t.Helper()
	in := &identNet{reg: prometheus.NewRegistry(), eve: &eveBuf{}}
	reg := runners(t)
	if s.logs == nil {
		s.logs = io.Discard
	}
	log := slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts := identity.Options{Registerer: in.reg, Events: eve.NewWriter(in.eve), Store: s.store, Logger: log}
	if s.clock != nil {
		opts.Clock, opts.SweepEvery = s.clock, -1
	}
	e, err := identity.NewEngine(reg, s.interrupt, opts)
	require.NoError(t, err)
	require.NoError(t, e.SetPolicies(s.policies, nil))
	require.NoError(t, e.SetTokens(s.tokens, nil))
	if s.inner == nil {
		s.inner = netstack.PassAll{}
	}
	in.n = New(t, netstack.WithHandler(e.Wrap(s.inner)), netstack.WithIdentity(reg.FlowIdentity),
		netstack.WithMetrics(in.reg), netstack.WithLogger(log))
	t.Cleanup(e.Close)
	require.NoError(t, e.Attach(in.n.Appliance.Guard(), in.n.Appliance.Flows()))
	addClientAddr(t, in.n, ClientAddr2)
	in.e = e
	return in
}

var echoAP = netip.AddrPortFrom(ServerAddr, 7)

func echo(c net.Conn) { io.Copy(c, c) }

// openEcho opens a flow from src and proves it carries bytes.
func openEcho(t *testing.T, n *Net, src netip.Addr) net.Conn {
	t.Helper()
	c, err := dialFrom(n, src, echoAP, 5*time.Second)
	require.NoError(t, err, "dial from %s", src)
	t.Cleanup(func() { c.Close() })
	pingPong(t, c)
	return c
}

func pingPong(t *testing.T, c net.Conn) {
	t.Helper()
	_, err := c.Write([]byte("ping"))
	require.NoError(t, err)
	buf := make([]byte, 4)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	require.Equal(t, "ping", string(buf))
}

// scan dials ports first.. from src, closed on the server, with a short
// timeout each: the upstream refusal resets them, a quarantine drops them.
func scan(n *Net, src netip.Addr, first, ports int) {
	for p := first; p < first+ports; p++ {
		if c, err := dialFrom(n, src, netip.AddrPortFrom(ServerAddr, uint16(p)), 300*time.Millisecond); err == nil {
			c.Close()
		}
	}
}

func requireReset(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "reset", "the live flow sees a RST")
}

func requireNoConnect(t *testing.T, n *Net, src netip.Addr) {
	t.Helper()
	c, err := dialFrom(n, src, echoAP, 300*time.Millisecond)
	if err == nil {
		c.Close()
	}
	require.Error(t, err, "an interrupted identity must not connect")
}

var portScan = identity.TriggerConfig{Name: "port-scan", Tags: []string{"ci"}, Scan: &identity.ScanTrigger{Ports: 50},
	Window: "30s", Action: identity.ActionQuarantine, For: "10m"}

func TestIdentityScanQuarantinesOnlyTheScanner(t *testing.T) {
	leakCheck(t)
	if testing.Short() {
		t.Skip("64 MiB transfer")
	}
	in := newIdentNet(t, identSetup{interrupt: identity.InterruptConfig{Triggers: []identity.TriggerConfig{portScan}}})
	serve(t, in.n, echoAP, echo)
	const size = 64 << 20
	upAP := netip.AddrPortFrom(ServerAddr, 9000)
	srvSum := make(chan []byte, 1)
	serve(t, in.n, upAP, func(c net.Conn) {
		h := sha256.New()
		io.Copy(h, c)
		srvSum <- h.Sum(nil)
	})

	live := openEcho(t, in.n, ClientAddr2)
	// runner-a's transfer is under way when runner-b scans.
	up, err := dialFrom(in.n, ClientAddr, upAP, 5*time.Second)
	require.NoError(t, err)
	defer up.Close()
	var sent atomic.Int64
	errc := make(chan error, 1)
	go func() {
		_, err := io.CopyN(up, io.TeeReader(newPattern(1), countWriter{&sent}), size)
		up.CloseWrite()
		errc <- err
	}()
	require.Eventually(t, func() bool { return sent.Load() > 1<<20 }, 10*time.Second, time.Millisecond)

	scan(in.n, ClientAddr2, 20000, 50)
	requireReset(t, live)
	requireNoConnect(t, in.n, ClientAddr2)

	require.NoError(t, <-errc)
	select {
	case got := <-srvSum:
		assert.Equal(t, sum(newPattern(1), size), got, "runner-a's 64 MiB arrive sha256-exact")
	case <-time.After(60 * time.Second):
		t.Fatal("runner-a's transfer did not finish")
	}
	assert.Less(t, sent.Load(), int64(size+1))

	q, ok := in.e.Get("runner-b")
	require.True(t, ok, "runner-b is quarantined")
	assert.Equal(t, identity.ActionQuarantine, q.Action)
	assert.Equal(t, "port-scan", q.Trigger)
	_, ok = in.e.Get("runner-a")
	assert.False(t, ok, "runner-a is untouched")
	assert.Positive(t, in.n.Appliance.Guard().Drops()[netstack.DropBlockedSource], "the guard drops runner-b's SYNs")
	assert.Equal(t, 1.0, counter(t, in.reg, "interdict_identity_interruptions_total", map[string]string{"action": "quarantine", "trigger": "port-scan"}))
	assert.Equal(t, 1.0, gauge(t, in.reg, "interdict_identity_quarantined"))
	assert.GreaterOrEqual(t, counter(t, in.reg, "interdict_identity_flows_reset_total", nil), 1.0)

	recs := interruptions(t, in.eve)
	require.Len(t, recs, 1)
	r := recs[0]
	require.NotNil(t, r.Identity)
	assert.Equal(t, "runner-b", r.Identity.Name)
	assert.Equal(t, []string{"ci"}, r.Identity.Tags)
	assert.Equal(t, "quarantine", r.Interruption.Action)
	assert.Equal(t, "port-scan", r.Interruption.Trigger)
	require.NotNil(t, r.Interruption.Until)
	require.NotEmpty(t, r.Interruption.Evidence)
	last := r.Interruption.Evidence[len(r.Interruption.Evidence)-1]
	assert.Equal(t, "scan", last.Kind)
	// runner-b's echo flow was its first distinct port: the 49th port of
	// the scan is the 50th distinct port, the flow that crossed the
	// threshold, and the last evidence.
	assert.Equal(t, uint16(20048), last.DestPort)
	assert.NotZero(t, last.FlowID)

	got, err := in.e.Release("runner-b", "")
	require.NoError(t, err)
	assert.Equal(t, []string{"runner-b"}, got)
	pingPong(t, openEcho(t, in.n, ClientAddr2))
	assert.Equal(t, 0.0, gauge(t, in.reg, "interdict_identity_quarantined"))
	recs = interruptions(t, in.eve)
	require.Len(t, recs, 2)
	assert.Equal(t, "release", recs[1].Interruption.Action)
	assert.Equal(t, "api", recs[1].Interruption.Cause)
}

type countWriter struct{ n *atomic.Int64 }

func (w countWriter) Write(b []byte) (int, error) { w.n.Add(int64(len(b))); return len(b), nil }

func TestIdentityQuarantineSurvivesRestart(t *testing.T) {
	leakCheck(t)
	dir := t.TempDir()
	st, err := state.Open(dir)
	require.NoError(t, err)

	first := newIdentNet(t, identSetup{store: st})
	serve(t, first.n, echoAP, echo)
	live := openEcho(t, first.n, ClientAddr2)
	out, err := first.e.Interrupt(identity.Request{Identity: "runner-b", Action: identity.ActionQuarantine, For: time.Hour, Reason: "stolen key"})
	require.NoError(t, err)
	require.Len(t, out, 1)
	requireReset(t, live)
	first.e.Close()
	first.n.Close()

	// A new process over the same state directory.
	st2, err := state.Open(dir)
	require.NoError(t, err)
	second := newIdentNet(t, identSetup{store: st2})
	serve(t, second.n, echoAP, echo)
	q, ok := second.e.Get("runner-b")
	require.True(t, ok, "the quarantine is restored")
	assert.Equal(t, "stolen key", q.Reason)
	assert.Equal(t, out[0].Until.UnixNano(), q.Until.UnixNano())
	requireNoConnect(t, second.n, ClientAddr2)
	openEcho(t, second.n, ClientAddr)
	assert.Equal(t, 1.0, gauge(t, second.reg, "interdict_identity_quarantined"))

	_, err = second.e.Release("runner-b", "")
	require.NoError(t, err)
	openEcho(t, second.n, ClientAddr2)
	keys, err := st2.Keys("interruptions")
	require.NoError(t, err)
	assert.Empty(t, keys, "a release deletes the stored interruption")
}

func TestIdentityShadowModeBlocksNothing(t *testing.T) {
	leakCheck(t)
	trig := portScan
	trig.Mode = "ids"
	trig.Scan = &identity.ScanTrigger{Ports: 10}
	in := newIdentNet(t, identSetup{interrupt: identity.InterruptConfig{Triggers: []identity.TriggerConfig{trig}}})
	serve(t, in.n, echoAP, echo)
	live := openEcho(t, in.n, ClientAddr2)

	scan(in.n, ClientAddr2, 20000, 10)
	pingPong(t, live)
	openEcho(t, in.n, ClientAddr2)
	_, ok := in.e.Get("runner-b")
	assert.False(t, ok)
	assert.Equal(t, 1.0, counter(t, in.reg, "interdict_identity_interruptions_total", map[string]string{"action": "would-quarantine", "trigger": "port-scan"}))
	assert.Equal(t, 0.0, gauge(t, in.reg, "interdict_identity_quarantined"))
	recs := interruptions(t, in.eve)
	require.Len(t, recs, 1)
	assert.Equal(t, "would-quarantine", recs[0].Interruption.Action)
	assert.Equal(t, "runner-b", recs[0].Identity.Name)
	assert.Len(t, recs[0].Interruption.Evidence, 10)
}

func TestIdentityPauseRefusesNewFlowsKeepsLiveOnes(t *testing.T) {
	leakCheck(t)
	in := newIdentNet(t, identSetup{})
	serve(t, in.n, echoAP, echo)
	live := openEcho(t, in.n, ClientAddr)
	_, err := in.e.Interrupt(identity.Request{Tag: "ci", Action: identity.ActionPause, For: time.Minute})
	require.NoError(t, err)
	pingPong(t, live) // a pause lets live flows go on
	for _, src := range []netip.Addr{ClientAddr, ClientAddr2} {
		_, err := dialFrom(in.n, src, echoAP, 5*time.Second)
		require.Error(t, err)
		assert.Regexp(t, "refused|reset", err.Error(), "a paused identity's new flow is refused with a RST")
	}
	assert.Equal(t, 2.0, gauge(t, in.reg, "interdict_identity_paused"))
	got, err := in.e.Release("", "ci")
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"runner-a", "runner-b"}, got)
	openEcho(t, in.n, ClientAddr2)
}

// TestIdentityQuarantineAllow: a quarantined identity keeps reaching its
// quarantine_allow destination (the echo port here, the secrets manager
// in life); everything else is reset and refused.
func TestIdentityQuarantineAllow(t *testing.T) {
	leakCheck(t)
	in := newIdentNet(t, identSetup{interrupt: identity.InterruptConfig{QuarantineAllow: []string{echoAP.String()}}})
	serve(t, in.n, echoAP, echo)
	otherAP := netip.AddrPortFrom(ServerAddr, 9007)
	serve(t, in.n, otherAP, echo)
	allowed := openEcho(t, in.n, ClientAddr2)
	other, err := dialFrom(in.n, ClientAddr2, otherAP, 5*time.Second)
	require.NoError(t, err)
	defer other.Close()
	pingPong(t, other)

	_, err = in.e.Interrupt(identity.Request{Identity: "runner-b", Action: identity.ActionQuarantine, For: time.Hour})
	require.NoError(t, err)
	requireReset(t, other)
	pingPong(t, allowed) // the allowed destination's live flow goes on
	openEcho(t, in.n, ClientAddr2)
	c, err := dialFrom(in.n, ClientAddr2, otherAP, 300*time.Millisecond)
	if err == nil {
		c.Close()
	}
	require.Error(t, err, "other destinations are refused")
}

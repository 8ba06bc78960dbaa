package identity

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/appliance/policy/policytest"
	"github.com/interdict/interdict/netstack"
)

func testEngine(t *testing.T, cfg InterruptConfig, clock *policytest.Clock) (*Engine, *Registry) {
	t.Helper()
	r := NewRegistry()
	require.NoError(t, r.Replace("config", []Entry{entry("runner-b", []string{"ci"}, "10.0.0.3/32")}))
	e, err := NewEngine(r, cfg, Options{Clock: clock, SweepEvery: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	t.Cleanup(e.Close)
	return e, r
}

func flowTo(id *Identity, dst string) *netstack.FlowInfo {
	return &netstack.FlowInfo{ID: 1, Proto: netstack.TCP, Src: netip.MustParseAddrPort("10.0.0.3:40000"),
		Dst: netip.MustParseAddrPort(dst), Identity: id}
}

// TestScanWindowAndEscalation: a scan counts distinct ports within the
// window only; each repeat offence doubles the quarantine up to the cap.
func TestScanWindowAndEscalation(t *testing.T) {
	clock := policytest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	e, r := testEngine(t, InterruptConfig{Triggers: []TriggerConfig{{Name: "scan", Scan: &ScanTrigger{Ports: 3}, Window: "10s",
		Action: ActionQuarantine, For: "10m", Escalate: &EscalateConfig{Factor: 2, Max: "30m"}}}}, clock)
	h := e.Wrap(netstack.PassAll{})
	id := r.Lookup(netip.MustParseAddr("10.0.0.3"))

	h.NewFlow(flowTo(id, "10.99.0.1:1"))
	h.NewFlow(flowTo(id, "10.99.0.1:2"))
	clock.Advance(11 * time.Second) // ports 1 and 2 leave the window
	h.NewFlow(flowTo(id, "10.99.0.1:3"))
	h.NewFlow(flowTo(id, "10.99.0.1:3")) // the same port again
	_, ok := e.Get("runner-b")
	require.False(t, ok, "two distinct ports within 10 s")

	for i, want := range []time.Duration{10 * time.Minute, 20 * time.Minute, 30 * time.Minute, 30 * time.Minute} {
		h.NewFlow(flowTo(id, "10.99.0.1:4"))
		_, v := h.NewFlow(flowTo(id, "10.99.0.1:5"))
		in, ok := e.Get("runner-b")
		require.True(t, ok, "offence %d", i+1)
		assert.Equal(t, netstack.Drop, v, "the flow that crossed the threshold is refused too")
		assert.Equal(t, i+1, in.Level)
		assert.Equal(t, want, in.Until.Sub(in.Since), "offence %d", i+1)
		clock.Advance(want)
		assert.Equal(t, 1, e.Sweep(), "expired")
		h.NewFlow(flowTo(id, "10.99.0.1:3")) // the next offence's first port
	}
}

// TestScanByHosts: distinct destination addresses within the window
// count towards a hosts scan, the same address on other ports does not.
func TestScanByHosts(t *testing.T) {
	clock := policytest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	e, r := testEngine(t, InterruptConfig{Triggers: []TriggerConfig{{Name: "sweep", Scan: &ScanTrigger{Hosts: 3}, Window: "10s",
		Action: ActionPause, For: "10m"}}}, clock)
	h := e.Wrap(netstack.PassAll{})
	id := r.Lookup(netip.MustParseAddr("10.0.0.3"))
	for p := range 5 {
		h.NewFlow(flowTo(id, fmt.Sprintf("10.99.0.1:%d", 80+p)))
	}
	h.NewFlow(flowTo(id, "10.99.0.2:80"))
	_, ok := e.Get("runner-b")
	require.False(t, ok, "two distinct hosts")
	_, v := h.NewFlow(flowTo(id, "10.99.0.3:80"))
	in, ok := e.Get("runner-b")
	require.True(t, ok, "the third host crosses the threshold")
	assert.Equal(t, "sweep", in.Trigger)
	assert.Equal(t, ActionPause, in.Action)
	assert.True(t, v.Terminal(), "the flow that crossed it is refused")
}

func TestNameMatching(t *testing.T) {
	ps, err := CompilePolicies([]PolicyConfig{{Name: "p", Allow: []AllowConfig{
		{To: "*.example.com", Ports: []int{443}},
		{To: "api.example.org"},
	}}}, nil)
	require.NoError(t, err)
	eg := ps.all
	now := time.Now()
	dst := netip.MustParseAddrPort("192.0.2.1:443")
	for name, want := range map[string]bool{
		"a.example.com": true, "x.y.example.com": true, "example.com": false, "badexample.com": false,
		"api.example.org": true, "v2.api.example.org": false, "example.org": false,
	} {
		_, ok := eg.decideL7(dst, now, name, "", "", nil)
		assert.Equal(t, want, ok, name)
	}
}

func TestPathsMatchOnlyCanonicalPaths(t *testing.T) {
	ps, err := CompilePolicies([]PolicyConfig{{Name: "p", Allow: []AllowConfig{
		{To: "api.example.test", Paths: []string{"/v1/", "/v2/*/status"}},
		{To: "www.example.test"},
	}}}, nil)
	require.NoError(t, err)
	dst := netip.MustParseAddrPort("192.0.2.1:80")
	for p, want := range map[string]bool{
		"/v1/users": true, "/v1/": true, "/v2/x/status": true, "/v1/a%20b": true,
		"/v1/../admin": false, "/v1/./x": false, "/v1//x": false, "/v1/%2e%2e/admin": false, "/v1/%2E%2e/admin": false,
		"/v1/..%2fadmin": false, "/v1\\..\\admin": false, "/v1/%": false, "*": false, "/admin": false,
	} {
		_, ok := ps.all.decideL7(dst, time.Now(), "api.example.test", "GET", p, nil)
		assert.Equal(t, want, ok, p)
	}
	_, ok := ps.all.decideL7(dst, time.Now(), "www.example.test", "GET", "/v1/../admin", nil)
	assert.True(t, ok, "an entry without paths allows any path")
	_, ok = ps.all.decideL7(dst, time.Now(), "api.example.test", "", "", nil)
	assert.False(t, ok, "a TLS flow (no method, no path) is never allowed by an entry with paths")
}

func TestScheduleOverMidnight(t *testing.T) {
	s, err := compileSchedule("s", &ScheduleConfig{Days: []string{"fri-sun"}, Hours: "22:00-06:00", TZ: "Europe/Berlin"})
	require.NoError(t, err)
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for at, want := range map[time.Time]bool{
		time.Date(2026, 3, 6, 23, 0, 0, 0, berlin):    true,  // Friday night
		time.Date(2026, 3, 8, 5, 59, 0, 0, berlin):    true,  // Sunday morning
		time.Date(2026, 3, 8, 6, 0, 0, 0, berlin):     false, // the window ends
		time.Date(2026, 3, 4, 23, 0, 0, 0, berlin):    false, // Wednesday
		time.Date(2026, 3, 6, 21, 59, 0, 0, time.UTC): true,  // 22:59 in Berlin
	} {
		assert.Equal(t, want, s.open(at), at.String())
	}
}

func TestSuggestWildcardsOnlyWhereSafe(t *testing.T) {
	now := time.Now()
	obs := []Observations{{Identity: "a", List: []Observation{
		{To: "a.svc.example.test", Port: 443, Proto: "tcp", Last: now},
		{To: "b.svc.example.test", Port: 443, Proto: "tcp", Last: now},
		{To: "c.svc.example.test", Port: 443, Proto: "tcp", Last: now},
		{To: "d.svc.example.test", Port: 8443, Proto: "tcp", Last: now}, // another port
		{To: "one.co.uk", Port: 443, Proto: "tcp", Last: now},
		{To: "two.co.uk", Port: 443, Proto: "tcp", Last: now},
		{To: "three.co.uk", Port: 443, Proto: "tcp", Last: now},
	}}}
	out := Suggest(obs, time.Time{}, "s", "a", "")
	assert.Contains(t, out, `{to: "*.svc.example.test", ports: [443], proto: tcp}`)
	assert.Contains(t, out, `{to: "d.svc.example.test", ports: [8443], proto: tcp}`)
	assert.Contains(t, out, `{to: "one.co.uk", ports: [443], proto: tcp}`)
	assert.NotContains(t, out, "*.co.uk")
}

package policy

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/appliance/enforce"
	"github.com/interdict/interdict/appliance/policy/policytest"
	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/netstack"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeGuard records what the policy tells the packet guard.
type fakeGuard struct {
	mu     sync.Mutex
	blocks map[netip.Prefix]time.Time
	full   bool
}

func (g *fakeGuard) Block(p netip.Prefix, until time.Time) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.full {
		return netstack.ErrGuardFull
	}
	if g.blocks == nil {
		g.blocks = map[netip.Prefix]time.Time{}
	}
	g.blocks[p] = until
	return nil
}

func (g *fakeGuard) Unblock(p netip.Prefix) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.blocks[p]
	delete(g.blocks, p)
	return ok
}

func (g *fakeGuard) has(p string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.blocks[netip.MustParsePrefix(p)]
	return ok
}

// recSink keeps the interruption records policy writes to its EVE sink.
type recSink struct {
	mu  sync.Mutex
	evs []eve.Event
}

func (r *recSink) Write(ev *eve.Event) error {
	if ev.EventType != eve.TypeInterruption {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// Round-trip through JSON so the test sees what a reader of the file
	// would.
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	var back eve.Event
	if err := json.Unmarshal(b, &back); err != nil {
		return err
	}
	r.evs = append(r.evs, back)
	return nil
}

func (r *recSink) actions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.evs {
		out = append(out, e.Interruption.Action+" "+e.Interruption.Prefix)
	}
	return out
}

type env struct {
	p     *Policy
	clock *policytest.Clock
	reg   *prometheus.Registry
	guard *fakeGuard
	recs  *recSink
	logs  *bytes.Buffer
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	e := &env{clock: policytest.NewClock(t0), reg: prometheus.NewRegistry(), guard: &fakeGuard{}, recs: &recSink{}, logs: &bytes.Buffer{}}
	p, err := New(cfg, Options{Clock: e.clock, Registerer: e.reg, Events: e.recs, SweepEvery: -1,
		Logger: slog.New(slog.NewTextHandler(e.logs, nil))})
	require.NoError(t, err)
	t.Cleanup(p.Close)
	require.NoError(t, p.Attach(e.guard, nil))
	e.p = p
	return e
}

func (e *env) counter(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	return testutil.ToFloat64(c)
}

// fakeInner is an inspection handler whose chunks call fn (to act like
// enforce calling OnResult inside Chunk) and return its verdict.
type fakeInner struct {
	newVerdict netstack.Verdict
	fn         func(info *netstack.FlowInfo, dir netstack.Direction, b []byte) netstack.Verdict
	mu         sync.Mutex
	flows      int
	closed     int
}

func (h *fakeInner) NewFlow(info *netstack.FlowInfo) (netstack.FlowHandler, netstack.Verdict) {
	h.mu.Lock()
	h.flows++
	h.mu.Unlock()
	return &fakeInnerFlow{h: h, info: info}, h.newVerdict
}

type fakeInnerFlow struct {
	h    *fakeInner
	info *netstack.FlowInfo
}

func (f *fakeInnerFlow) Chunk(d netstack.Direction, b []byte) netstack.Verdict {
	if f.h.fn == nil {
		return netstack.Continue
	}
	return f.h.fn(f.info, d, b)
}

func (f *fakeInnerFlow) Close(netstack.FlowStats) {
	f.h.mu.Lock()
	f.h.closed++
	f.h.mu.Unlock()
}

func flowInfo(id uint64, src string) *netstack.FlowInfo {
	return &netstack.FlowInfo{ID: id, Proto: netstack.TCP, Src: netip.MustParseAddrPort(src),
		Dst: netip.MustParseAddrPort("10.99.0.1:80"), NIC: "test0", Start: t0}
}

func meta(info *netstack.FlowInfo) *inspect.FlowMeta {
	return &inspect.FlowMeta{ID: info.ID, Proto: inspect.Proto(info.Proto), Src: info.Src, Dst: info.Dst}
}

// resultFor builds what enforce hands OnResult.
func resultFor(info *netstack.FlowInfo, res inspect.Result, enforcing bool, n int) *enforce.ResultInfo {
	return &enforce.ResultInfo{Flow: meta(info), NIC: info.NIC, Dir: inspect.ToServer, Len: n, Result: &res,
		Verdict: netstack.Continue, Enforcing: enforcing}
}

// blockErr keeps only the error of Policy.Block.
func blockErr(_ Entry, _ int, err error) error { return err }

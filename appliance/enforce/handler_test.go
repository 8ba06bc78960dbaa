package enforce

import (
	"bytes"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/netstack"
)

// fakeFactory makes inspectors that answer each chunk with fn.
type fakeFactory struct {
	fn       func(meta inspect.FlowMeta, dir inspect.Direction, data []byte) inspect.Result
	closeRes inspect.Result
	newPanic any
	metas    []inspect.FlowMeta
	closed   atomic.Int32
	mu       sync.Mutex
	// bits are the flowbits its inspectors report (FlowVarsReporter).
	bits []string
}

func (f *fakeFactory) NewFlow(meta inspect.FlowMeta) inspect.FlowInspector {
	if f.newPanic != nil {
		panic(f.newPanic)
	}
	f.mu.Lock()
	f.metas = append(f.metas, meta)
	f.mu.Unlock()
	return &fakeInspector{f: f, meta: meta}
}

type fakeInspector struct {
	f        *fakeFactory
	meta     inspect.FlowMeta
	inFlight atomic.Int32
	overlap  atomic.Bool
	calls    atomic.Int32
}

func (i *fakeInspector) Inspect(dir inspect.Direction, data []byte) inspect.Result {
	if i.inFlight.Add(1) > 1 {
		i.overlap.Store(true)
	}
	defer i.inFlight.Add(-1)
	i.calls.Add(1)
	// Widen the window in which an unserialised second direction would
	// overlap.
	time.Sleep(50 * time.Microsecond)
	if i.f.fn == nil {
		return inspect.Result{}
	}
	return i.f.fn(i.meta, dir, data)
}

func (i *fakeInspector) Close() inspect.Result { i.f.closed.Add(1); return i.f.closeRes }

func (i *fakeInspector) FlowBits() []string { return i.f.bits }

func (i *fakeInspector) FlowInts() map[string]int64 { return nil }

// onContent answers a chunk containing pat with an alert of r.
func onContent(pat string, r *inspect.RuleInfo) func(inspect.FlowMeta, inspect.Direction, []byte) inspect.Result {
	return func(_ inspect.FlowMeta, dir inspect.Direction, data []byte) inspect.Result {
		if !bytes.Contains(data, []byte(pat)) {
			return inspect.Result{}
		}
		return inspect.Result{Action: r.Action, Alerts: []inspect.Alert{{Rule: r, Dir: dir, Offset: uint64(len(data))}}}
	}
}

// recSink records events.
type recSink struct {
	mu  sync.Mutex
	evs []eve.Event
	err error
}

func (s *recSink) Write(ev *eve.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evs = append(s.evs, *ev)
	return s.err
}

func (s *recSink) of(typ string) []eve.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []eve.Event
	for _, ev := range s.evs {
		if ev.EventType == typ {
			out = append(out, ev)
		}
	}
	return out
}

var t0 = time.Date(2026, 11, 22, 10, 53, 0, 0, time.UTC)

func info(id uint64, identity string) *netstack.FlowInfo {
	var ident netstack.Identity
	if identity != "" {
		ident = &inspect.Identity{Name: identity, Key: "key-of-" + identity, Tags: []string{"ci"}}
	}
	return &netstack.FlowInfo{
		ID: id, Proto: netstack.TCP, Identity: ident, NIC: "wg0", Start: t0,
		Src: netip.MustParseAddrPort("10.0.0.2:40000"), Dst: netip.MustParseAddrPort("10.99.0.1:80"),
	}
}

type fixture struct {
	h    *Handler
	ff   *fakeFactory
	sink *recSink
	reg  *prometheus.Registry
	logs *bytes.Buffer
}

func newFixture(t *testing.T, ff *fakeFactory, cfg Config) *fixture {
	t.Helper()
	fx := &fixture{ff: ff, sink: &recSink{}, reg: prometheus.NewRegistry(), logs: &bytes.Buffer{}}
	cfg.Events = fx.sink
	cfg.Registerer = fx.reg
	cfg.Logger = slog.New(slog.NewTextHandler(fx.logs, nil))
	cfg.Now = func() time.Time { return t0.Add(time.Second) }
	h, err := New(ff, cfg)
	require.NoError(t, err)
	fx.h = h
	return fx
}

func (fx *fixture) flow(t *testing.T, id uint64, identity string) netstack.FlowHandler {
	t.Helper()
	fh, v := fx.h.NewFlow(info(id, identity))
	require.Equal(t, netstack.Continue, v)
	return fh
}

func TestChunkVerdictAndEvents(t *testing.T) {
	tests := []struct {
		mode        Mode
		action      inspect.Action
		want        netstack.Verdict
		alertAction string // "" when no alert is logged
		dropReason  string // "" when no drop event
		flowAction  string
	}{
		{IPS, inspect.ActionAlert, netstack.Continue, "allowed", "", ""},
		{IPS, inspect.ActionPass, netstack.Monitor, "", "", "pass"},
		{IPS, inspect.ActionDrop, netstack.Drop, "blocked", "rules", "drop"},
		{IPS, inspect.ActionReject, netstack.Reject, "blocked", "rules", "drop"},
		{IPS, inspect.ActionRejectDst, netstack.RejectDst, "blocked", "rules", "drop"},
		{IPS, inspect.ActionRejectBoth, netstack.RejectBoth, "blocked", "rules", "drop"},
		{IDS, inspect.ActionAlert, netstack.Continue, "allowed", "", ""},
		{IDS, inspect.ActionPass, netstack.Monitor, "", "", "pass"},
		{IDS, inspect.ActionDrop, netstack.Continue, "allowed", "would-drop", "would-drop"},
		{IDS, inspect.ActionReject, netstack.Continue, "allowed", "would-reject", "would-reject"},
		{IDS, inspect.ActionRejectDst, netstack.Continue, "allowed", "would-rejectdst", "would-rejectdst"},
		{IDS, inspect.ActionRejectBoth, netstack.Continue, "allowed", "would-rejectboth", "would-rejectboth"},
	}
	for _, tc := range tests {
		t.Run(string(tc.mode)+"/"+tc.action.String(), func(t *testing.T) {
			r := &inspect.RuleInfo{GID: 1, SID: 2001, Rev: 3, Msg: "evil", Action: tc.action, Category: "Attempted", Severity: 2,
				Metadata: map[string][]string{"policy": {"balanced"}}}
			fx := newFixture(t, &fakeFactory{fn: onContent("EVIL", r)}, Config{Mode: tc.mode})
			fh := fx.flow(t, 7, "alice")
			assert.Equal(t, netstack.Continue, fh.Chunk(netstack.ToServer, []byte("hello")))
			assert.Equal(t, tc.want, fh.Chunk(netstack.ToServer, []byte("xxEVILxx")))
			fh.Close(netstack.FlowStats{BytesToServer: 13, PacketsToServer: 2, Verdict: tc.want, Reason: "verdict", End: t0.Add(3 * time.Second)})

			al := fx.sink.of(eve.TypeAlert)
			if tc.alertAction == "" {
				assert.Empty(t, al)
			} else {
				require.Len(t, al, 1)
				a := al[0]
				assert.Equal(t, uint64(7), a.FlowID)
				assert.Equal(t, "wg0", a.InIface)
				assert.Equal(t, "10.0.0.2", a.SrcIP)
				assert.Equal(t, uint16(40000), a.SrcPort)
				assert.Equal(t, "10.99.0.1", a.DestIP)
				assert.Equal(t, uint16(80), a.DestPort)
				assert.Equal(t, "TCP", a.Proto)
				assert.Equal(t, &eve.Identity{Name: "alice", Key: "key-of-alice", Tags: []string{"ci"}}, a.Identity)
				assert.Equal(t, &eve.Alert{Action: tc.alertAction, GID: 1, SignatureID: 2001, Rev: 3, Signature: "evil",
					Category: "Attempted", Severity: 2, Metadata: r.Metadata}, a.Alert)
			}
			drops := fx.sink.of(eve.TypeDrop)
			if tc.dropReason == "" {
				assert.Empty(t, drops)
			} else {
				require.Len(t, drops, 1)
				assert.Equal(t, tc.dropReason, drops[0].Drop.Reason)
				assert.Equal(t, 8, drops[0].Drop.Len)
				assert.Equal(t, uint32(2001), drops[0].Alert.SignatureID)
				assert.Equal(t, tc.alertAction, drops[0].Alert.Action)
			}
			flows := fx.sink.of(eve.TypeFlow)
			require.Len(t, flows, 1)
			assert.Equal(t, tc.flowAction, flows[0].Flow.Action)
			assert.Equal(t, tc.alertAction != "", flows[0].Flow.Alerted)
			// The benign chunk and the matching one, counted by the
			// verdict decided (not the one ids returned).
			decided := verdictFor(tc.action)
			wantContinue := 1.0
			if decided == netstack.Continue {
				wantContinue = 2
			} else {
				assert.Equal(t, 1.0, testutil.ToFloat64(fx.h.m.verdicts.WithLabelValues(string(tc.mode), decided.String())))
			}
			assert.Equal(t, wantContinue, testutil.ToFloat64(fx.h.m.verdicts.WithLabelValues(string(tc.mode), "continue")))
			assert.Equal(t, uint64(1), histCount(t, fx.h.m.matchLatency), "one chunk matched")
			assert.Equal(t, uint64(2), histCount(t, fx.h.m.inspect), "two Inspect calls")
		})
	}
}

func histCount(t *testing.T, h prometheus.Histogram) uint64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, h.Write(&m))
	return m.GetHistogram().GetSampleCount()
}

func TestAfterTerminalVerdictEveryChunkIsDropped(t *testing.T) {
	r := rule(9, inspect.ActionDrop)
	fx := newFixture(t, &fakeFactory{fn: onContent("EVIL", r)}, Config{})
	fh := fx.flow(t, 1, "")
	require.Equal(t, netstack.Drop, fh.Chunk(netstack.ToServer, []byte("EVIL")))
	// The response pump had already read a chunk: it is not forwarded
	// either, and not inspected.
	assert.Equal(t, netstack.Drop, fh.Chunk(netstack.ToClient, []byte("response")))
	drops := fx.sink.of(eve.TypeDrop)
	require.Len(t, drops, 2)
	assert.Equal(t, "flow drop", drops[1].Drop.Reason)
	assert.Equal(t, "10.99.0.1", drops[1].SrcIP, "to_client data is sent by the server")
	fh.Close(netstack.FlowStats{Verdict: netstack.Drop, Reason: "verdict"})
	assert.Equal(t, int32(1), fx.ff.closed.Load(), "the inspector is closed to release its state")
}

func TestIdentityModeOverride(t *testing.T) {
	r := rule(11, inspect.ActionReject)
	fx := newFixture(t, &fakeFactory{fn: onContent("EVIL", r)}, Config{Mode: IPS, IdentityModes: map[string]Mode{"shadow": IDS}})
	enforced, shadowed := fx.flow(t, 1, "alice"), fx.flow(t, 2, "shadow")
	assert.Equal(t, netstack.Reject, enforced.Chunk(netstack.ToServer, []byte("EVIL")))
	assert.Equal(t, netstack.Continue, shadowed.Chunk(netstack.ToServer, []byte("EVIL")))
	assert.Equal(t, float64(1), testutil.ToFloat64(fx.h.m.flows.WithLabelValues("ips")))
	assert.Equal(t, float64(1), testutil.ToFloat64(fx.h.m.flows.WithLabelValues("ids")))

	// A policy change applies to new flows only.
	require.NoError(t, fx.h.SetModes(IDS, nil))
	assert.Equal(t, IDS, fx.h.ModeFor("alice"))
	later := fx.flow(t, 3, "alice")
	assert.Equal(t, netstack.Continue, later.Chunk(netstack.ToServer, []byte("EVIL")))
	assert.ErrorContains(t, fx.h.SetModes(IPS, map[string]Mode{"bob": "block"}), `identity "bob"`)
}

func TestFailOnPanic(t *testing.T) {
	boom := func(_ inspect.FlowMeta, _ inspect.Direction, data []byte) inspect.Result {
		if bytes.Contains(data, []byte("crash")) {
			panic("index out of range in a parser")
		}
		return inspect.Result{}
	}
	tests := []struct {
		name     string
		cfg      Config
		newPanic bool
		want     netstack.Verdict
	}{
		{"closed by default", Config{}, false, netstack.Reject},
		{"fail_open passes", Config{FailOpen: true}, false, netstack.Pass},
		{"ids never resets", Config{Mode: IDS}, false, netstack.Pass},
		{"closed at new flow", Config{}, true, netstack.Reject},
		{"open at new flow", Config{FailOpen: true}, true, netstack.Pass},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ff := &fakeFactory{fn: boom}
			fx := newFixture(t, ff, tc.cfg)
			if tc.newPanic {
				ff.newPanic = errors.New("compile state corrupt")
				fh, v := fx.h.NewFlow(info(42, "mallory"))
				require.NotNil(t, fh)
				assert.Equal(t, tc.want, v)
				fh.Close(netstack.FlowStats{Verdict: v, Reason: "verdict"})
			} else {
				fh := fx.flow(t, 42, "mallory")
				require.Equal(t, netstack.Continue, fh.Chunk(netstack.ToServer, []byte("fine")))
				assert.Equal(t, tc.want, fh.Chunk(netstack.ToServer, []byte("crash")))
				// The abandoned inspector is never called again.
				assert.Equal(t, tc.want, fh.Chunk(netstack.ToClient, []byte("fine")))
				fh.Close(netstack.FlowStats{Verdict: tc.want, Reason: "verdict"})
				assert.Zero(t, ff.closed.Load(), "a panicked inspector is not closed")
			}
			assert.Equal(t, float64(1), testutil.ToFloat64(fx.h.m.panics))
			assert.Contains(t, fx.logs.String(), "flow=42")
			assert.Contains(t, fx.logs.String(), "flow inspection panicked")
			assert.Equal(t, float64(1), testutil.ToFloat64(fx.h.m.verdicts.WithLabelValues(fx.h.ModeFor("").label(), tc.want.String())))
			if tc.want.Terminal() {
				drops := fx.sink.of(eve.TypeDrop)
				require.NotEmpty(t, drops)
				assert.Equal(t, "internal error", drops[0].Drop.Reason)
			}
			// The handler goes on: another flow is inspected normally.
			ff.newPanic = nil
			other := fx.flow(t, 43, "alice")
			assert.Equal(t, netstack.Continue, other.Chunk(netstack.ToServer, []byte("fine")))
		})
	}
}

func TestDirectionsAreSerialised(t *testing.T) {
	fx := newFixture(t, &fakeFactory{}, Config{})
	fh := fx.flow(t, 1, "")
	var wg sync.WaitGroup
	for _, d := range []netstack.Direction{netstack.ToServer, netstack.ToClient} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				fh.Chunk(d, []byte("x"))
			}
		}()
	}
	wg.Wait()
	insp := fh.(*flow).insp.(*fakeInspector)
	assert.Equal(t, int32(400), insp.calls.Load())
	assert.False(t, insp.overlap.Load(), "Inspect ran for both directions at once")
}

func TestFlowMetaAndFlowEvent(t *testing.T) {
	r := rule(5, inspect.ActionAlert)
	ff := &fakeFactory{fn: onContent("EVIL", r)}
	fx := newFixture(t, ff, Config{})
	fi := info(77, "carol")
	fi.Proto = netstack.UDP
	fh, _ := fx.h.NewFlow(fi)
	require.Len(t, ff.metas, 1)
	assert.Equal(t, inspect.FlowMeta{ID: 77, Proto: inspect.ProtoUDP, Src: fi.Src, Dst: fi.Dst, Identity: fi.Identity.(*inspect.Identity), Start: t0}, ff.metas[0])
	fh.Chunk(netstack.ToServer, []byte("EVIL"))
	end := t0.Add(90 * time.Second)
	fh.Close(netstack.FlowStats{BytesToServer: 4, BytesToClient: 9, PacketsToServer: 1, PacketsToClient: 2, Reason: "idle", End: end})
	flows := fx.sink.of(eve.TypeFlow)
	require.Len(t, flows, 1)
	ev := flows[0]
	assert.Equal(t, uint64(77), ev.FlowID)
	assert.Equal(t, "UDP", ev.Proto)
	assert.Equal(t, "10.0.0.2", ev.SrcIP)
	assert.Equal(t, "carol", ev.Identity.Name)
	assert.Equal(t, &eve.Flow{PktsToServer: 1, PktsToClient: 2, BytesToServer: 4, BytesToClient: 9,
		Start: eve.Time{Time: t0}, End: eve.Time{Time: end}, Age: 90, State: "established", Reason: "timeout", Alerted: true}, ev.Flow)
}

func TestNoAlertAndCloseResults(t *testing.T) {
	silent := &inspect.RuleInfo{SID: 1, Action: inspect.ActionAlert}
	late := &inspect.RuleInfo{SID: 2, Action: inspect.ActionDrop}
	ff := &fakeFactory{
		fn: func(_ inspect.FlowMeta, dir inspect.Direction, data []byte) inspect.Result {
			return inspect.Result{Action: inspect.ActionAlert, Alerts: []inspect.Alert{{Rule: silent, Dir: dir, NoAlert: true}},
				Events: []inspect.Event{{Dir: dir, HTTP: &inspect.HTTPTx{Method: "GET", URL: "/x", Hostname: "h"}}}}
		},
		closeRes: inspect.Result{Action: inspect.ActionDrop, Alerts: []inspect.Alert{{Rule: late, AppProto: "http"}},
			Events: []inspect.Event{{Anomaly: &inspect.Anomaly{AppProto: "http", Event: "UNTERMINATED"}}}},
	}
	fx := newFixture(t, ff, Config{})
	fh := fx.flow(t, 3, "")
	assert.Equal(t, netstack.Continue, fh.Chunk(netstack.ToServer, []byte("GET /x")))
	assert.Empty(t, fx.sink.of(eve.TypeAlert), "noalert matches are not logged")
	https := fx.sink.of(eve.TypeHTTP)
	require.Len(t, https, 1)
	assert.Equal(t, "/x", https[0].HTTP.URL)
	fh.Close(netstack.FlowStats{Reason: "fin"})
	al := fx.sink.of(eve.TypeAlert)
	require.Len(t, al, 1, "findings at close are logged")
	assert.Equal(t, "allowed", al[0].Alert.Action, "nothing can be blocked once the flow ended")
	assert.Len(t, fx.sink.of(eve.TypeAnomaly), 1)
	assert.Empty(t, fx.sink.of(eve.TypeDrop))
}

func TestAlertSIDLabelsAreBounded(t *testing.T) {
	var sid atomic.Uint32
	ff := &fakeFactory{fn: func(_ inspect.FlowMeta, dir inspect.Direction, _ []byte) inspect.Result {
		r := rule(sid.Add(1), inspect.ActionAlert)
		return inspect.Result{Action: inspect.ActionAlert, Alerts: []inspect.Alert{{Rule: r, Dir: dir}}}
	}}
	fx := newFixture(t, ff, Config{MaxSIDLabels: 2})
	fh := fx.flow(t, 1, "")
	for range 5 {
		fh.Chunk(netstack.ToServer, []byte("x"))
	}
	require.NoError(t, testutil.GatherAndCompare(fx.reg, strings.NewReader(`
# HELP interdict_enforce_alerts_total Alerts logged, by rule sid (at most max_sid_labels distinct values, then "other") and EVE alert action (allowed, blocked).
# TYPE interdict_enforce_alerts_total counter
interdict_enforce_alerts_total{action="allowed",sid="1"} 1
interdict_enforce_alerts_total{action="allowed",sid="2"} 1
interdict_enforce_alerts_total{action="allowed",sid="other"} 3
`), "interdict_enforce_alerts_total"))
}

func TestEVEWriteErrorsAreCountedNotFatal(t *testing.T) {
	fx := newFixture(t, &fakeFactory{fn: onContent("EVIL", rule(1, inspect.ActionDrop))}, Config{})
	fx.sink.err = errors.New("disk full")
	fh := fx.flow(t, 1, "")
	assert.Equal(t, netstack.Drop, fh.Chunk(netstack.ToServer, []byte("EVIL")), "logging failures do not change verdicts")
	assert.Equal(t, float64(2), testutil.ToFloat64(fx.h.m.eveErrors), "alert and drop")
	assert.Equal(t, 1, strings.Count(fx.logs.String(), "disk full"), "logged once")
}

func TestNewRejectsBadConfig(t *testing.T) {
	_, err := New(nil, Config{})
	assert.Error(t, err)
	_, err = New(&fakeFactory{}, Config{Mode: "prevent"})
	assert.ErrorContains(t, err, "prevent")
	reg := prometheus.NewRegistry()
	_, err = New(&fakeFactory{}, Config{Registerer: reg})
	require.NoError(t, err)
	_, err = New(&fakeFactory{}, Config{Registerer: reg})
	assert.ErrorContains(t, err, "already registered")
}

func TestSetFactoryAppliesToNewFlows(t *testing.T) {
	old := &fakeFactory{}
	fx := newFixture(t, old, Config{})
	live := fx.flow(t, 1, "")
	next := &fakeFactory{fn: onContent("EVIL", rule(1, inspect.ActionReject))}
	require.NoError(t, fx.h.SetFactory(next))
	assert.Equal(t, netstack.Continue, live.Chunk(netstack.ToServer, []byte("EVIL")), "a live flow keeps its inspector")
	assert.Equal(t, netstack.Reject, fx.flow(t, 2, "").Chunk(netstack.ToServer, []byte("EVIL")))
	assert.Error(t, fx.h.SetFactory(nil))
}

// A dropped HTTP request never completes, so no http record comes with
// the result: the alert's own transaction (inspect.Alert.HTTP) is what
// puts the http object into the EVE alert.
func TestAlertHTTPObject(t *testing.T) {
	r := rule(4001, inspect.ActionDrop)
	inProgress := &inspect.HTTPTx{Method: "GET", URL: "/drop-me", Hostname: "h", Protocol: "HTTP/1.1"}
	record := &inspect.HTTPTx{Method: "GET", URL: "/from-record", Hostname: "h"}
	tests := []struct {
		name    string
		alert   *inspect.HTTPTx
		events  []inspect.Event
		wantURL string // "": no http object
	}{
		{"in-progress request of a drop", inProgress, nil, "/drop-me"},
		{"alert's own transaction wins", inProgress, []inspect.Event{{HTTP: record}}, "/drop-me"},
		{"completed record as fallback", nil, []inspect.Event{{HTTP: record}}, "/from-record"},
		{"no transaction", nil, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ff := &fakeFactory{fn: func(_ inspect.FlowMeta, dir inspect.Direction, _ []byte) inspect.Result {
				return inspect.Result{Action: inspect.ActionDrop, Events: tc.events,
					Alerts: []inspect.Alert{{Rule: r, Dir: dir, AppProto: "http", HTTP: tc.alert}}}
			}}
			fx := newFixture(t, ff, Config{})
			fh := fx.flow(t, 1, "")
			assert.Equal(t, netstack.Drop, fh.Chunk(netstack.ToServer, []byte("GET /drop-me HTTP/1.1\r\n")))
			al := fx.sink.of(eve.TypeAlert)
			require.Len(t, al, 1)
			assert.Equal(t, "blocked", al[0].Alert.Action)
			if tc.wantURL == "" {
				assert.Nil(t, al[0].HTTP)
				return
			}
			require.NotNil(t, al[0].HTTP)
			assert.Equal(t, tc.wantURL, al[0].HTTP.URL)
			assert.Equal(t, "GET", al[0].HTTP.HTTPMethod)
		})
	}
}

// TestPassedFlowKeepsLogging: after a pass rule the flow is answered
// Monitor; its later chunks still produce http records, while later
// matches neither alert nor block (Suricata: pass stops detection, not
// logging).
func TestPassedFlowKeepsLogging(t *testing.T) {
	pass := &inspect.RuleInfo{SID: 10, Action: inspect.ActionPass}
	evil := &inspect.RuleInfo{SID: 11, Action: inspect.ActionDrop, Msg: "evil"}
	ff := &fakeFactory{fn: func(_ inspect.FlowMeta, dir inspect.Direction, data []byte) inspect.Result {
		res := inspect.Result{Events: []inspect.Event{{Dir: dir, HTTP: &inspect.HTTPTx{Method: "GET", URL: string(data), Hostname: "h"}}}}
		switch {
		case bytes.Contains(data, []byte("trusted")):
			res.Action = inspect.ActionPass
			res.Alerts = []inspect.Alert{{Rule: pass, Dir: dir}}
		case bytes.Contains(data, []byte("EVIL")):
			res.Action = inspect.ActionDrop
			res.Alerts = []inspect.Alert{{Rule: evil, Dir: dir}}
		}
		return res
	}}
	fx := newFixture(t, ff, Config{})
	fh := fx.flow(t, 5, "")
	assert.Equal(t, netstack.Monitor, fh.Chunk(netstack.ToServer, []byte("/trusted")))
	assert.Equal(t, netstack.Monitor, fh.Chunk(netstack.ToServer, []byte("/second")))
	assert.Equal(t, netstack.Monitor, fh.Chunk(netstack.ToServer, []byte("/EVIL")))
	fh.Close(netstack.FlowStats{Verdict: netstack.Pass, Reason: "fin"})
	var urls []string
	for _, ev := range fx.sink.of(eve.TypeHTTP) {
		urls = append(urls, ev.HTTP.URL)
	}
	assert.Equal(t, []string{"/trusted", "/second", "/EVIL"}, urls, "every request of the passed flow is logged")
	assert.Empty(t, fx.sink.of(eve.TypeAlert), "a passed flow is not inspected for alerts")
	assert.Empty(t, fx.sink.of(eve.TypeDrop))
	flows := fx.sink.of(eve.TypeFlow)
	require.Len(t, flows, 1)
	assert.Equal(t, "pass", flows[0].Flow.Action)
}

// TestEVEMetadataFlowbits: alerts and the flow event carry the flow's
// flowbits in metadata, as Suricata's EVE does.
func TestEVEMetadataFlowbits(t *testing.T) {
	ff := &fakeFactory{fn: onContent("EVIL", rule(6, inspect.ActionAlert)), bits: []string{"seen.evil"}}
	fx := newFixture(t, ff, Config{})
	fh := fx.flow(t, 1, "")
	fh.Chunk(netstack.ToServer, []byte("EVIL"))
	fh.Close(netstack.FlowStats{End: t0.Add(time.Second)})
	want := &eve.Metadata{FlowBits: []string{"seen.evil"}}
	al := fx.sink.of(eve.TypeAlert)
	require.Len(t, al, 1)
	assert.Equal(t, want, al[0].Metadata)
	flows := fx.sink.of(eve.TypeFlow)
	require.Len(t, flows, 1)
	assert.Equal(t, want, flows[0].Metadata)
}

// TestBypassedFlowIsNeitherInspectedNorLogged: a bypass rule's match is
// alerted and the flow goes to the fast path (Pass, not Monitor): its
// later bytes are not inspected, not even for records, and the flow
// event says bypassed.
func TestBypassedFlowIsNeitherInspectedNorLogged(t *testing.T) {
	big := &inspect.RuleInfo{SID: 20, Action: inspect.ActionAlert, Msg: "big", Bypass: true}
	calls := 0
	ff := &fakeFactory{fn: func(_ inspect.FlowMeta, dir inspect.Direction, data []byte) inspect.Result {
		calls++
		res := inspect.Result{Events: []inspect.Event{{Dir: dir, HTTP: &inspect.HTTPTx{Method: "GET", URL: string(data), Hostname: "h"}}}}
		if bytes.Contains(data, []byte("video")) {
			res.Action, res.Bypass = inspect.ActionAlert, true
			res.Alerts = []inspect.Alert{{Rule: big, Dir: dir}}
		}
		return res
	}}
	fx := newFixture(t, ff, Config{})
	fh := fx.flow(t, 6, "")
	assert.Equal(t, netstack.Continue, fh.Chunk(netstack.ToServer, []byte("/first")))
	assert.Equal(t, netstack.Pass, fh.Chunk(netstack.ToServer, []byte("/video")))
	assert.Equal(t, netstack.Pass, fh.Chunk(netstack.ToClient, []byte("/late")))
	fh.Close(netstack.FlowStats{Verdict: netstack.Pass, Reason: "fin"})
	assert.Equal(t, 2, calls, "nothing is inspected after the bypass")
	alerts := fx.sink.of(eve.TypeAlert)
	require.Len(t, alerts, 1)
	assert.Equal(t, uint32(20), alerts[0].Alert.SignatureID)
	assert.Len(t, fx.sink.of(eve.TypeHTTP), 2, "no record after the bypass")
	flows := fx.sink.of(eve.TypeFlow)
	require.Len(t, flows, 1)
	assert.Equal(t, "bypassed", flows[0].Flow.State)
	assert.Equal(t, "local", flows[0].Flow.Bypass)
}

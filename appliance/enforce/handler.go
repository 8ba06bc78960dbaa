package enforce

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/netstack"
)

// Sink receives EVE events; *eve.Writer implements it. Write is called
// from many flows at once and must be safe for concurrent use.
type Sink interface {
	Write(ev *eve.Event) error
}

// Config configures a Handler. The zero value enforces (ips), fails
// closed, logs no events and exports no metrics.
type Config struct {
	// Mode is the default mode (config key mode: ips|ids; "" is ips).
	Mode Mode
	// IdentityModes overrides Mode for flows of the named identities
	// (config key: per-identity mode), e.g. ids to shadow a policy for
	// some peers before enforcing it for them.
	IdentityModes map[string]Mode
	// FailOpen passes a flow whose inspection panicked instead of
	// resetting it (config key fail_open; default false). In ids mode a
	// panicked flow is always passed: ids never changes traffic.
	FailOpen bool
	// Events receives the EVE records (config key: EVE path, opened with
	// eve.OpenFile). Nil discards them.
	Events Sink
	// Registerer receives the handler's metrics. Nil keeps them
	// unexported.
	Registerer prometheus.Registerer
	// Logger logs recovered panics and EVE write failures. Nil is
	// slog.Default().
	Logger *slog.Logger
	// MaxSIDLabels bounds the sid label of the alerts counter (default
	// DefaultMaxSIDLabels).
	MaxSIDLabels int
	// Now is the clock for event timestamps (default time.Now). Latency
	// histograms always use the monotonic wall clock.
	Now func() time.Time
	// OnResult, if set, is called with every Inspect result that has an
	// alert, an app-layer event or an action, after the chunk's verdict
	// was decided and before Chunk returns, so a hook that ends the flow
	// (policy's protocol validation) still holds the chunk that carried
	// the finding. It runs under the flow's lock on the relay's
	// goroutine: it must not block, and ri is valid only during the call.
	OnResult func(ri *ResultInfo)
}

// ResultInfo is what Config.OnResult sees of one inspected chunk.
type ResultInfo struct {
	Flow   *inspect.FlowMeta
	NIC    string
	Dir    inspect.Direction
	Len    int // bytes of the chunk
	Result *inspect.Result
	// Verdict is what inspection decided for the chunk; Enforcing is
	// false in ids mode, where a terminal Verdict was only logged.
	Verdict   netstack.Verdict
	Enforcing bool
}

// Handler implements netstack.Handler: one inspect.FlowInspector per
// flow, its results mapped onto verdicts, logged as EVE and counted.
type Handler struct {
	ff       atomic.Pointer[factory]
	policy   atomic.Pointer[policy]
	failOpen bool
	events   Sink
	log      *slog.Logger
	now      func() time.Time
	m        *metrics
	eveErred atomic.Bool
	onResult func(ri *ResultInfo)
}

type factory struct{ ff inspect.FlowFactory }

type policy struct {
	def   Mode
	ident map[string]Mode
}

var _ netstack.Handler = (*Handler)(nil)

// New returns a Handler that inspects flows with ff.
func New(ff inspect.FlowFactory, cfg Config) (*Handler, error) {
	if ff == nil {
		return nil, fmt.Errorf("enforce: nil flow factory")
	}
	h := &Handler{failOpen: cfg.FailOpen, events: cfg.Events, log: cfg.Logger, now: cfg.Now, onResult: cfg.OnResult}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	if err := h.SetModes(cfg.Mode, cfg.IdentityModes); err != nil {
		return nil, err
	}
	maxSIDs := cfg.MaxSIDLabels
	if maxSIDs <= 0 {
		maxSIDs = DefaultMaxSIDLabels
	}
	m, err := newMetrics(cfg.Registerer, maxSIDs)
	if err != nil {
		return nil, err
	}
	h.m = m
	h.ff.Store(&factory{ff})
	return h, nil
}

// SetFactory swaps the flow factory (a rule reload): flows started later
// use ff, live flows keep the inspector they have.
func (h *Handler) SetFactory(ff inspect.FlowFactory) error {
	if ff == nil {
		return fmt.Errorf("enforce: nil flow factory")
	}
	h.ff.Store(&factory{ff})
	return nil
}

// SetModes replaces the default mode and the per-identity overrides
// (policy reload). Flows keep the mode they started with.
func (h *Handler) SetModes(def Mode, perIdentity map[string]Mode) error {
	d, err := ParseMode(string(def))
	if err != nil {
		return err
	}
	p := &policy{def: d, ident: make(map[string]Mode, len(perIdentity))}
	for id, m := range perIdentity {
		pm, err := ParseMode(string(m))
		if err != nil {
			return fmt.Errorf("enforce: identity %q: %w", id, err)
		}
		p.ident[id] = pm
	}
	h.policy.Store(p)
	return nil
}

// ModeFor returns the mode a new flow of identity gets.
func (h *Handler) ModeFor(identity string) Mode {
	p := h.policy.Load()
	if m, ok := p.ident[identity]; ok {
		return m
	}
	return p.def
}

// failVerdict is what a flow whose inspection panicked gets.
func (h *Handler) failVerdict(m Mode) netstack.Verdict {
	if h.failOpen || !m.enforcing() {
		return netstack.Pass
	}
	return netstack.Reject
}

// IdentityOf returns the identity the appliance attached to a flow, nil
// for none (or for a type the appliance does not build).
func IdentityOf(info *netstack.FlowInfo) *inspect.Identity {
	id, _ := info.Identity.(*inspect.Identity)
	return id
}

// NewFlow implements netstack.Handler. It never refuses a flow by itself
// (admission is policy's business); only a panic while creating the
// inspector ends the flow before it is dialled.
func (h *Handler) NewFlow(info *netstack.FlowInfo) (fh netstack.FlowHandler, v netstack.Verdict) {
	mode := h.ModeFor(netstack.IdentityName(info.Identity))
	f := &flow{
		h:    h,
		mode: mode,
		nic:  info.NIC,
		meta: inspect.FlowMeta{
			ID: info.ID, Proto: inspect.Proto(info.Proto), Src: info.Src, Dst: info.Dst,
			Identity: IdentityOf(info), Start: info.Start,
		},
	}
	h.m.flows.WithLabelValues(mode.label()).Inc()
	defer func() {
		if r := recover(); r != nil {
			fh, v = f, f.fail(0, "new flow", r)
		}
	}()
	f.insp = h.ff.Load().ff.NewFlow(f.meta)
	return f, netstack.Continue
}

func (h *Handler) emit(ev *eve.Event) {
	if h.events == nil {
		return
	}
	if err := h.events.Write(ev); err != nil {
		h.m.eveErrors.Inc()
		// Log the first failure only: a full disk would otherwise turn
		// every event into a log line.
		if h.eveErred.CompareAndSwap(false, true) {
			h.log.Error("EVE write failed; further failures are only counted", "err", err)
		}
	}
}

// flow is one flow's handler.
type flow struct {
	h    *Handler
	meta inspect.FlowMeta
	nic  string
	mode Mode

	// mu serialises the directions: an inspector is not safe for
	// concurrent use (flowbits and app-layer state span both).
	mu   sync.Mutex
	insp inspect.FlowInspector // nil after a panic
	// final is Continue until the flow is decided: Pass, or the terminal
	// verdict returned to the relay.
	final netstack.Verdict
	// would is the strongest action ids mode did not enforce.
	would   inspect.Action
	alerted bool
	// bypassed: a bypass rule passed the flow; unlike a pass rule's,
	// its later bytes are not even parsed for logging.
	bypassed bool
}

// Chunk implements netstack.FlowHandler.
func (f *flow) Chunk(dir netstack.Direction, b []byte) netstack.Verdict {
	// Clock reads are most of the handler's own cost (about 100 ns each
	// on the VMs measured, BenchmarkChunk): an uncontended lock reuses the
	// arrival time as the start of Inspect.
	start := time.Now()
	t0 := start
	if !f.mu.TryLock() {
		f.mu.Lock()
		t0 = time.Now()
	}
	defer f.mu.Unlock()
	if f.final == netstack.Pass && f.insp != nil && !f.bypassed {
		f.monitor(dir, b, t0)
		return netstack.Monitor
	}
	if f.final != netstack.Continue {
		// Decided already; the other direction's pump was inside its
		// read when the verdict came.
		if f.final.Terminal() {
			ev := eve.NewDrop(f.h.now(), &f.meta, inspect.Direction(dir), nil, len(b))
			ev.InIface = f.nic
			f.h.emit(&ev)
		}
		return f.final
	}
	res, ok := f.inspect(dir, b, t0)
	if !ok {
		return f.final
	}
	act, rule := strongest(&res)
	decided := verdictFor(act)
	if res.Bypass && !decided.Terminal() {
		// A bypass rule: the rest of the flow is forwarded on the fast
		// path, neither inspected nor logged (Suricata's local bypass).
		decided = netstack.Pass
	}
	ret := apply(decided, f.mode)
	f.h.m.verdict(f.mode, decided)
	if ret != netstack.Continue {
		f.final = ret
	}
	if len(res.Alerts) == 0 && len(res.Events) == 0 && act == inspect.ActionNone {
		return ret
	}
	ts := f.h.now()
	f.logResult(ts, &res, f.mode.enforcing())
	if decided.Terminal() {
		f.logDrop(ts, inspect.Direction(dir), rule, decided, len(b))
	}
	if f.h.onResult != nil {
		f.h.onResult(&ResultInfo{Flow: &f.meta, NIC: f.nic, Dir: inspect.Direction(dir), Len: len(b), Result: &res,
			Verdict: decided, Enforcing: f.mode.enforcing()})
	}
	if act != inspect.ActionNone || len(res.Alerts) > 0 {
		f.h.m.matchLatency.Observe(time.Since(start).Seconds())
	}
	if res.Bypass && ret == netstack.Pass {
		f.bypassed = true
		return ret
	}
	return monitorPass(ret, f.insp)
}

// monitorPass turns a pass into Monitor while the inspector lives: the
// relay then forwards without waiting for inspection, and the
// inspector's parsers keep writing the flow's http, dns and tls records
// (Suricata's pass rule stops detection, not logging: issue 12).
func monitorPass(v netstack.Verdict, insp inspect.FlowInspector) netstack.Verdict {
	if v == netstack.Pass && insp != nil {
		return netstack.Monitor
	}
	return v
}

// monitor inspects a chunk of a passed flow, already forwarded, for its
// app-layer records only: no alert, no action, no hook.
func (f *flow) monitor(dir netstack.Direction, b []byte, t0 time.Time) {
	res, ok := f.inspect(dir, b, t0)
	if !ok || len(res.Events) == 0 {
		return
	}
	f.logEvents(f.h.now(), &res)
}

// inspect runs the inspector, which started at t0, recovering a panic
// into the flow's fail verdict (ok false).
func (f *flow) inspect(dir netstack.Direction, b []byte, t0 time.Time) (res inspect.Result, ok bool) {
	if f.insp == nil {
		return res, false
	}
	defer func() {
		if r := recover(); r != nil {
			f.fail(len(b), "inspect "+dir.String(), r)
			ok = false
		}
	}()
	res = f.insp.Inspect(inspect.Direction(dir), b)
	f.h.m.inspect.Observe(time.Since(t0).Seconds())
	return res, true
}

// fail ends the flow after a panic: the inspector is abandoned (its state
// may be inconsistent) and the flow is reset or passed.
func (f *flow) fail(n int, where string, r any) netstack.Verdict {
	h := f.h
	h.m.panics.Inc()
	v := h.failVerdict(f.mode)
	h.log.Error("flow inspection panicked", "flow", f.meta.ID, "identity", f.meta.Identity,
		"src", f.meta.Src, "dst", f.meta.Dst, "where", where, "panic", fmt.Sprint(r), "verdict", v.String(),
		"stack", string(debug.Stack()))
	f.insp = nil
	f.final = v
	h.m.verdict(f.mode, v)
	if v.Terminal() {
		ev := eve.NewDrop(h.now(), &f.meta, inspect.ToServer, nil, n)
		ev.InIface = f.nic
		ev.Drop.Reason = "internal error"
		h.emit(&ev)
	}
	return v
}

// logResult writes the alert and app-layer events of one result.
// enforce says whether a drop or reject was carried out. Pass-rule and
// noalert matches are not logged (their action still applied), as in
// Suricata.
func (f *flow) logResult(ts time.Time, res *inspect.Result, enforce bool) {
	h := f.h
	for i := range res.Alerts {
		a := &res.Alerts[i]
		if !a.Logged() {
			continue
		}
		ev := eve.NewAlert(ts, &f.meta, a, enforce)
		if ev.AppProto == "" {
			// Suricata's alerts name the flow's protocol, also for a
			// match on the raw stream.
			ev.AppProto = inspect.AppProtoOf(f.insp)
		}
		ev.Verdict = eve.VerdictObject(res.Action, enforce, f.meta.Proto)
		ev.Metadata = eve.MetadataOf(f.insp)
		ev.InIface = f.nic
		if ev.HTTP == nil && inspect.AppProtoIs(a.AppProto, "http") {
			// Alert.HTTP is the engine's answer (it is set for requests
			// still in progress, which a drop never lets complete); the
			// result's transaction record is the fallback.
			ev.HTTP = txHTTP(res.Events, a.TxID)
		}
		h.emit(&ev)
		f.alerted = true
		h.m.alerts.WithLabelValues(h.m.sidLabel(a.Rule.SID), ev.Alert.Action).Inc()
	}
	f.logEvents(ts, res)
}

// logEvents writes the app-layer records (http, dns, tls, ...) of a
// result.
func (f *flow) logEvents(ts time.Time, res *inspect.Result) {
	for i := range res.Events {
		ev, ok := eve.NewAppEvent(ts, &f.meta, &res.Events[i])
		if !ok {
			continue
		}
		ev.InIface = f.nic
		f.h.emit(&ev)
	}
}

// txHTTP finds the http record of transaction tx among events, so an
// alert carries the request it matched as Suricata's alerts do.
func txHTTP(events []inspect.Event, tx uint64) *eve.HTTP {
	for i := range events {
		if e := &events[i]; e.HTTP != nil && e.TxID == tx {
			return eve.HTTPObject(e.HTTP)
		}
	}
	return nil
}

// logDrop writes the drop event of the chunk that decided a terminal
// verdict. In ids mode nothing was dropped: the event says what would
// have happened (reason would-drop, would-reject, ...) and its alert
// action is allowed.
func (f *flow) logDrop(ts time.Time, dir inspect.Direction, rule *inspect.RuleInfo, v netstack.Verdict, n int) {
	ev := eve.NewDrop(ts, &f.meta, dir, rule, n)
	ev.InIface = f.nic
	if !f.mode.enforcing() {
		ev.Drop.Reason = wouldReason(v)
		if ev.Alert != nil {
			ev.Alert.Action = eve.ActionAllowed
		}
		if rule != nil && rule.Action.Stronger(f.would) {
			f.would = rule.Action
		}
	}
	f.h.emit(&ev)
}

// wouldReason names an unenforced verdict: would-drop, would-reject,
// would-rejectdst, would-rejectboth.
func wouldReason(v netstack.Verdict) string { return "would-" + v.String() }

// Close implements netstack.FlowHandler: it closes the inspector and logs
// the flow event.
func (f *flow) Close(st netstack.FlowStats) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var app, appWhy string
	if r, ok := f.insp.(inspect.AppProtoReasoner); ok {
		appWhy = r.AppProtoReason()
	}
	md := eve.MetadataOf(f.insp) // the flow's variables, before the inspector goes

	if f.insp != nil {
		app = inspect.AppProtoOf(f.insp)
		res, ok := f.closeInspector()
		// Findings at close can no longer change what was forwarded;
		// they are logged unless a verdict had ended the flow already.
		switch {
		case ok && f.final == netstack.Continue:
			f.logResult(f.h.now(), &res, false)
		case ok && f.final == netstack.Pass && !f.bypassed:
			f.logEvents(f.h.now(), &res) // a passed flow still logs
		}
	}
	end := st.End
	if end.IsZero() {
		end = f.h.now()
	}
	ev := eve.Base(end, eve.TypeFlow, &f.meta, inspect.ToServer)
	ev.InIface = f.nic
	ev.AppProto = app
	ev.Metadata = md
	ev.Flow = &eve.Flow{
		PktsToServer: st.PacketsToServer, PktsToClient: st.PacketsToClient,
		BytesToServer: st.BytesToServer, BytesToClient: st.BytesToClient,
		Start: eve.Time{Time: f.meta.Start}, End: eve.Time{Time: end},
		Age:     int64(end.Sub(f.meta.Start) / time.Second),
		State:   flowState(f.meta.Proto, st),
		Reason:  flowReason(st.Reason),
		Alerted: f.alerted,
		Action:  f.flowAction(st.Verdict),
	}
	if f.bypassed {
		ev.Flow.State, ev.Flow.Bypass = "bypassed", "local"
	}
	ev.AppProtoReason = appWhy
	f.h.emit(&ev)
}

func (f *flow) closeInspector() (res inspect.Result, ok bool) {
	insp := f.insp
	f.insp = nil
	defer func() {
		if r := recover(); r != nil {
			// The flow is over: nothing to reset, only count and log.
			f.h.m.panics.Inc()
			f.h.log.Error("flow inspection panicked at close", "flow", f.meta.ID, "identity", f.meta.Identity,
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			ok = false
		}
	}()
	return insp.Close(), true
}

// flowAction is the flow record's action: drop for a flow a verdict ended
// (reject included, as in Suricata), pass for a passed one, would-... in
// ids mode.
func (f *flow) flowAction(netVerdict netstack.Verdict) string {
	switch {
	case f.final.Terminal() || netVerdict.Terminal():
		return "drop"
	case f.would != inspect.ActionNone:
		return wouldReason(verdictFor(f.would))
	case f.final == netstack.Pass:
		return "pass"
	}
	return ""
}

// flowState is Suricata's flow.state at the end of a flow.
func flowState(p inspect.Proto, st netstack.FlowStats) string {
	if p == inspect.ProtoTCP {
		switch st.Reason {
		case "idle", "shutdown":
			return "established"
		}
		return "closed"
	}
	if st.PacketsToClient > 0 {
		return "established"
	}
	return "new"
}

// flowReason maps netstack's end reason onto Suricata's words where they
// mean the same (idle: timeout); the others (fin, rst, verdict, dial,
// shutdown, ...) are logged as they are, being more precise than
// Suricata's "forced".
func flowReason(r string) string {
	switch r {
	case "idle":
		return "timeout"
	case "":
		return "shutdown"
	}
	return r
}

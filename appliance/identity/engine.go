package identity

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/interdict/interdict/appliance/enforce"
	"github.com/interdict/interdict/appliance/policy"
	"github.com/interdict/interdict/appliance/state"
	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/netstack"
)

// Guard is the part of *netstack.Guard a quarantine drives: the packet
// guard drops the identity's source prefixes at O(1) per packet.
type Guard = policy.Guard

// Flows is the part of *netstack.FlowTable used to reset an identity's
// live flows.
type Flows = policy.Flows

// Clock is the time source (policy's one clock interface, so tests drive
// expiry with policytest.Clock).
type Clock = policy.Clock

// Options are the run-time dependencies of an Engine.
type Options struct {
	Clock      Clock
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Events receives the EVE interruption records (the appliance's one
	// writer); nil discards them (they are still logged).
	Events enforce.Sink
	// Store keeps interruptions and offence counts across restarts; nil
	// keeps them in memory only.
	Store state.Store
	// SweepEvery is the period of the expiry sweep (default 1s);
	// negative disables the background sweeper (tests call Sweep).
	SweepEvery time.Duration
}

// Interruption is an identity's pause or quarantine in force.
type Interruption struct {
	Identity string `json:"identity"`
	Action   string `json:"action"` // pause or quarantine
	// Trigger is the trigger's name, or "manual" for an operator's.
	Trigger string    `json:"trigger"`
	Reason  string    `json:"reason,omitempty"`
	Since   time.Time `json:"since"`
	// Until is when the interruption ends; zero is until released.
	Until    time.Time      `json:"until"`
	Level    int            `json:"level,omitempty"`
	Evidence []eve.Evidence `json:"evidence,omitempty"`
}

func (in *Interruption) inForce(now time.Time) bool {
	return in.Until.IsZero() || now.Before(in.Until)
}

// TriggerManual names operators' interruptions in EVE and metrics.
const TriggerManual = "manual"

// Buckets of the state store.
const (
	bucketInterruptions = "interruptions"
	bucketOffences      = "offences"
)

// offenceMemory is how long an identity's offence count is remembered
// for escalation: a day without a new offence starts it over.
const offenceMemory = 24 * time.Hour

// maxEvidence bounds the evidence one record carries.
const maxEvidence = 16

type offence struct {
	Count int       `json:"count"`
	Last  time.Time `json:"last"`
}

// Engine counts per-identity events against the triggers and pauses or
// quarantines identities: Wrap refuses their new flows before the inner
// handler (so before any upstream dial), OnResult sees alerts and HTTP
// statuses, the guard drops a quarantined identity's packets and its
// live flows are reset. Every change is logged, recorded as an EVE
// interruption event, counted and stored.
type Engine struct {
	reg   *Registry
	set   atomic.Pointer[settings]
	clock Clock
	log   *slog.Logger
	m     *metrics
	evs   enforce.Sink
	store state.Store

	// active is read on every new flow: an immutable set by identity
	// name, replaced on change.
	active atomic.Pointer[activeSet]

	// pols are the egress policies (nil: none); dns the names DNS
	// answers gave addresses, per identity.
	pols atomic.Pointer[Policies]
	dns  dnsCache
	// toks are the token settings (nil: off); tokens the first-use
	// bindings.
	toks   atomic.Pointer[tokenSettings]
	tokens tokenStore
	// learn keeps what identities under a policy reached.
	learn learner

	mu       sync.Mutex // orders changes to active, offences, windows
	offences map[string]offence
	windows  map[windowKey]*window
	last     map[string]string // last trigger that fired per identity

	// opMu orders the side effects of changes (guard, state) so that a
	// release between a quarantine's guard push and its record cannot
	// leave a stale guard entry or a stored interruption behind.
	opMu sync.Mutex

	attachMu sync.Mutex
	guard    Guard
	flows    Flows
	guarded  map[string][]netip.Prefix // prefixes pushed to the guard per identity

	// stops end the watches of a shared store.
	stops []func()
	// late is the schedule of late reset passes (resetLate).
	late lateResets

	done     chan struct{}
	goMu     sync.Mutex
	closed   bool
	wg       sync.WaitGroup
	eveErred atomic.Bool
}

// NewEngine validates cfg against the registry's identities and builds
// an engine; interruptions stored by an earlier run are in force at once.
func NewEngine(reg *Registry, cfg InterruptConfig, opts Options) (*Engine, error) {
	s, err := cfg.compile(nil)
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	e := &Engine{reg: reg, clock: opts.Clock, log: opts.Logger, m: m, evs: opts.Events, store: opts.Store,
		offences: map[string]offence{}, windows: map[windowKey]*window{}, last: map[string]string{},
		guarded: map[string][]netip.Prefix{}, done: make(chan struct{})}
	if e.clock == nil {
		e.clock = wallClock{}
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	e.set.Store(s)
	act := map[string]*Interruption{}
	if err := e.load(act); err != nil {
		return nil, err
	}
	if err := e.loadTokens(); err != nil {
		return nil, err
	}
	set := newActiveSet(act)
	e.active.Store(set)
	e.gauges(set)
	if err := e.follow(); err != nil {
		return nil, err
	}
	every := opts.SweepEvery
	if every == 0 {
		every = time.Second
	}
	if every > 0 {
		e.async(func() { e.sweeper(every) })
	}
	return e, nil
}

type wallClock struct{}

func (wallClock) Now() time.Time                         { return time.Now() }
func (wallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// load reads the stored interruptions and offences; expired ones are
// deleted.
func (e *Engine) load(act map[string]*Interruption) error {
	if e.store == nil {
		return nil
	}
	now := e.clock.Now()
	keys, err := e.store.Keys(bucketInterruptions)
	if err != nil {
		return fmt.Errorf("identity: load interruptions: %w", err)
	}
	for _, k := range keys {
		b, err := e.store.Get(bucketInterruptions, k)
		if err != nil {
			return fmt.Errorf("identity: load interruption %q: %w", k, err)
		}
		var in Interruption
		if err := json.Unmarshal(b, &in); err != nil || in.Identity != k {
			e.log.Error("identity: stored interruption unreadable, dropped", "identity", k, "err", err)
			_ = e.store.Delete(bucketInterruptions, k)
			continue
		}
		if !in.inForce(now) {
			_ = e.store.Delete(bucketInterruptions, k)
			continue
		}
		act[k] = &in
		e.log.Info("identity: interruption restored", "identity", k, "action", in.Action, "trigger", in.Trigger, "until", in.Until)
	}
	keys, err = e.store.Keys(bucketOffences)
	if err != nil {
		return fmt.Errorf("identity: load offences: %w", err)
	}
	for _, k := range keys {
		b, err := e.store.Get(bucketOffences, k)
		if err != nil {
			return fmt.Errorf("identity: load offences %q: %w", k, err)
		}
		var o offence
		if json.Unmarshal(b, &o) == nil && now.Sub(o.Last) < offenceMemory {
			e.offences[k] = o
		}
	}
	return nil
}

// SetTriggers compiles and installs a new interruption section (a
// reload); on an error the running one stays. Counting starts over;
// interruptions in force keep their end.
func (e *Engine) SetTriggers(cfg InterruptConfig, known func(string) bool) error {
	s, err := cfg.compile(known)
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.set.Store(s)
	e.windows = map[windowKey]*window{}
	e.mu.Unlock()
	return nil
}

// Attach connects the engine to the stack's packet guard and flow table;
// quarantines restored from the state are pushed to the guard now and
// their identities' live flows reset.
func (e *Engine) Attach(g Guard, flows Flows) error {
	e.attachMu.Lock()
	e.guard, e.flows = g, flows
	e.attachMu.Unlock()
	var errs []error
	var names []string
	for name, in := range e.active.Load().all() {
		if in.Action == ActionQuarantine {
			errs = append(errs, e.guardBlock(name, in.Until))
			names = append(names, name)
		}
	}
	e.resetFlows(names)
	return errors.Join(errs...)
}

// Close stops the watches of a shared store and the sweeper, and waits
// for resets in progress.
func (e *Engine) Close() {
	e.unfollow()
	e.goMu.Lock()
	if !e.closed {
		e.closed = true
		close(e.done)
	}
	e.goMu.Unlock()
	e.wg.Wait()
	e.FlushObservations()
}

func (e *Engine) async(fn func()) bool {
	e.goMu.Lock()
	defer e.goMu.Unlock()
	if e.closed {
		return false
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		fn()
	}()
	return true
}

func (e *Engine) sweeper(every time.Duration) {
	for {
		select {
		case <-e.done:
			return
		case <-e.clock.After(every):
			e.Sweep()
			e.FlushObservations()
		}
	}
}

// Get returns the interruption of an identity in force now.
func (e *Engine) Get(name string) (Interruption, bool) {
	in, ok := e.active.Load().get(name)
	if !ok || !in.inForce(e.clock.Now()) {
		return Interruption{}, false
	}
	return *in, true
}

// List returns the interruptions in force, sorted by identity.
func (e *Engine) List() []Interruption {
	now := e.clock.Now()
	var out []Interruption
	for _, in := range e.active.Load().all() {
		if in.inForce(now) {
			out = append(out, *in)
		}
	}
	slices.SortFunc(out, func(a, b Interruption) int { return compareStrings(a.Identity, b.Identity) })
	return out
}

// LastTrigger is the last trigger that fired for an identity (ids mode
// included), "" if none.
func (e *Engine) LastTrigger(name string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.last[name]
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Request is an operator's pause or quarantine of one identity or of
// every identity with a tag.
type Request struct {
	Identity string
	Tag      string
	Action   string
	// For is the duration; zero is DefaultManualFor.
	For    time.Duration
	Reason string
}

// DefaultManualFor is an operator's interruption without --for.
const DefaultManualFor = time.Hour

// ErrUnknown is wrapped when a request names no known identity.
var ErrUnknown = errors.New("no such identity")

// targets resolves an identity name or a tag to registry entries.
func (e *Engine) targets(name, tag string) ([]*Identity, error) {
	switch {
	case name != "" && tag != "":
		return nil, errors.New("name an identity or a tag, not both")
	case name != "":
		en, ok := e.reg.Get(name)
		if !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknown, name)
		}
		return []*Identity{en.Identity}, nil
	case tag != "":
		var out []*Identity
		for _, en := range e.reg.Tagged(tag) {
			out = append(out, en.Identity)
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%w with tag %q", ErrUnknown, tag)
		}
		return out, nil
	}
	return nil, errors.New("name an identity or a tag")
}

// Interrupt pauses or quarantines the identities of r at once (live
// flows of a quarantined identity are reset before it returns) and
// returns their interruptions.
func (e *Engine) Interrupt(r Request) ([]Interruption, error) {
	if r.Action != ActionPause && r.Action != ActionQuarantine {
		return nil, fmt.Errorf("action %q: want pause or quarantine", r.Action)
	}
	if r.For == 0 {
		r.For = DefaultManualFor
	}
	if r.For < 0 || r.For > MaxDuration {
		return nil, fmt.Errorf("duration %s: want a positive duration up to %s", r.For, MaxDuration)
	}
	ids, err := e.targets(r.Identity, r.Tag)
	if err != nil {
		return nil, err
	}
	now := e.clock.Now()
	var out []Interruption
	var changes []change
	e.mu.Lock()
	for _, id := range ids {
		in := &Interruption{Identity: id.Name, Action: r.Action, Trigger: TriggerManual, Reason: r.Reason,
			Since: now, Until: now.Add(r.For)}
		changes = append(changes, e.putLocked(id, in))
	}
	e.mu.Unlock()
	e.apply(changes)
	for _, c := range changes {
		out = append(out, *c.in)
	}
	return out, nil
}

// Release ends the interruptions of an identity or of every identity
// with a tag; it returns the identities released.
func (e *Engine) Release(name, tag string) ([]string, error) {
	var names []string
	if name != "" && tag == "" {
		// A stored interruption may name an identity the registry no
		// longer (or not yet) holds: it can still be released.
		names = []string{name}
	} else {
		ids, err := e.targets(name, tag)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			names = append(names, id.Name)
		}
	}
	var out []string
	for _, n := range names {
		if e.release(n, "api") {
			out = append(out, n)
		}
	}
	if len(out) == 0 && name != "" {
		if _, ok := e.reg.Get(name); !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknown, name)
		}
	}
	return out, nil
}

// Sweep ends expired interruptions; the sweeper calls it every
// Options.SweepEvery. It returns how many ended.
func (e *Engine) Sweep() int {
	now := e.clock.Now()
	n := 0
	for name, in := range e.active.Load().all() {
		if !in.inForce(now) && e.release(name, "expired") {
			n++
		}
	}
	return n
}

// release removes name's interruption; cause is api, expired or cluster
// (released by another appliance: the shared store has it deleted
// already).
func (e *Engine) release(name, cause string) bool {
	if cause != CauseCluster { // the watch holds the key already
		defer e.lockKeys(bucketInterruptions, name)()
	}
	e.mu.Lock() // decide; the side effects run under opMu
	old := e.active.Load()
	in, ok := old.get(name)
	if !ok || (cause == "expired" && in.inForce(e.clock.Now())) {
		e.mu.Unlock()
		return false
	}
	next := old.without(name)
	e.active.Store(next)
	e.gauges(next)
	e.mu.Unlock()

	e.opMu.Lock()
	defer e.opMu.Unlock()
	e.guardUnblock(name)
	if e.store != nil && cause != CauseCluster {
		if err := e.store.Delete(bucketInterruptions, name); err != nil {
			e.log.Error("identity: state", "identity", name, "err", err)
		}
	}
	e.m.releases.WithLabelValues(cause).Inc()
	id := e.identity(name)
	e.log.Info("identity: release", "identity", name, "was", in.Action, "trigger", in.Trigger, "cause", cause)
	e.emit(&eve.Event{Timestamp: eve.Time{Time: e.clock.Now()}, EventType: eve.TypeInterruption, Identity: id,
		Interruption: &eve.Interruption{Action: "release", Reason: in.Reason, Trigger: in.Trigger, Cause: cause}})
	return true
}

// lockKeys takes the shared store's locks of keys of bucket (sorted, so
// two callers never wait for each other) and returns their release: the
// watch applies no change of these keys until then. A store that is not
// shared has no watch to hold off. Take them before e.mu and e.opMu: the
// watch holds a key while it takes those.
func (e *Engine) lockKeys(bucket string, keys ...string) func() {
	w, ok := e.store.(state.Watcher)
	if !ok || len(keys) == 0 {
		return func() {}
	}
	keys = slices.Compact(slices.Sorted(slices.Values(keys)))
	unlocks := make([]func(), 0, len(keys))
	for _, k := range keys {
		unlocks = append(unlocks, w.Lock(bucket, k))
	}
	return func() {
		for _, u := range slices.Backward(unlocks) {
			u()
		}
	}
}

// identity returns the registry's value for name, or a bare one for an
// identity the registry does not hold (restored state).
func (e *Engine) identity(name string) *Identity {
	if en, ok := e.reg.Get(name); ok {
		return en.Identity
	}
	return &Identity{Name: name}
}

// change is an interruption decided under e.mu and applied after it.
type change struct {
	id *Identity
	in *Interruption
	// upgrade is set when the identity was not quarantined before.
	quarantine bool
	// shared is set for another appliance's decision: stored already.
	shared bool
}

// putLocked merges in with the identity's interruption in force: the
// stronger action and the later end win. e.mu is held.
func (e *Engine) putLocked(id *Identity, in *Interruption) change {
	old := e.active.Load()
	now := e.clock.Now()
	prev, had := old.get(id.Name)
	if had && prev.inForce(now) {
		if prev.Action == ActionQuarantine {
			in.Action = ActionQuarantine
		}
		if prev.Until.IsZero() || (!in.Until.IsZero() && prev.Until.After(in.Until)) {
			in.Until = prev.Until
		}
	}
	next := old.with(id.Name, in)
	e.active.Store(next)
	e.gauges(next)
	e.last[id.Name] = in.Trigger
	return change{id: id, in: in, quarantine: in.Action == ActionQuarantine}
}

// apply carries out decided interruptions: enforce, then record.
func (e *Engine) apply(cs []change) {
	names, reset := e.enforce(cs)
	e.finish(cs, names, reset)
}

// enforce pushes quarantines to the guard and resets the live flows; it
// returns the quarantined names and the resets per name. It takes no
// more than the flow table's walk, so the data path may call it.
func (e *Engine) enforce(cs []change) ([]string, map[string]int) {
	e.opMu.Lock()
	defer e.opMu.Unlock()
	var names []string
	for _, c := range cs {
		if c.quarantine {
			if err := e.guardBlock(c.id.Name, c.in.Until); err != nil {
				e.log.Error("identity: guard", "identity", c.id.Name, "err", err)
			}
			names = append(names, c.id.Name)
		}
	}
	return names, e.resetFlows(names)
}

// finish records enforced interruptions (log, EVE, metric, state: the
// store syncs to disk) and starts the late reset passes.
func (e *Engine) finish(cs []change, names []string, reset map[string]int) {
	var mine []string
	for _, c := range cs {
		if !c.shared { // another appliance's: its watch holds the key
			mine = append(mine, c.id.Name)
		}
	}
	unlock := e.lockKeys(bucketInterruptions, mine...)
	e.opMu.Lock()
	for _, c := range cs {
		e.record(c.id, c.in, reset[c.id.Name], !c.shared)
	}
	e.opMu.Unlock()
	unlock()
	if len(names) > 0 {
		e.resetLate(names)
	}
}

// Late resets: flows of still-quarantined identities that reach the
// flow table after the first pass (NewFlow admitted them before the
// quarantine, and netstack adds a flow to its table only once the
// upstream dial and the client's handshake are done) are reset by later
// passes, backing off from 1 ms to 4 s (8 s in all, beyond the default
// 5 s dial timeout). One schedule per engine holds every identity's next
// pass, and one goroutine runs them: the passes that fall due together
// share one walk of the flow table. (A goroutine per quarantine, with its
// own timer and walk, took half the CPU of applying a burst of 1,000
// quarantines from another hub: BenchmarkClusterPropagation/burst.) It
// waits on the wall clock, not the engine's Clock: it follows the data
// path's real timing, which a test's fake clock does not drive.
const (
	lateFirst = time.Millisecond
	lateLast  = 8 * time.Second
)

// lateResets is the schedule: the next pass and its backoff per name.
type lateResets struct {
	mu      sync.Mutex
	next    map[string]latePass
	wake    chan struct{}
	running bool // a goroutine runs the schedule
}

type latePass struct {
	at   time.Time
	step time.Duration
}

// resetLate schedules late passes for names, from the first again for a
// name already scheduled (quarantined anew).
func (e *Engine) resetLate(names []string) {
	l := &e.late
	now := time.Now()
	l.mu.Lock()
	if l.next == nil {
		l.next, l.wake = map[string]latePass{}, make(chan struct{}, 1)
	}
	for _, n := range names {
		l.next[n] = latePass{at: now.Add(lateFirst), step: lateFirst}
	}
	start := !l.running
	l.running = true
	l.mu.Unlock()
	if start {
		if !e.async(e.runLate) {
			l.mu.Lock()
			l.running = false
			l.mu.Unlock()
		}
		return
	}
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// runLate runs the schedule until it is empty or the engine closes.
func (e *Engine) runLate() {
	l := &e.late
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		l.mu.Lock()
		if len(l.next) == 0 {
			l.running = false
			l.mu.Unlock()
			return
		}
		first := time.Time{}
		for _, p := range l.next {
			if first.IsZero() || p.at.Before(first) {
				first = p.at
			}
		}
		l.mu.Unlock()
		t.Reset(time.Until(first))
		select {
		case <-e.done:
			return
		case <-l.wake:
			t.Stop()
			continue
		case <-t.C:
		}
		now := time.Now()
		var due []string
		l.mu.Lock()
		for n, p := range l.next {
			if p.at.After(now) {
				continue
			}
			due = append(due, n)
			if p.step *= 2; p.step > lateLast {
				delete(l.next, n)
			} else {
				l.next[n] = latePass{at: now.Add(p.step), step: p.step}
			}
		}
		l.mu.Unlock()
		var still []string
		for _, n := range due {
			if in, ok := e.Get(n); ok && in.Action == ActionQuarantine {
				still = append(still, n)
				continue
			}
			l.mu.Lock()
			delete(l.next, n) // released: no more passes
			l.mu.Unlock()
		}
		e.resetFlows(still)
	}
}

// record logs, writes and counts an interruption and stores it (unless
// store is false: another appliance's); e.opMu is held, and the key's
// lock (lockKeys) when store is set: the check that the decision is
// still in force and its write are one step for the shared store's
// watch.
func (e *Engine) record(id *Identity, in *Interruption, reset int, store bool) {
	e.m.interruptions.WithLabelValues(in.Action, in.Trigger).Inc()
	attrs := []any{"identity", id.Name, "trigger", in.Trigger, "level", in.Level, "until", in.Until,
		"reason", in.Reason, "evidence", len(in.Evidence)}
	if in.Action == ActionQuarantine {
		attrs = append(attrs, "flows_reset", reset)
	}
	e.log.Warn("identity: "+in.Action, attrs...)
	ev := &eve.Event{Timestamp: eve.Time{Time: in.Since}, EventType: eve.TypeInterruption, Identity: id,
		Interruption: &eve.Interruption{Action: in.Action, Reason: in.Reason, Trigger: in.Trigger, Level: in.Level,
			Evidence: in.Evidence}}
	if !in.Until.IsZero() {
		ev.Interruption.Until = &eve.Time{Time: in.Until}
	}
	e.emit(ev)
	if !store || e.store == nil {
		return
	}
	if cur, _ := e.active.Load().get(id.Name); cur != in {
		return // released (or replaced) meanwhile
	}
	b, err := json.Marshal(in)
	if err == nil {
		err = e.store.Put(bucketInterruptions, id.Name, b)
	}
	if err != nil {
		e.log.Error("identity: state: interruption not stored", "identity", id.Name, "err", err)
	}
}

// guardBlock drops the identity's source prefixes in the guard. With
// quarantine_allow destinations the guard is left alone (it drops by
// source only) and new flows are refused at NewFlow instead.
func (e *Engine) guardBlock(name string, until time.Time) error {
	if len(e.set.Load().allow) > 0 {
		return nil
	}
	en, ok := e.reg.Get(name)
	if !ok {
		return nil
	}
	e.attachMu.Lock()
	defer e.attachMu.Unlock()
	if e.guard == nil {
		return nil
	}
	if until.IsZero() {
		until = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	var errs []error
	for _, p := range en.Prefixes {
		if err := e.guard.Block(p, until); err != nil {
			errs = append(errs, err)
			continue
		}
		e.guarded[name] = append(e.guarded[name], p)
	}
	return errors.Join(errs...)
}

func (e *Engine) guardUnblock(name string) {
	e.attachMu.Lock()
	defer e.attachMu.Unlock()
	for _, p := range e.guarded[name] {
		if e.guard != nil {
			e.guard.Unblock(p)
		}
	}
	delete(e.guarded, name)
}

// resetFlows resets the live flows of the named identities (but those to
// quarantine_allow destinations) in one pass over the flow table and
// returns the count per identity.
func (e *Engine) resetFlows(names []string) map[string]int {
	if len(names) == 0 {
		return nil
	}
	e.attachMu.Lock()
	flows := e.flows
	e.attachMu.Unlock()
	if flows == nil {
		return nil
	}
	s := e.set.Load()
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	out := map[string]int{}
	var sel []*netstack.Flow
	flows.Range(func(f *netstack.Flow) bool {
		info := f.Info()
		name := netstack.IdentityName(info.Identity)
		if !want[name] || s.allowed(info.Dst) {
			return true
		}
		sel = append(sel, f)
		out[name]++
		return true
	})
	_ = netstack.ResetAll(sel, netstack.RejectBoth) // RejectBoth is terminal: no error
	e.m.resets.Add(float64(len(sel)))
	return out
}

func (e *Engine) emit(ev *eve.Event) {
	if e.evs == nil {
		return
	}
	if err := e.evs.Write(ev); err != nil && e.eveErred.CompareAndSwap(false, true) {
		e.log.Error("identity: EVE write failed; further failures are not logged", "err", err)
	}
}

func (e *Engine) gauges(a *activeSet) {
	e.m.paused.Set(float64(a.paused))
	e.m.quarantined.Set(float64(a.quarantined))
}

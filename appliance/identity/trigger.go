package identity

import (
	"encoding/json"
	"net/netip"
	"time"

	"github.com/interdict/interdict/appliance/enforce"
	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/netstack"
)

// windowKey is one identity's counter for one trigger.
type windowKey struct {
	name string
	t    *trigger
}

// window counts one identity's events for one trigger over a sliding
// window. A counting trigger keeps the times of its last count events
// (it fires when the oldest of them is within the window); a scan keeps
// the last time each port and host was reached, pruned when the
// threshold is reached, so it never holds more than the threshold.
type window struct {
	times []time.Time
	ports map[uint16]time.Time
	hosts map[netip.Addr]time.Time
	ev    []eve.Evidence // the most recent evidence, at most maxEvidence
}

func (w *window) evidence(ev eve.Evidence) {
	if len(w.ev) == maxEvidence {
		copy(w.ev, w.ev[1:])
		w.ev = w.ev[:maxEvidence-1]
	}
	w.ev = append(w.ev, ev)
}

func (w *window) reset() {
	w.times = w.times[:0]
	clear(w.ports)
	clear(w.hosts)
	w.ev = nil
}

// countLocked adds one event at now; it reports whether the trigger's
// count is reached within its window.
func (w *window) countLocked(t *trigger, now time.Time) bool {
	if len(w.times) == t.count {
		copy(w.times, w.times[1:])
		w.times = w.times[:t.count-1]
	}
	w.times = append(w.times, now)
	return len(w.times) == t.count && now.Sub(w.times[0]) <= t.window
}

// scanLocked records a flow to dst; it reports whether the distinct
// ports or hosts within the window reach the trigger's threshold.
func (w *window) scanLocked(t *trigger, dst netip.AddrPort, now time.Time) bool {
	fired := false
	if t.ports > 0 {
		if w.ports == nil {
			w.ports = map[uint16]time.Time{}
		}
		w.ports[dst.Port()] = now
		if len(w.ports) >= t.ports {
			prune(w.ports, now, t.window)
			fired = len(w.ports) >= t.ports
		}
	}
	if t.hosts > 0 {
		if w.hosts == nil {
			w.hosts = map[netip.Addr]time.Time{}
		}
		w.hosts[dst.Addr()] = now
		if len(w.hosts) >= t.hosts {
			prune(w.hosts, now, t.window)
			fired = fired || len(w.hosts) >= t.hosts
		}
	}
	return fired
}

func prune[K comparable](m map[K]time.Time, now time.Time, win time.Duration) {
	for k, at := range m {
		if now.Sub(at) > win {
			delete(m, k)
		}
	}
}

func (e *Engine) windowLocked(id *Identity, t *trigger) *window {
	k := windowKey{id.Name, t}
	w := e.windows[k]
	if w == nil {
		w = &window{}
		e.windows[k] = w
	}
	return w
}

// fireLocked acts on a trigger that crossed its threshold for id: in ips
// mode it decides the interruption (returned for apply after e.mu is
// released); in ids mode it records would-<action> at once. e.mu is held.
func (e *Engine) fireLocked(id *Identity, t *trigger, w *window, now time.Time) (change, bool) {
	ev := w.ev
	w.reset()
	e.last[id.Name] = t.name
	o := e.offences[id.Name]
	if now.Sub(o.Last) >= offenceMemory {
		o.Count = 0
	}
	level := o.Count + 1
	in := &Interruption{Identity: id.Name, Action: t.action, Trigger: t.name, Since: now,
		Until: now.Add(t.duration(level)), Level: level, Evidence: ev,
		Reason: t.kind + " threshold crossed"}
	if !t.enforcing {
		// Shadow mode: the event and the metric, nothing else.
		action := "would-" + t.action
		e.m.interruptions.WithLabelValues(action, t.name).Inc()
		e.log.Warn("identity: "+action, "identity", id.Name, "trigger", t.name, "evidence", len(ev))
		e.emit(&eve.Event{Timestamp: eve.Time{Time: now}, EventType: eve.TypeInterruption, Identity: id,
			Interruption: &eve.Interruption{Action: action, Reason: in.Reason, Trigger: t.name, Level: level,
				Evidence: ev, Until: &eve.Time{Time: in.Until}}})
		return change{}, false
	}
	o.Count, o.Last = level, now
	e.offences[id.Name] = o
	if e.store != nil {
		if b, err := json.Marshal(o); err == nil {
			if err := e.store.Put(bucketOffences, id.Name, b); err != nil {
				e.log.Error("identity: state: offences not stored", "identity", id.Name, "err", err)
			}
		}
	}
	return e.putLocked(id, in), true
}

// countFlow counts one flow event of id (a new flow for the scan
// triggers, a denial, a token misuse) for the triggers of that kind. It
// returns the interruptions it decided; the caller applies them.
func (e *Engine) countFlow(s *settings, kind string, id *Identity, info *netstack.FlowInfo) []change {
	now := e.clock.Now()
	var out []change
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, t := range s.triggers {
		if t.kind != kind || !t.appliesTo(id) {
			continue
		}
		w := e.windowLocked(id, t)
		w.evidence(eve.Evidence{Timestamp: eve.Time{Time: now}, Kind: kind, FlowID: info.ID,
			DestIP: info.Dst.Addr().String(), DestPort: info.Dst.Port()})
		var crossed bool
		if kind == kindScan {
			crossed = w.scanLocked(t, info.Dst, now)
		} else {
			crossed = w.countLocked(t, now)
		}
		if crossed {
			if c, ok := e.fireLocked(id, t, w, now); ok {
				out = append(out, c)
			}
		}
	}
	return out
}

// OnResult is the enforce handler's hook (chain it with policy's): it
// counts the alerts and HTTP response statuses of an identity's flows for
// the alert and http_status triggers. It runs on the relay's goroutine
// while the chunk is held; the resets of an interruption it decides run
// on another goroutine.
func (e *Engine) OnResult(ri *enforce.ResultInfo) {
	if ri == nil || ri.Result == nil || ri.Flow == nil || ri.Flow.Identity == nil {
		return
	}
	res := ri.Result
	if len(res.Alerts) == 0 && len(res.Events) == 0 {
		return
	}
	s := e.set.Load()
	if !s.hasAlert {
		return
	}
	id := ri.Flow.Identity
	now := e.clock.Now()
	var out []change
	e.mu.Lock()
	for _, t := range s.triggers {
		if (t.kind != kindAlert && t.kind != kindStatus) || !t.appliesTo(id) {
			continue
		}
		var w *window
		count := func(ev eve.Evidence) bool {
			if w == nil {
				w = e.windowLocked(id, t)
			}
			w.evidence(ev)
			if w.countLocked(t, now) {
				if c, ok := e.fireLocked(id, t, w, now); ok {
					out = append(out, c)
				}
				return true
			}
			return false
		}
		base := eve.Evidence{Timestamp: eve.Time{Time: now}, Kind: t.kind, FlowID: ri.Flow.ID,
			DestIP: ri.Flow.Dst.Addr().String(), DestPort: ri.Flow.Dst.Port()}
		if t.kind == kindAlert {
			for i := range res.Alerts {
				a := &res.Alerts[i]
				if !t.matchesAlert(a) {
					continue
				}
				ev := base
				ev.SignatureID = a.Rule.SID
				if count(ev) {
					break
				}
			}
			continue
		}
		for i := range res.Events {
			h := res.Events[i].HTTP
			if h == nil || res.Events[i].Dir != inspect.ToClient || !containsInt(t.statuses, h.Status) {
				continue
			}
			ev := base
			ev.Status = h.Status
			if count(ev) {
				break
			}
		}
	}
	e.mu.Unlock()
	if len(out) > 0 {
		// Walking the flow table is O(flows): not on the relay.
		e.async(func() { e.apply(out) })
	}
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// Wrap returns a netstack.Handler that applies the engine in front of
// inner: NewFlow refuses the new flows of a paused identity (reset) and
// of a quarantined one (dropped; quarantine_allow destinations pass),
// and counts flows for the scan triggers, before inner is asked (so
// before any upstream dial).
func (e *Engine) Wrap(inner netstack.Handler) netstack.Handler {
	return &handler{e: e, inner: inner}
}

type handler struct {
	e     *Engine
	inner netstack.Handler
}

var _ netstack.Handler = (*handler)(nil)

// NewFlow implements netstack.Handler.
func (h *handler) NewFlow(info *netstack.FlowInfo) (netstack.FlowHandler, netstack.Verdict) {
	id := enforce.IdentityOf(info)
	if id == nil {
		return h.inner.NewFlow(info)
	}
	e := h.e
	s := e.set.Load()
	if v, refused := e.refuse(s, id, info); refused {
		return nil, v
	}
	if s.hasScan {
		if cs := e.countFlow(s, kindScan, id, info); len(cs) > 0 {
			if info.Proto == netstack.TCP {
				// The resets are the latency that matters: done here,
				// on the TCP forwarder's goroutine for this SYN; the
				// records (a disk sync) are not. A UDP session's
				// NewFlow runs on the link's dispatch goroutine, which
				// must not walk the flow table.
				names, reset := e.enforce(cs)
				e.async(func() { e.finish(cs, names, reset) })
			} else {
				e.async(func() { e.apply(cs) })
			}
			if v, refused := e.refuse(s, id, info); refused {
				return nil, v
			}
		}
	}
	var fh netstack.FlowHandler
	var v netstack.Verdict
	if eg := e.pols.Load().lookup(id); eg != nil {
		fh, v = e.egressNewFlow(eg, id, info, h.inner)
	} else {
		fh, v = h.inner.NewFlow(info)
	}
	if ts := e.toks.Load(); ts != nil && info.Proto == netstack.TCP && !v.Terminal() {
		return &tokenFlow{wrapped: newWrapped(e, id, info, fh, v), s: ts, reqs: reqFramer{passWords: true}}, netstack.Continue
	}
	return fh, v
}

// refuse decides a new flow of an interrupted identity.
func (e *Engine) refuse(s *settings, id *Identity, info *netstack.FlowInfo) (netstack.Verdict, bool) {
	act := e.active.Load()
	if act.n == 0 {
		return 0, false
	}
	in, ok := act.get(id.Name)
	if !ok || !in.inForce(e.clock.Now()) {
		return 0, false
	}
	if in.Action == ActionPause {
		e.m.refused.WithLabelValues(ActionPause).Inc()
		return netstack.Reject, true
	}
	if s.allowed(info.Dst) {
		return 0, false
	}
	e.m.refused.WithLabelValues(ActionQuarantine).Inc()
	return netstack.Drop, true
}

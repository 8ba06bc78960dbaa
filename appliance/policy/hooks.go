package policy

import (
	"net/netip"

	"github.com/interdict/interdict/appliance/enforce"
	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/netstack"
)

// OnResult is the enforce handler's hook (enforce.Config.OnResult): it
// blocks the sources of flows whose alerts match block.on_alert, and
// applies protocol validation to app-layer anomalies. It runs on the
// relay's goroutine inside the enforce handler's Chunk: it takes a few
// locks, never waits, and leaves resetting other flows to a goroutine.
//
// In ids mode (ri.Enforcing false) nothing is enforced: a block is only
// recorded as would-block and anomalies are counted as would-<action>.
// A chunk inspection passed (a pass rule) is not validated, following
// Suricata's precedence of pass over everything.
func (p *Policy) OnResult(ri *enforce.ResultInfo) {
	if ri == nil || ri.Result == nil || ri.Flow == nil {
		return
	}
	if len(p.s.onAlert) > 0 {
		p.alertBlocks(ri)
	}
	if p.s.protocol != nil {
		p.validate(ri)
	}
}

func (p *Policy) alertBlocks(ri *enforce.ResultInfo) {
	src := ri.Flow.Src.Addr().Unmap()
	if !src.IsValid() {
		return
	}
	prefix := netip.PrefixFrom(src, src.BitLen())
	for i := range ri.Result.Alerts {
		a := &ri.Result.Alerts[i]
		for j := range p.s.onAlert {
			r := &p.s.onAlert[j]
			if !r.matches(a) {
				continue
			}
			cause := blockCause{flowID: ri.Flow.ID, identity: ri.Flow.Identity, sid: a.Rule.SID}
			if !ri.Enforcing {
				until := p.clock.Now().Add(r.dur)
				p.record("would-block", Entry{Prefix: prefix, Until: until, Reason: r.reason, Origin: OriginRule}, "", cause)
				return
			}
			if _, err := p.block(prefix, r.dur, r.reason, OriginRule, cause); err != nil {
				p.log.Error("policy: block on alert failed", "prefix", prefix, "sid", a.Rule.SID, "flow", ri.Flow.ID, "err", err)
				return
			}
			// Other flows of the source end off the relay's goroutine:
			// walking the flow table is O(flows).
			p.async(func() { p.resetFlows(prefix) })
			// One block per source and result: the longest rule does not
			// matter more than the first, since blocks never shorten and
			// a later alert of the source cannot arrive while blocked.
			return
		}
	}
}

func (p *Policy) validate(ri *enforce.ResultInfo) {
	ps := p.s.protocol
	var f *flow
	for i := range ri.Result.Events {
		an := ri.Result.Events[i].Anomaly
		if an == nil {
			continue
		}
		act := ps.action(an)
		if act.off {
			continue
		}
		label := act.String()
		enforced := act.verdict.Terminal() && ri.Enforcing && ri.Verdict != netstack.Pass
		if act.verdict.Terminal() && !ri.Enforcing {
			label = "would-" + label
		}
		p.m.protocol.WithLabelValues(an.AppProto, p.m.eventLabel(an.Event), label).Inc()
		if !enforced {
			continue
		}
		if f == nil {
			if f = p.live.get(ri.Flow.ID); f == nil {
				// Not a wrapped flow (enforce without Wrap): nothing
				// can hold the chunk. Count only.
				continue
			}
		}
		if f.decide(act.verdict) {
			ev := eve.NewDrop(p.clock.Now(), ri.Flow, ri.Dir, nil, ri.Len)
			ev.InIface = ri.NIC
			ev.AppProto = an.AppProto
			ev.Drop.Reason = "protocol " + an.Event
			p.emit(&ev)
		}
	}
}

package detect

import (
	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/rules"
)

// app-layer-protocol (Suricata's detect-app-layer-protocol.c). A flow
// has the protocol first detected (original) and the current one (final,
// after a change such as an HTTP/1 Upgrade to h2c). Detection is per
// flow here, so both directions resolve to the same protocol.
//
// A rule made only of app-layer-protocol tests is, as in Suricata,
// "protocol detection only": it is evaluated on the chunk where a
// direction's protocol becomes known (the first chunk of each direction
// once the flow's protocol is detected) and on the chunk where the
// protocol changes, not on every chunk after.

// appState tracks what app-layer-protocol tests read.
type appState struct {
	orig string // the first protocol detected
	// pdSeen: the direction had its protocol-detection chunk; pdNow: the
	// chunk being inspected is one.
	pdSeen [2]bool
	pdNow  bool
}

// pdOnly reports whether r is a protocol-detection-only rule.
func pdOnly(r *rules.Rule) bool {
	return len(r.AppLayerProtos) > 0 && len(r.Lists) == 0 && r.Flow == (rules.Flow{}) && len(r.Flowbits) == 0 &&
		len(r.Flowints) == 0 && len(r.Xbits) == 0 && r.Dsize == nil && r.StreamSize == nil && r.ICMP == nil &&
		len(r.FlowCounts) == 0
}

// detected records the protocol the probe chose.
func (f *Flow) detected(name string) {
	if f.alp.orig == "" {
		f.alp.orig = name
	}
}

// unitApp follows a change of protocol a parser reports: its Units
// name another protocol than the flow's (HTTP/2 after an h2c upgrade).
func (f *Flow) unitApp(app string) {
	if app == "" || f.app == "" || app == f.app {
		return
	}
	f.app = app
	// The change ends a new protocol detection: the packet carrying it
	// is a protocol-detection packet too (pdPkt), as Suricata sets its
	// PKT_PROTO_DETECT_*_DONE flags again once the new protocol is known.
	f.alp.pdNow, f.pdPkt = true, true
}

// pdMark marks the chunk of dir being inspected as its protocol-
// detection chunk if detection is over (a protocol, or failed) and dir
// had none yet.
func (f *Flow) pdMark(dir inspect.Direction) {
	if !f.alp.pdSeen[dir] && f.resolved("direction") != "" {
		f.alp.pdSeen[dir] = true
		f.alp.pdNow = true
	}
}

// resolved is the protocol app-layer-protocol mode m reads: "" while
// unknown, "failed" once detection gave up.
func (f *Flow) resolved(mode string) string {
	app := f.app
	if mode == "original" {
		app = f.alp.orig
	}
	if app == "" && !f.probing && f.parser == nil && f.e.opts.Protos != nil {
		return "failed"
	}
	return app
}

// appLayerProtosOK evaluates cr's app-layer-protocol tests.
func (f *Flow) appLayerProtosOK(cr *crule) bool {
	if cr.pdOnly && !f.alp.pdNow {
		return false
	}
	for _, a := range cr.r.AppLayerProtos {
		app := f.resolved(a.Mode)
		if app == "" {
			return false // unknown: neither a test nor its negation holds
		}
		hit := app == a.Proto
		if a.Proto != "failed" && app != "failed" {
			hit = inspect.AppProtoIs(app, a.Proto)
		}
		if hit == a.Negate {
			return false
		}
	}
	return true
}

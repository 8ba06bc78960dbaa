package appliance

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/interdict/interdict/appliance/admin"
	"github.com/interdict/interdict/appliance/enforce"
	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/netstack"
)

// Appliance is everything of a running appliance but its links: the
// metrics registry, the EVE sink, the flow handler (the rule engine under
// enforce, or a test handler), identities, the block list's reasons and
// the admin API's backend. Run builds one over a TUN; tests build one
// over in-memory links (StackOptions, Attach).
type Appliance struct {
	s       *Settings
	log     *slog.Logger
	reg     *prometheus.Registry
	started time.Time
	events  *eve.Writer
	det     *Detection // nil unless handler.mode is detect
	handler netstack.Handler
	idents  identities
	stack   atomic.Pointer[netstack.Stack]

	blockMu sync.Mutex
	blocks  map[netip.Prefix]blockNote // bounded by the guard's table
}

// identities maps source prefixes to identity names, longest prefix
// first so the first hit is the most specific. A linear scan: a TUN
// deployment configures a handful of prefixes, and it runs once per flow.
type identities []identityPrefix

type identityPrefix struct {
	p    netip.Prefix
	name string
}

func buildIdentities(list []Identity) identities {
	var out identities
	for _, id := range list {
		for _, p := range id.Prefixes {
			out = append(out, identityPrefix{p, id.Name})
		}
	}
	slices.SortStableFunc(out, func(x, y identityPrefix) int { return cmp.Compare(y.p.Bits(), x.p.Bits()) })
	return out
}

// name returns the identity of a client address, "" if none.
func (ids identities) name(src netip.Addr) string {
	src = src.Unmap()
	for _, ip := range ids {
		if ip.p.Contains(src) {
			return ip.name
		}
	}
	return ""
}

type blockNote struct {
	reason  string
	created time.Time
}

// New loads the rules and opens the EVE sink.
func New(s *Settings, log *slog.Logger) (*Appliance, error) {
	a := &Appliance{s: s, log: log, reg: prometheus.NewRegistry(), started: time.Now(), blocks: map[netip.Prefix]blockNote{}}
	a.idents = buildIdentities(s.Identities)

	ev, err := openEVE(s.EVEPath)
	if err != nil {
		return nil, err
	}
	a.events = ev
	switch s.Handler.Mode {
	case "pattern":
		a.handler = &netstack.PatternHandler{Pattern: []byte(s.Handler.Pattern), Verdict: s.Verdict}
	case "pass":
		a.handler = netstack.PassAll{}
	default:
		cfg := enforce.Config{
			Mode: s.Mode, IdentityModes: s.IdentityModes, FailOpen: s.FailOpen,
			Registerer: a.reg, Logger: log,
		}
		if ev != nil {
			cfg.Events = ev
		}
		det, err := NewDetection(s.Rules, cfg, log)
		if err != nil {
			a.Close()
			return nil, err
		}
		a.det, a.handler = det, det.Handler()
	}
	return a, nil
}

// Registry is the one metrics registry of the process.
func (a *Appliance) Registry() *prometheus.Registry { return a.reg }

// Handler is the flow handler.
func (a *Appliance) Handler() netstack.Handler { return a.handler }

// Detection is the rule engine's owner; nil with a test handler.
func (a *Appliance) Detection() *Detection { return a.det }

// StackOptions are the netstack options the appliance owns: handler,
// identities, metrics, logger.
func (a *Appliance) StackOptions() []netstack.Option {
	return []netstack.Option{
		netstack.WithHandler(a.handler),
		netstack.WithIdentity(a.identity),
		netstack.WithMetrics(a.reg),
		netstack.WithLogger(a.log),
	}
}

// Attach gives the appliance the stack it serves (flows, guard).
func (a *Appliance) Attach(st *netstack.Stack) { a.stack.Store(st) }

// identity names the configured identity of a client address.
func (a *Appliance) identity(src netip.Addr) string { return a.idents.name(src) }

// ReopenEVE reopens the EVE file (SIGHUP, after logrotate moved it).
func (a *Appliance) ReopenEVE() error {
	if a.events == nil {
		return nil
	}
	return a.events.Reopen()
}

// Close closes the EVE file.
func (a *Appliance) Close() error {
	if a.events == nil {
		return nil
	}
	return a.events.Close()
}

// ReloadRules reloads the rules (SIGUSR2, admin API).
func (a *Appliance) ReloadRules() (RuleStats, error) {
	if a.det == nil {
		return RuleStats{}, fmt.Errorf("reload: handler.mode is %s, no rules are loaded: %w", a.s.Handler.Mode, admin.ErrUnavailable)
	}
	return a.det.Reload()
}

// RefusalReasons implements admin.Refusal.
func (e *ReloadError) RefusalReasons() []string { return e.Reasons }

var _ admin.Backend = (*Appliance)(nil)

// Reload implements admin.Backend.
func (a *Appliance) Reload(context.Context) (admin.Rules, error) {
	st, err := a.ReloadRules()
	if err != nil {
		return admin.Rules{}, err
	}
	return rulesView(st), nil
}

// Rules implements admin.Backend.
func (a *Appliance) Rules() admin.Rules {
	if a.det == nil {
		return admin.Rules{}
	}
	return rulesView(a.det.Stats())
}

// maxRejectedShown bounds the rejected rules one answer lists.
const maxRejectedShown = 1000

func rulesView(st RuleStats) admin.Rules {
	r := admin.Rules{Generation: st.Generation, LoadedAt: st.LoadedAt, Loaded: st.Loaded,
		RejectedCount: len(st.Rejected), LastReloadError: st.LastReloadError}
	if !st.LastReload.IsZero() {
		t := st.LastReload
		r.LastReload = &t
	}
	for i, e := range st.Rejected {
		if i == maxRejectedShown {
			break
		}
		r.Rejected = append(r.Rejected, admin.RejectedRule{File: e.File, Line: e.Line, SID: e.SID, Reason: e.Reason})
	}
	for _, f := range st.Files {
		r.Files = append(r.Files, admin.RuleFile{File: f.File, Parsed: f.Loaded, Rejected: f.Rejected})
	}
	return r
}

// Status implements admin.Backend.
func (a *Appliance) Status() admin.Status {
	now := time.Now()
	st := admin.Status{Version: Version, Started: a.started, UptimeSeconds: now.Sub(a.started).Seconds(),
		Mode: string(a.s.Mode), Handler: a.s.Handler.Mode}
	if a.det != nil {
		rs := a.det.Stats()
		st.RulesLoaded, st.RulesRejected, st.RuleGeneration = rs.Loaded, len(rs.Rejected), rs.Generation
	}
	if s := a.stack.Load(); s != nil {
		st.FlowsActive = s.Flows().Len()
		st.BlockedSources = len(a.Blocks())
	}
	return st
}

// Flows implements admin.Backend.
func (a *Appliance) Flows() []admin.Flow {
	s := a.stack.Load()
	if s == nil {
		return nil
	}
	now := time.Now()
	var out []admin.Flow
	s.Flows().Range(func(f *netstack.Flow) bool {
		sn := f.Snapshot()
		out = append(out, admin.Flow{
			ID: sn.ID, Proto: sn.Tuple.Proto.String(), Src: sn.Tuple.Src.String(), Dst: sn.Tuple.Dst.String(),
			Identity: sn.Identity, BytesToServer: sn.BytesToServer, BytesToClient: sn.BytesToClient,
			Verdict: sn.Verdict.String(), AgeSeconds: now.Sub(sn.Start).Seconds(), IdleSeconds: now.Sub(sn.LastActive).Seconds(),
		})
		return true
	})
	slices.SortFunc(out, func(x, y admin.Flow) int { return cmp.Compare(x.ID, y.ID) })
	return out
}

func (a *Appliance) guard() (*netstack.Stack, error) {
	s := a.stack.Load()
	if s == nil {
		return nil, fmt.Errorf("no stack attached: %w", admin.ErrUnavailable)
	}
	return s, nil
}

// Block implements admin.Backend: the guard drops the prefix's packets
// until the block expires, and its live flows are reset (the client sees
// an RST) so a blocked source keeps nothing open.
func (a *Appliance) Block(p netip.Prefix, d time.Duration, reason string) (admin.Block, error) {
	s, err := a.guard()
	if err != nil {
		return admin.Block{}, err
	}
	now := time.Now()
	until := now.Add(d)
	if err := s.Guard().Block(p, until); err != nil {
		return admin.Block{}, err
	}
	a.blockMu.Lock()
	a.blocks[p] = blockNote{reason: reason, created: now}
	a.blockMu.Unlock()
	n := 0
	s.Flows().Range(func(f *netstack.Flow) bool {
		if p.Contains(f.Tuple().Src.Addr().Unmap()) && f.Reset(netstack.Reject) == nil {
			n++
		}
		return true
	})
	return admin.Block{Prefix: p.String(), Until: until, Reason: reason, Created: now, FlowsReset: n}, nil
}

// Unblock implements admin.Backend.
func (a *Appliance) Unblock(p netip.Prefix) (bool, error) {
	s, err := a.guard()
	if err != nil {
		return false, err
	}
	a.blockMu.Lock()
	delete(a.blocks, p)
	a.blockMu.Unlock()
	return s.Guard().Unblock(p), nil
}

// Blocks implements admin.Backend: entries that have not expired.
func (a *Appliance) Blocks() []admin.Block {
	s := a.stack.Load()
	if s == nil {
		return nil
	}
	now := time.Now()
	live := map[netip.Prefix]bool{}
	var out []admin.Block
	a.blockMu.Lock()
	defer a.blockMu.Unlock()
	for _, e := range s.Guard().Blocks() {
		if !now.Before(e.Until) {
			continue
		}
		live[e.Prefix] = true
		n := a.blocks[e.Prefix]
		out = append(out, admin.Block{Prefix: e.Prefix.String(), Until: e.Until, Reason: n.reason, Created: n.created})
	}
	// Forget the reasons of expired blocks.
	for p := range a.blocks {
		if !live[p] {
			delete(a.blocks, p)
		}
	}
	slices.SortFunc(out, func(x, y admin.Block) int { return cmp.Compare(x.Prefix, y.Prefix) })
	return out
}

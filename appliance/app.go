package appliance

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/interdict/interdict/appliance/admin"
	"github.com/interdict/interdict/appliance/cluster"
	"github.com/interdict/interdict/appliance/enforce"
	"github.com/interdict/interdict/appliance/identity"
	"github.com/interdict/interdict/appliance/policy"
	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/netstack"
)

// Appliance is everything of a running appliance but its links: the
// metrics registry, the EVE sink, the flow handler (the rule engine under
// enforce, or a test handler, behind the policy), identities and the
// admin API's backend. Run builds one over a TUN; tests build one over
// in-memory links (StackOptions, Attach).
type Appliance struct {
	s       *Settings
	log     *slog.Logger
	reg     *prometheus.Registry
	started time.Time
	events  *eve.Writer
	det     *Detection // nil unless handler.mode is detect
	// pol is the block list, rate limits and protocol validation; its
	// wrapper is the handler the stack calls.
	pol     *policy.Policy
	handler netstack.Handler
	// idents knows who sends each flow: configured prefixes (source
	// "config") and, in WireGuard mode, peers.
	idents *identity.Registry
	// interrupt pauses and quarantines identities; its wrapper is the
	// outermost handler.
	interrupt *identity.Engine
	// hub is the WireGuard device and its peers (link.mode wireguard,
	// after OpenWireGuard); nil otherwise.
	hub   *hub
	stack atomic.Pointer[netstack.Stack]

	// shared is the fleet's store (cluster.backend nats), embedded the
	// NATS server this appliance runs for it; nil otherwise.
	shared   *cluster.Store
	embedded *cluster.Embedded

	// stopping turns /readyz off while Serve shuts down.
	stopping atomic.Bool
}

// New opens the EVE sink, builds the policy and loads the rules.
func New(s *Settings, log *slog.Logger) (_ *Appliance, err error) {
	a := &Appliance{s: s, log: log, reg: prometheus.NewRegistry(), started: time.Now()}
	a.idents = identity.NewRegistry()
	if err := a.idents.Replace("config", configEntries(s.Identities)); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()

	if err := makeStateDir(s); err != nil {
		return nil, err
	}
	if a.events, err = openEVE(s.EVEPath); err != nil {
		return nil, err
	}
	if a.events != nil {
		a.events.SetOptions(s.EVE)
	}
	// A nil *eve.Writer in an interface would not be a nil Sink.
	var sink enforce.Sink
	if a.events != nil {
		sink = a.events
	}
	iopts := identity.Options{Registerer: a.reg, Logger: log, Events: sink}
	if iopts.Store, err = a.openStore(s); err != nil {
		return nil, err
	}
	popts := policy.Options{Registerer: a.reg, Logger: log, Events: sink}
	if a.shared != nil {
		popts.Shared = a.shared
	}
	if a.pol, err = policy.New(s.Policy, popts); err != nil {
		return nil, err
	}
	if a.interrupt, err = identity.NewEngine(a.idents, s.Interruption, iopts); err != nil {
		return nil, err
	}
	if err := a.interrupt.SetPolicies(s.Policies, nil); err != nil {
		return nil, err
	}
	if err := a.interrupt.SetTokens(s.Tokens, nil); err != nil {
		return nil, err
	}
	var inner netstack.Handler
	switch s.Handler.Mode {
	case "pattern":
		inner = &netstack.PatternHandler{Pattern: []byte(s.Handler.Pattern), Verdict: s.Verdict}
	case "pass":
		inner = netstack.PassAll{}
	default:
		cfg := enforce.Config{
			Mode: s.Mode, IdentityModes: s.IdentityModes, FailOpen: s.FailOpen,
			Registerer: a.reg, Logger: log, Events: sink,
			// Rule consequences and protocol validation see every
			// finding while its chunk is still held.
			OnResult: func(ri *enforce.ResultInfo) {
				a.pol.OnResult(ri)
				a.interrupt.OnResult(ri)
			},
		}
		if a.det, err = NewDetection(s.Rules, cfg, log); err != nil {
			return nil, err
		}
		inner = a.det.Handler()
	}
	a.handler = a.interrupt.Wrap(policy.Wrap(inner, a.pol))
	// Per-identity series, bounded (identity_metrics.go).
	if err := a.reg.Register(newIdentityCollector(a, maxIdentityLabels)); err != nil {
		return nil, err
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
// identities, metrics, logger, EVE for SYN-flood mode changes.
func (a *Appliance) StackOptions() []netstack.Option {
	return []netstack.Option{
		netstack.WithHandler(a.handler),
		netstack.WithIdentity(a.idents.FlowIdentity),
		netstack.WithMetrics(a.reg),
		netstack.WithLogger(a.log),
		netstack.WithSYNModeHook(a.synModeEvent),
	}
}

// Attach gives the appliance the stack it serves: the admin API reads
// its flows, and the policy drives its packet guard (static blocks are
// pushed now) and resets its flows.
func (a *Appliance) Attach(st *netstack.Stack) error {
	a.stack.Store(st)
	if err := a.pol.Attach(st.Guard(), st.Flows()); err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	if err := a.interrupt.Attach(st.Guard(), st.Flows()); err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	return nil
}

// Identities is the registry of who sends flows.
func (a *Appliance) Identities() *identity.Registry { return a.idents }

// configEntries turns the configured prefix identities into registry
// entries (source "config").
func configEntries(list []Identity) []identity.Entry {
	out := make([]identity.Entry, 0, len(list))
	for _, id := range list {
		out = append(out, identity.Entry{
			Identity: &identity.Identity{Name: id.Name, Tags: id.Tags},
			Prefixes: id.Prefixes,
		})
	}
	return out
}

// ReopenEVE reopens the EVE file (SIGHUP, after logrotate moved it).
func (a *Appliance) ReopenEVE() error {
	if a.events == nil {
		return nil
	}
	return a.events.Reopen()
}

// Close stops the policy (its sweeper, delayed chunks) and closes the EVE
// file. Call it after the stack's Close: flows ending then still log
// their flow events and policy records.
func (a *Appliance) Close() error {
	if a.interrupt != nil {
		a.interrupt.Close()
	}
	if a.pol != nil {
		a.pol.Close()
	}
	if a.hub != nil {
		a.hub.unfollowPeers()
	}
	a.closeStore()
	if a.hub != nil {
		a.hub.dev.Close() // already closed by the stack, unless it never had one
	}
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

// Reload implements admin.Backend: the identity policies, then the
// rules. A broken policy refuses the reload and keeps everything running.
func (a *Appliance) Reload(context.Context) (admin.Rules, error) {
	if err := a.ReloadIdentityPolicy(); err != nil {
		a.log.Error("reload refused: identity policies", "err", err)
		return admin.Rules{}, &ReloadError{Reasons: []string{err.Error()}}
	}
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
	}
	st.BlockedSources = len(a.Blocks())
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
		info := f.Info()
		var key string
		if id := enforce.IdentityOf(&info); id != nil {
			key = id.Key
		}
		out = append(out, admin.Flow{
			ID: sn.ID, Proto: sn.Tuple.Proto.String(), Src: sn.Tuple.Src.String(), Dst: sn.Tuple.Dst.String(),
			Identity: sn.Identity, IdentityKey: key, BytesToServer: sn.BytesToServer, BytesToClient: sn.BytesToClient,
			Verdict: sn.Verdict.String(), AgeSeconds: now.Sub(sn.Start).Seconds(), IdleSeconds: now.Sub(sn.LastActive).Seconds(),
		})
		return true
	})
	slices.SortFunc(out, func(x, y admin.Flow) int { return cmp.Compare(x.ID, y.ID) })
	return out
}

// Block implements admin.Backend through the policy, the one block
// list: the guard drops the prefix's packets until the block expires, its
// live flows are reset (the client sees an RST), and an EVE interruption
// record is written.
func (a *Appliance) Block(p netip.Prefix, d time.Duration, reason string) (admin.Block, error) {
	e, n, err := a.pol.Block(p, d, reason)
	if err != nil {
		return admin.Block{}, err
	}
	b := blockView(e)
	b.FlowsReset = n
	return b, nil
}

// Unblock implements admin.Backend.
func (a *Appliance) Unblock(p netip.Prefix) (bool, error) {
	return a.pol.Unblock(p), nil
}

// Blocks implements admin.Backend: entries in force (static, api and
// rule blocks), sorted by prefix.
func (a *Appliance) Blocks() []admin.Block {
	now := time.Now()
	var out []admin.Block
	for _, e := range a.pol.List() {
		if !e.Until.IsZero() && !now.Before(e.Until) {
			continue // expired, not swept yet
		}
		out = append(out, blockView(e))
	}
	return out
}

func blockView(e policy.Entry) admin.Block {
	return admin.Block{Prefix: e.Prefix.String(), Until: e.Until, Reason: e.Reason, Created: e.Since, Origin: e.Origin}
}

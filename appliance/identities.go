package appliance

import (
	"errors"
	"fmt"
	"time"

	"github.com/interdict/interdict/appliance/admin"
	"github.com/interdict/interdict/appliance/identity"
	"github.com/interdict/interdict/netstack"
)

var _ admin.IdentityBackend = (*Appliance)(nil)

// Interruptions is the identity engine: pause, quarantine, release.
func (a *Appliance) Interruptions() *identity.Engine { return a.interrupt }

// IdentityStates implements admin.IdentityBackend: every identity with
// its interruption, its live flows and its last trigger.
func (a *Appliance) IdentityStates() []admin.IdentityState {
	flows := map[string]int{}
	if s := a.stack.Load(); s != nil {
		s.Flows().Range(func(f *netstack.Flow) bool {
			info := f.Info()
			if n := netstack.IdentityName(info.Identity); n != "" {
				flows[n]++
			}
			return true
		})
	}
	var out []admin.IdentityState
	for _, en := range a.idents.All() {
		out = append(out, a.identityState(en.Identity, flows[en.Identity.Name]))
	}
	a.identityDetails(out)
	return out
}

func (a *Appliance) identityState(id *identity.Identity, flows int) admin.IdentityState {
	st := admin.IdentityState{Name: id.Name, Key: id.Key, Tags: id.Tags, State: "active", Flows: flows,
		LastTrigger: a.interrupt.LastTrigger(id.Name)}
	if in, ok := a.interrupt.Get(id.Name); ok {
		st.State = map[string]string{identity.ActionPause: "paused", identity.ActionQuarantine: "quarantined"}[in.Action]
		st.Trigger, st.Reason = in.Trigger, in.Reason
		if !in.Until.IsZero() {
			u := in.Until
			st.Until = &u
			st.RemainingSeconds = time.Until(u).Seconds()
		}
	}
	return st
}

// Interrupt implements admin.IdentityBackend.
func (a *Appliance) Interrupt(req admin.InterruptRequest, d time.Duration) ([]admin.IdentityState, error) {
	list, err := a.interrupt.Interrupt(identity.Request{Identity: req.Identity, Tag: req.Tag, Action: req.Action, For: d, Reason: req.Reason})
	if err != nil {
		return nil, identityError(err)
	}
	var out []admin.IdentityState
	for _, in := range list {
		id := &identity.Identity{Name: in.Identity}
		if en, ok := a.idents.Get(in.Identity); ok {
			id = en.Identity
		}
		out = append(out, a.identityState(id, 0))
	}
	return out, nil
}

// Release implements admin.IdentityBackend.
func (a *Appliance) Release(req admin.ReleaseRequest) ([]string, error) {
	out, err := a.interrupt.Release(req.Identity, req.Tag)
	return out, identityError(err)
}

var _ admin.TokenBackend = (*Appliance)(nil)

// Tokens implements admin.TokenBackend.
func (a *Appliance) Tokens() []admin.TokenBinding {
	var out []admin.TokenBinding
	for _, tb := range a.interrupt.TokenBindings() {
		out = append(out, tokenView(tb))
	}
	return out
}

// Unbind implements admin.TokenBackend.
func (a *Appliance) Unbind(prefix string) ([]admin.TokenBinding, error) {
	list, err := a.interrupt.Unbind(prefix)
	if err != nil {
		return nil, identityError(err)
	}
	var out []admin.TokenBinding
	for _, tb := range list {
		out = append(out, tokenView(tb))
	}
	return out, nil
}

func tokenView(tb identity.TokenBinding) admin.TokenBinding {
	return admin.TokenBinding{SHA256: tb.Hash, SHA256Prefix: tb.HashPrefix, Lead: tb.Lead, Identity: tb.Identity,
		Identities: tb.Identities, Tags: tb.Tags, Source: tb.Source, FirstSeen: tb.FirstSeen}
}

func identityError(err error) error {
	if errors.Is(err, identity.ErrUnknown) {
		return fmt.Errorf("%w: %v", admin.ErrNotFound, err)
	}
	return err
}

// ReloadIdentityPolicy reads the config file again and swaps in its
// interruption triggers, egress policies and token settings. Any error
// in the file (reported file:line: key: reason) keeps the running ones.
// Identities themselves are not reloaded.
func (a *Appliance) ReloadIdentityPolicy() error {
	if a.s.ConfigPath == "" {
		return nil
	}
	s, err := LoadConfig(a.s.ConfigPath)
	if err != nil {
		return err
	}
	// The file validated as a whole: none of these can fail now.
	if err := a.interrupt.SetTriggers(s.Interruption, nil); err != nil {
		return err
	}
	if err := a.interrupt.SetPolicies(s.Policies, nil); err != nil {
		return err
	}
	if err := a.interrupt.SetTokens(s.Tokens, nil); err != nil {
		return err
	}
	a.log.Info("identity policies reloaded", "triggers", len(s.Interruption.Triggers), "policies", len(s.Policies), "tokens", s.Tokens.Enabled)
	return nil
}

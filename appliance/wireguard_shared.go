package appliance

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/interdict/interdict/appliance/admin"
	"github.com/interdict/interdict/appliance/state"
	"github.com/interdict/interdict/tunnel/wg"
)

// Peers added at runtime on a shared store are the fleet's: any hub
// with the same hub key serves them. A hub's local lock cannot keep two
// hubs from handing out one pool address or admitting one key twice, so
// each is reserved first in the claims bucket with the store's
// create-if-absent, which the cluster takes for one hub only:
//
//	addr/<prefix>  an allowed IP (a pool address is a /32 or /128)
//	key/<key>      a peer's public key
//
// and the peer's record itself is created only if its name is free. A
// claim's value is the peer's name; its remover deletes the claims after
// the record.

func addrClaim(p netip.Prefix) string { return "addr/" + p.Masked().String() }
func keyClaim(k wg.Key) string        { return "key/" + k.String() }

// addRuntimeLocked adds a peer through the API: its addresses (the
// next free pool addresses when it names none), claimed fleet-wide on a
// shared store, then the device and the registry, then its record. On
// any failure nothing of it remains. The caller holds h.mu.
func (a *Appliance) addRuntimeLocked(p *PeerSettings) error {
	h := a.hub
	if _, dup := h.peers[p.Name]; dup {
		return fmt.Errorf("%w: a peer named %q exists", admin.ErrConflict, p.Name)
	}
	var claimed []string
	release := func() {
		for _, k := range claimed {
			_ = h.store.Delete(claimsBucket, k)
		}
	}
	claim := func(k string) error {
		if h.claims == nil {
			return nil
		}
		if err := h.claims.Create(claimsBucket, k, []byte(p.Name)); err != nil {
			return err
		}
		claimed = append(claimed, k)
		return nil
	}
	if err := claim(keyClaim(p.PublicKey)); err != nil {
		if errors.Is(err, state.ErrExists) {
			err = fmt.Errorf("%w: public key %s belongs to a peer on another hub of the fleet", admin.ErrConflict, p.PublicKey.Short())
		}
		return err
	}
	if len(p.AllowedIPs) == 0 {
		if len(h.cfg.Pool) == 0 {
			release()
			return fmt.Errorf("%w: no allowed IPs given and link.wireguard.pool is empty", admin.ErrInvalid)
		}
		for _, pool := range h.cfg.Pool {
			pp, err := a.claimFree(pool, claim)
			if err != nil {
				release()
				return err
			}
			p.AllowedIPs = append(p.AllowedIPs, pp)
		}
	} else {
		for _, pp := range p.AllowedIPs {
			if err := claim(addrClaim(pp)); err != nil {
				release()
				if errors.Is(err, state.ErrExists) {
					err = fmt.Errorf("%w: allowed IP %s belongs to a peer on another hub of the fleet", admin.ErrConflict, pp)
				}
				return err
			}
		}
	}
	if err := h.addLocked(a.idents, *p, true); err != nil {
		release()
		return err
	}
	if err := h.persistLocked(*p); err != nil {
		_ = h.dropLocked(a.idents, p.Name, h.peers[p.Name])
		release()
		return err
	}
	return nil
}

// claimFree takes the lowest address of pool that is free here and that
// no other hub claimed: an address another hub claimed first is skipped
// and the next one tried.
func (a *Appliance) claimFree(pool netip.Prefix, claim func(string) error) (netip.Prefix, error) {
	skip := map[netip.Addr]bool{}
	for range maxPoolScan {
		pp, err := a.freeIn(pool, skip)
		if err != nil {
			return pp, err
		}
		err = claim(addrClaim(pp))
		if err == nil {
			return pp, nil
		}
		if !errors.Is(err, state.ErrExists) {
			return netip.Prefix{}, err
		}
		skip[pp.Addr()] = true
	}
	return netip.Prefix{}, fmt.Errorf("%w: pool %s has no free address", admin.ErrConflict, pool)
}

// releaseClaims frees a removed peer's key and addresses for the fleet.
func (a *Appliance) releaseClaims(name string, k wg.Key, allowed []netip.Prefix) {
	h := a.hub
	if h.claims == nil {
		return
	}
	keys := []string{keyClaim(k)}
	for _, pp := range allowed {
		keys = append(keys, addrClaim(pp))
	}
	for _, c := range keys {
		if err := h.store.Delete(claimsBucket, c); err != nil {
			a.log.Warn("wireguard: a removed peer's claim stays", "peer", name, "claim", c, "err", err)
		}
	}
}

// followPeers watches the peers bucket of a shared store: a peer another
// hub adds is served here too, one it removes is cut here too.
func (a *Appliance) followPeers() error {
	w, ok := a.hub.store.(state.Watcher)
	if !ok {
		return nil
	}
	stop, err := w.Watch(peersBucket, a.applyPeer, nil)
	if err != nil {
		return fmt.Errorf("wireguard: %w", err)
	}
	a.hub.unwatch = stop
	return nil
}

// applyPeer applies a change another hub made to the fleet's peers (the
// watch also delivers, once, every peer already known). A peer of this
// hub's config keeps its name: the config wins, as in restore.
func (a *Appliance) applyPeer(c state.Change) {
	h := a.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	old, had := h.peers[c.Key]
	if had && !old.runtime {
		a.log.Warn("wireguard: a fleet peer has the name of a configured peer; the config wins", "peer", c.Key)
		return
	}
	if c.Deleted {
		if !had {
			return
		}
		n, err := a.cutLocked(context.Background(), c.Key, old)
		if err != nil {
			a.log.Error("wireguard: removing a peer another hub removed", "peer", c.Key, "err", err)
			return
		}
		a.log.Info("wireguard: peer removed on another hub", "peer", c.Key, "flows_reset", n)
		return
	}
	p, err := decodePeerRecord(c.Value)
	if err == nil && p.Name != c.Key {
		err = fmt.Errorf("record names %q", p.Name)
	}
	if err != nil {
		a.log.Error("wireguard: a fleet peer's record is unreadable, ignored", "peer", c.Key, "err", err)
		return
	}
	if had {
		if old.key == p.PublicKey && slices.Equal(old.allowed, p.AllowedIPs) && slices.Equal(old.id.Tags, p.Tags) {
			return // known (restored at start, or this hub's own write)
		}
		// Removed and added again with another key or addresses while
		// this hub's watch was away: the new record is the peer now.
		if _, err := a.cutLocked(context.Background(), c.Key, old); err != nil {
			a.log.Error("wireguard: replacing a fleet peer", "peer", c.Key, "err", err)
			return
		}
	}
	if err := h.addLocked(a.idents, p, true); err != nil {
		a.log.Warn("wireguard: skipping a peer added on another hub", "peer", c.Key, "err", err)
		return
	}
	a.log.Info("wireguard: peer added on another hub", "peer", c.Key)
}

// unfollowPeers stops the watch; the appliance closes the store after.
func (h *hub) unfollowPeers() {
	if h.unwatch != nil {
		h.unwatch()
		h.unwatch = nil
	}
}

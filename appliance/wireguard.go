package appliance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/interdict/interdict/appliance/admin"
	"github.com/interdict/interdict/appliance/enforce"
	"github.com/interdict/interdict/appliance/identity"
	"github.com/interdict/interdict/appliance/state"
	"github.com/interdict/interdict/netstack"
	"github.com/interdict/interdict/tunnel/wg"
)

// WireGuard peers are identities of source "wireguard" in the registry;
// the ones added at runtime are kept in the state's "peers" bucket, and
// on a shared store their addresses and keys are reserved in
// "peer_claims" (wireguard_shared.go).
const (
	peerSource   = "wireguard"
	peersBucket  = "peers"
	claimsBucket = "peer_claims"
)

// peerRecord is a runtime peer as the state keeps it. The peer's private
// key is never known to the hub.
type peerRecord struct {
	Name       string    `json:"name"`
	PublicKey  string    `json:"public_key"`
	AllowedIPs []string  `json:"allowed_ips"`
	Tags       []string  `json:"tags,omitempty"`
	Added      time.Time `json:"added"`
}

// hub is the WireGuard side of an appliance: the device, its key, and the
// peers, each of which is an identity.
type hub struct {
	cfg   WireGuardSettings
	dev   *wg.Device
	pub   wg.Key
	store state.Store

	// claims reserves fleet-wide what two hubs must not both hand out
	// (a shared store); nil for a state directory, where mu suffices.
	claims state.Creator
	// unwatch stops following the peers other hubs add and remove.
	unwatch func()

	mu    sync.Mutex // serialises peer changes
	peers map[string]hubPeer
}

type hubPeer struct {
	id      *identity.Identity
	key     wg.Key
	allowed []netip.Prefix
	runtime bool // added through the API (persisted), not in the config
}

// OpenWireGuard opens the hub of link.mode wireguard: the state
// directory, the hub's key (generated on first start), the device on its
// UDP port and every peer (the config's, then those added at runtime),
// each registered as an identity. The device is the link to give
// netstack; the appliance closes it in Close. With a shared store
// (cluster.backend nats) the runtime peers are the fleet's: every hub
// serves the peers any hub added, and follows their additions and
// removals.
func (a *Appliance) OpenWireGuard() (*wg.Device, error) {
	s := a.s
	if s.LinkMode != "wireguard" {
		return nil, fmt.Errorf("wireguard: link.mode is %q", s.LinkMode)
	}
	var store state.Store
	var err error
	if a.shared != nil {
		store = a.shared
	} else if store, err = state.Open(s.StateDir); err != nil {
		return nil, err
	}
	key, created := s.WireGuard.PrivateKey, false
	if key.IsZero() {
		if key, created, err = loadOrCreateKey(s.WireGuard.PrivateKeyFile); err != nil {
			return nil, err
		}
	}
	if created {
		a.log.Info("wireguard: generated the hub's private key", "file", s.WireGuard.PrivateKeyFile)
	}
	dev, err := wg.Open(wg.Config{PrivateKey: key, ListenPort: s.WireGuard.ListenPort, ListenAddr: s.WireGuard.ListenAddr, MTU: s.WireGuard.MTU, Log: a.log})
	if err != nil {
		return nil, fmt.Errorf("%w (another process may hold UDP port %d; set link.wireguard.listen_port)", err, s.WireGuard.ListenPort)
	}
	h := &hub{cfg: s.WireGuard, dev: dev, pub: key.PublicKey(), store: store, peers: map[string]hubPeer{}}
	h.claims, _ = store.(state.Creator)
	for _, p := range s.WireGuard.Peers {
		if err := h.add(a.idents, p, false); err != nil {
			dev.Close()
			return nil, fmt.Errorf("wireguard: config peer %q: %w", p.Name, err)
		}
	}
	if err := h.restore(a); err != nil {
		dev.Close()
		return nil, err
	}
	if err := registerWireGuardMetrics(a.reg, h); err != nil {
		dev.Close()
		return nil, err
	}
	a.hub = h
	if err := a.followPeers(); err != nil {
		a.hub = nil
		dev.Close()
		return nil, err
	}
	return dev, nil
}

// loadOrCreateKey reads the hub's private key, or generates and writes it
// (0600, directory 0700) on first start. A key file others may read is
// refused: it is the hub's identity.
func loadOrCreateKey(path string) (wg.Key, bool, error) {
	k, err := readKeyFile(path)
	if err == nil {
		return k, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return wg.Key{}, false, fmt.Errorf("wireguard: private key: %w", err)
	}
	if k, err = wg.GenerateKey(); err != nil {
		return wg.Key{}, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return wg.Key{}, false, fmt.Errorf("wireguard: private key: %w", err)
	}
	if err := state.WriteFileAtomic(path, []byte(k.String()+"\n"), 0o600); err != nil {
		return wg.Key{}, false, fmt.Errorf("wireguard: private key: %w", err)
	}
	return k, true, nil
}

// restore adds the peers persisted by earlier runs. A record that no
// longer fits (its name or addresses now taken by the config) is skipped
// with a warning, not fatal: the config wins.
func (h *hub) restore(a *Appliance) error {
	names, err := h.store.Keys(peersBucket)
	if err != nil {
		return err
	}
	for _, name := range names {
		b, err := h.store.Get(peersBucket, name)
		if err != nil {
			return err
		}
		p, err := decodePeerRecord(b)
		if err != nil {
			a.log.Warn("wireguard: skipping a stored peer", "name", name, "err", err)
			continue
		}
		if err := h.add(a.idents, p, true); err != nil {
			a.log.Warn("wireguard: skipping a stored peer", "name", name, "err", err)
		}
	}
	return nil
}

func decodePeerRecord(b []byte) (PeerSettings, error) {
	var r peerRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return PeerSettings{}, err
	}
	p := PeerSettings{Name: r.Name, Tags: r.Tags}
	var err error
	if p.PublicKey, err = wg.ParseKey(r.PublicKey); err != nil {
		return PeerSettings{}, err
	}
	for _, s := range r.AllowedIPs {
		pp, err := netip.ParsePrefix(s)
		if err != nil {
			return PeerSettings{}, err
		}
		p.AllowedIPs = append(p.AllowedIPs, pp)
	}
	return p, nil
}

// add registers a peer as an identity and adds it to the device; on any
// failure nothing of it remains. A runtime peer (added through the API)
// is persisted by its adder, not here: restoring one must not write it
// again.
func (h *hub) add(reg *identity.Registry, p PeerSettings, runtime bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.addLocked(reg, p, runtime)
}

func (h *hub) addLocked(reg *identity.Registry, p PeerSettings, runtime bool) error {
	if _, dup := h.peers[p.Name]; dup {
		return fmt.Errorf("%w: a peer named %q exists", admin.ErrConflict, p.Name)
	}
	for name, other := range h.peers {
		if other.key == p.PublicKey {
			// The device would silently move the other peer's allowed
			// IPs to this entry.
			return fmt.Errorf("%w: public key %s already belongs to peer %q", admin.ErrConflict, p.PublicKey.Short(), name)
		}
	}
	id := &identity.Identity{Name: p.Name, Key: p.PublicKey.String(), Tags: p.Tags}
	if err := reg.Put(peerSource, identity.Entry{Identity: id, Prefixes: p.AllowedIPs}); err != nil {
		return fmt.Errorf("%w: %v", admin.ErrConflict, err)
	}
	if err := h.dev.AddPeer(wg.Peer{PublicKey: p.PublicKey, PresharedKey: p.PresharedKey, AllowedIPs: p.AllowedIPs}); err != nil {
		reg.Remove(peerSource, p.Name)
		return err
	}
	h.peers[p.Name] = hubPeer{id: id, key: p.PublicKey, allowed: p.AllowedIPs, runtime: runtime}
	return nil
}

// persistLocked writes a runtime peer to the state. On a shared store
// the record is created only if no hub has a peer of that name: of two
// hubs adding one name at once, one is refused.
func (h *hub) persistLocked(p PeerSettings) error {
	rec := peerRecord{Name: p.Name, PublicKey: p.PublicKey.String(), Tags: p.Tags, Added: time.Now().UTC()}
	for _, a := range p.AllowedIPs {
		rec.AllowedIPs = append(rec.AllowedIPs, a.String())
	}
	b, _ := json.Marshal(rec)
	if h.claims == nil {
		return h.store.Put(peersBucket, p.Name, b)
	}
	err := h.claims.Create(peersBucket, p.Name, b)
	if errors.Is(err, state.ErrExists) {
		return fmt.Errorf("%w: a peer named %q exists on another hub of the fleet", admin.ErrConflict, p.Name)
	}
	return err
}

// dropLocked takes a peer off this hub: the registry, the device and
// the hub's list. The state is the caller's.
func (h *hub) dropLocked(reg *identity.Registry, name string, p hubPeer) error {
	if err := h.dev.RemovePeer(p.key); err != nil {
		return err
	}
	reg.Remove(peerSource, name)
	delete(h.peers, name)
	return nil
}

// Hub implements admin.PeerBackend.
func (a *Appliance) Hub() (admin.Hub, error) {
	h := a.hub
	if h == nil {
		return admin.Hub{}, fmt.Errorf("link.mode is %s, not wireguard: %w", a.s.LinkMode, admin.ErrUnavailable)
	}
	out := admin.Hub{PublicKey: h.pub.String(), ListenPort: int(h.dev.ListenPort()), MTU: int(h.dev.MTU())}
	for _, p := range h.cfg.Addresses {
		out.Addresses = append(out.Addresses, p.String())
	}
	return out, nil
}

// AddPeer implements admin.PeerBackend: the peer can handshake as soon as
// it returns, and it comes back after a restart.
func (a *Appliance) AddPeer(_ context.Context, req admin.PeerRequest) (admin.PeerAdded, error) {
	h := a.hub
	hubView, err := a.Hub()
	if err != nil {
		return admin.PeerAdded{}, err
	}
	if !validPeerName(req.Name) {
		return admin.PeerAdded{}, fmt.Errorf("%w: name %q: 1-64 letters, digits, '-', '_', '.'", admin.ErrInvalid, req.Name)
	}
	p := PeerSettings{Name: req.Name}
	if p.PublicKey, err = wg.ParseKey(req.PublicKey); err != nil {
		return admin.PeerAdded{}, fmt.Errorf("%w: %v", admin.ErrInvalid, err)
	}
	for _, t := range req.Tags {
		if !validTag(t) {
			return admin.PeerAdded{}, fmt.Errorf("%w: tag %q: letters, digits, '-', '_', '.', ':' only", admin.ErrInvalid, t)
		}
	}
	p.Tags = req.Tags
	for _, s := range req.AllowedIPs {
		pp, err := admin.ParsePrefix(s)
		if err != nil {
			return admin.PeerAdded{}, fmt.Errorf("%w: %v", admin.ErrInvalid, err)
		}
		for _, ha := range h.cfg.Addresses {
			if pp.Contains(ha.Addr()) {
				// The peer could then send as the hub.
				return admin.PeerAdded{}, fmt.Errorf("%w: allowed IP %s holds the hub's address %s", admin.ErrInvalid, pp, ha.Addr())
			}
		}
		p.AllowedIPs = append(p.AllowedIPs, pp)
	}
	// Choosing the address and adding the peer under one lock: two
	// requests at once never pick the same address; on a shared store
	// the claims keep two hubs from doing so (wireguard_shared.go).
	h.mu.Lock()
	err = a.addRuntimeLocked(&p)
	h.mu.Unlock()
	if err != nil {
		return admin.PeerAdded{}, err
	}
	for _, id := range a.IdentityStates() {
		if id.Name == p.Name {
			return admin.PeerAdded{Peer: id, Hub: hubView}, nil
		}
	}
	return admin.PeerAdded{}, fmt.Errorf("peer %q vanished while being added", p.Name)
}

// maxPoolScan bounds the addresses tried per pool prefix, so a huge IPv6
// pool cannot make one request loop for long.
const maxPoolScan = 1 << 20

// freeIn takes, from one pool prefix, the lowest address no identity
// holds, the hub does not use and skip does not list: one /32 or /128.
// The caller holds the hub's lock, and add refuses a taken prefix.
func (a *Appliance) freeIn(pool netip.Prefix, skip map[netip.Addr]bool) (netip.Prefix, error) {
	h := a.hub
	hubAddrs := map[netip.Addr]bool{}
	for _, p := range h.cfg.Addresses {
		hubAddrs[p.Addr()] = true
	}
	addr := pool.Addr().Next() // the network address is not a host
	for i := 0; i < maxPoolScan && addr.IsValid() && pool.Contains(addr); i, addr = i+1, addr.Next() {
		if hubAddrs[addr] || skip[addr] || a.idents.Lookup(addr) != nil {
			continue
		}
		if next := addr.Next(); addr.Is4() && pool.Bits() < 31 && (!next.IsValid() || !pool.Contains(next)) {
			break // the IPv4 broadcast address
		}
		return netip.PrefixFrom(addr, addr.BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("%w: pool %s has no free address", admin.ErrConflict, pool)
}

// removeDrain bounds the wait for a removed peer's resets to be
// encrypted and sent before the peer is cut off.
const removeDrain = 500 * time.Millisecond

// minResetBytes is less than what one RST costs on the wire: 40 bytes of
// IPv4 and TCP header padded to 48, plus WireGuard's 16-byte header and
// 16-byte tag.
const minResetBytes = 64

// txBytes is what the device has sent to one peer.
func (h *hub) txBytes(k wg.Key) uint64 {
	list, _ := h.dev.Peers()
	for _, p := range list {
		if p.PublicKey == k {
			return p.TxBytes
		}
	}
	return 0
}

// waitSent waits until the device has sent the peer at least want bytes,
// or ctx ends. The resets are written by the stack asynchronously and
// encrypted by wireguard-go's workers, and removing the peer drops what it
// has not sent yet; the device's byte counter is the one signal that they
// left.
func (h *hub) waitSent(ctx context.Context, k wg.Key, want uint64) {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for h.txBytes(k) < want {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RemovePeer implements admin.PeerBackend: the peer's live flows are
// reset (the RSTs are sent while the peer still exists), then it is
// removed from the device, so its packets no longer decrypt, from the
// identities and from the state.
func (a *Appliance) RemovePeer(ctx context.Context, name string) (admin.PeerRemoved, error) {
	h := a.hub
	if h == nil {
		return admin.PeerRemoved{}, fmt.Errorf("link.mode is %s, not wireguard: %w", a.s.LinkMode, admin.ErrUnavailable)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	p, ok := h.peers[name]
	if !ok {
		return admin.PeerRemoved{}, fmt.Errorf("%w: no peer named %q", admin.ErrNotFound, name)
	}
	if !p.runtime {
		return admin.PeerRemoved{}, fmt.Errorf("%w: peer %q is in the config file; remove it there and restart", admin.ErrConflict, name)
	}
	n, err := a.cutLocked(ctx, name, p)
	if err != nil {
		return admin.PeerRemoved{}, err
	}
	if err := h.store.Delete(peersBucket, name); err != nil {
		return admin.PeerRemoved{FlowsReset: n, Name: name}, err
	}
	a.releaseClaims(name, p.key, p.allowed)
	return admin.PeerRemoved{Name: name, FlowsReset: n}, nil
}

// cutLocked resets a peer's live flows (the RSTs are sent while the peer
// still exists), takes it off this hub, and resets a flow that started
// in between. It returns how many flows were reset.
func (a *Appliance) cutLocked(ctx context.Context, name string, p hubPeer) (int, error) {
	h := a.hub
	before := h.txBytes(p.key)
	n := a.resetIdentity(p.id)
	if n > 0 {
		dctx, cancel := context.WithTimeout(ctx, removeDrain)
		h.waitSent(dctx, p.key, before+uint64(n)*minResetBytes)
		cancel()
	}
	if err := h.dropLocked(a.idents, name, p); err != nil {
		return n, err
	}
	return n + a.resetIdentity(p.id), nil
}

// resetIdentity resets (both legs) every live flow of one identity.
func (a *Appliance) resetIdentity(id *identity.Identity) int {
	st := a.stack.Load()
	if st == nil {
		return 0
	}
	n := 0
	st.Flows().Range(func(f *netstack.Flow) bool {
		info := f.Info()
		if enforce.IdentityOf(&info) == id && f.Reset(netstack.RejectBoth) == nil {
			n++
		}
		return true
	})
	return n
}

// identityDetails completes GET /v1/identities: where each identity
// comes from, its prefixes and mode, and for a WireGuard peer what the
// device knows of it. out is in a.idents.All() order.
func (a *Appliance) identityDetails(out []admin.IdentityState) {
	status := map[wg.Key]wg.PeerStatus{}
	peers := map[string]hubPeer{}
	if h := a.hub; h != nil {
		if list, err := h.dev.Peers(); err == nil {
			for _, p := range list {
				status[p.PublicKey] = p
			}
		}
		h.mu.Lock()
		for k, v := range h.peers {
			peers[k] = v
		}
		h.mu.Unlock()
	}
	entries := map[string]identity.Entry{}
	for _, e := range a.idents.All() {
		entries[e.Identity.Name] = e
	}
	for i := range out {
		v := &out[i]
		v.Source, v.Mode = "config", string(a.s.Mode)
		if m, ok := a.s.IdentityModes[v.Name]; ok {
			v.Mode = string(m)
		}
		for _, p := range entries[v.Name].Prefixes {
			v.Prefixes = append(v.Prefixes, p.String())
		}
		p, ok := peers[v.Name]
		if !ok {
			continue
		}
		v.Source = "wireguard-config"
		if p.runtime {
			v.Source = "wireguard"
		}
		if st, ok := status[p.key]; ok {
			v.Endpoint, v.RxBytes, v.TxBytes = st.Endpoint, st.RxBytes, st.TxBytes
			if !st.LastHandshake.IsZero() {
				t := st.LastHandshake
				v.LastHandshake = &t
			}
		}
	}
}

var _ admin.PeerBackend = (*Appliance)(nil)

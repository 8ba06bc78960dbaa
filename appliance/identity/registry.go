package identity

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/netstack"
)

// Identity is who sends a flow; see inspect.Identity.
type Identity = inspect.Identity

// Entry is one identity and the source prefixes that belong to it: a
// peer's allowed IPs, or the prefixes of a configured identity.
type Entry struct {
	Identity *Identity
	Prefixes []netip.Prefix
}

// Registry maps source addresses to identities. Entries are grouped by
// source ("config" for TUN prefixes, "wireguard" for peers, ...): each
// source replaces or edits only its own entries. Names and prefixes are
// unique across all sources.
type Registry struct {
	mu      sync.Mutex // serialises writers
	sources map[string]map[string]Entry
	snap    atomic.Pointer[table]
}

// table is an immutable snapshot: per address family the distinct prefix
// lengths, longest first, and one map per family from masked prefix to
// identity. A lookup tries each length once: with peers holding /32 and
// /128 addresses that is one or two map lookups.
type table struct {
	v4lens, v6lens []int
	byPrefix       map[netip.Prefix]*Identity
	byName         map[string]Entry
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	r := &Registry{sources: map[string]map[string]Entry{}}
	r.snap.Store(&table{byPrefix: map[netip.Prefix]*Identity{}, byName: map[string]Entry{}})
	return r
}

// Lookup returns the identity whose prefix holds src most specifically,
// nil if none does.
func (r *Registry) Lookup(src netip.Addr) *Identity {
	t := r.snap.Load()
	src = src.Unmap()
	lens := t.v6lens
	if src.Is4() {
		lens = t.v4lens
	}
	for _, bits := range lens {
		p, err := src.Prefix(bits)
		if err != nil {
			continue
		}
		if id, ok := t.byPrefix[p]; ok {
			return id
		}
	}
	return nil
}

// FlowIdentity is Lookup shaped for netstack.WithIdentity: no identity is
// a nil interface, never a typed nil.
func (r *Registry) FlowIdentity(src netip.Addr) netstack.Identity {
	if id := r.Lookup(src); id != nil {
		return id
	}
	return nil
}

// Get returns the entry of a named identity.
func (r *Registry) Get(name string) (Entry, bool) {
	e, ok := r.snap.Load().byName[name]
	return e, ok
}

// All returns every entry, sorted by name.
func (r *Registry) All() []Entry {
	t := r.snap.Load()
	out := make([]Entry, 0, len(t.byName))
	for _, e := range t.byName {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entry) int { return cmp.Compare(a.Identity.Name, b.Identity.Name) })
	return out
}

// Tagged returns the entries that carry tag, sorted by name.
func (r *Registry) Tagged(tag string) []Entry {
	var out []Entry
	for _, e := range r.All() {
		if e.Identity.HasTag(tag) {
			out = append(out, e)
		}
	}
	return out
}

// Len is the number of identities.
func (r *Registry) Len() int { return len(r.snap.Load().byName) }

// Replace sets the whole entry list of one source. On a conflict (a name
// or a prefix another entry holds) nothing changes.
func (r *Registry) Replace(source string, entries []Entry) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := make(map[string]Entry, len(entries))
	for _, e := range entries {
		if e.Identity == nil || e.Identity.Name == "" {
			return fmt.Errorf("identity: %s: an identity without a name", source)
		}
		if _, dup := m[e.Identity.Name]; dup {
			return fmt.Errorf("identity: %s: two identities named %q", source, e.Identity.Name)
		}
		m[e.Identity.Name] = e
	}
	return r.commit(source, m)
}

// Put adds or replaces one entry of a source.
func (r *Registry) Put(source string, e Entry) error {
	if e.Identity == nil || e.Identity.Name == "" {
		return fmt.Errorf("identity: %s: an identity without a name", source)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	m := make(map[string]Entry, len(r.sources[source])+1)
	for k, v := range r.sources[source] {
		m[k] = v
	}
	m[e.Identity.Name] = e
	return r.commit(source, m)
}

// Remove deletes one entry of a source; it reports whether it was there.
func (r *Registry) Remove(source, name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.sources[source]
	if _, ok := old[name]; !ok {
		return false
	}
	m := make(map[string]Entry, len(old))
	for k, v := range old {
		if k != name {
			m[k] = v
		}
	}
	// Removing cannot conflict.
	_ = r.commit(source, m)
	return true
}

// commit builds and publishes the snapshot with source's entries set to
// m, or changes nothing when names or prefixes collide. r.mu is held.
func (r *Registry) commit(source string, m map[string]Entry) error {
	t := &table{byPrefix: map[netip.Prefix]*Identity{}, byName: map[string]Entry{}}
	owner := map[netip.Prefix]string{}
	v4, v6 := map[int]bool{}, map[int]bool{}
	add := func(src string, e Entry) error {
		name := e.Identity.Name
		if _, dup := t.byName[name]; dup {
			return fmt.Errorf("identity: %s: name %q is already an identity", src, name)
		}
		t.byName[name] = e
		for _, p := range e.Prefixes {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-unmapBits(p)).Masked()
			if other, dup := owner[p]; dup && other != name {
				return fmt.Errorf("identity: %s: prefix %s of %q already belongs to %q", src, p, name, other)
			}
			owner[p] = name
			t.byPrefix[p] = e.Identity
			if p.Addr().Is4() {
				v4[p.Bits()] = true
			} else {
				v6[p.Bits()] = true
			}
		}
		return nil
	}
	// Sources in a fixed order so that errors name the newcomer.
	names := make([]string, 0, len(r.sources)+1)
	for s := range r.sources {
		if s != source {
			names = append(names, s)
		}
	}
	slices.Sort(names)
	for _, s := range names {
		for _, e := range r.sources[s] {
			if err := add(s, e); err != nil {
				return err
			}
		}
	}
	for _, e := range sortedEntries(m) {
		if err := add(source, e); err != nil {
			return err
		}
	}
	t.v4lens, t.v6lens = descending(v4), descending(v6)
	r.sources[source] = m
	r.snap.Store(t)
	return nil
}

// unmapBits is the 96 bits an IPv4-mapped IPv6 prefix loses when unmapped.
func unmapBits(p netip.Prefix) int {
	if p.Addr().Is4In6() {
		return 96
	}
	return 0
}

func sortedEntries(m map[string]Entry) []Entry {
	out := make([]Entry, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entry) int { return cmp.Compare(a.Identity.Name, b.Identity.Name) })
	return out
}

func descending(set map[int]bool) []int {
	out := make([]int, 0, len(set))
	for b := range set {
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b int) int { return cmp.Compare(b, a) })
	return out
}

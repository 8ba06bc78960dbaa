// Package identity knows who sends each flow and what that identity may
// do: the registry of identities (WireGuard peers by their allowed IPs,
// configured source prefixes in TUN mode), and on top of it per-identity
// policy and interruption (pause, quarantine).
//
// An identity is an *inspect.Identity (name, public key, tags), built once
// and shared by pointer with every flow and EVE event of it; the data path
// carries it through netstack as a netstack.Identity. A change to an
// identity (new tags, a re-added peer) publishes a new value.
//
// Lookups run once per new flow and read an immutable snapshot without a
// lock; changes (config load, `peer add`, `peer remove`) copy and swap the
// snapshot, so they are O(identities) and rare.
//
// Metric labels never carry identity names or keys (their number is
// unbounded in a large fleet); per-identity figures are served by the
// admin API instead.
//
// This package imports inspect (the identity type) and netstack (the flow
// identity interface); it never imports tunnel or the appliance root.
package identity

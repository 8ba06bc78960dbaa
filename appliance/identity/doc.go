// Package identity knows who sends each flow and what that identity may
// do: the registry of identities (WireGuard peers by their allowed IPs,
// configured source prefixes in TUN mode), and on top of it per-identity
// policy and interruption, all in one Engine:
//
//   - Interruption (config.go, engine.go, trigger.go): triggers per
//     identity or tag count alerts and HTTP statuses (OnResult, the
//     enforce hook), new flows to distinct ports or hosts (scans), policy
//     denials and token misuse over sliding windows, and pause (new flows
//     refused with a reset) or quarantine (live flows reset in one pass
//     over the flow table, later passes for flows admitted just before;
//     the identity's prefixes dropped by the packet guard) an identity,
//     for a duration that escalates per repeat offence. ids-mode triggers
//     only record would-<action>. Operators interrupt and release by name
//     or tag.
//   - Egress (egress.go, egress_flow.go): allow lists by identity or tag
//     of prefixes and names, with ports, protocol, HTTP methods and paths
//     and schedules. A flow is decided before the inner handler (so
//     before any upstream dial) by its address and by the names DNS
//     answers the appliance forwarded to the identity gave that address,
//     or on its first bytes (TLS SNI, HTTP request head) before they are
//     forwarded: a hello or head split over reads is held by the relay
//     (netstack.Hold) until it is whole, so a denied one reaches the
//     target not even in part. Every HTTP/1 request of a flow is found
//     by a request framer (reqframe.go), shared with the token check,
//     which fails closed where a server could read the stream otherwise.
//     HTTP/2 in cleartext (prior knowledge, or after an Upgrade: h2c the
//     server accepted) is read with inspect/http2's parser (h2req.go),
//     each request header block checked like an HTTP/1 head.
//     DNS queries for names outside the list are answered REFUSED
//     through netstack.Answerer; port 53 carries nothing but queries.
//   - Tokens (tokens.go): cleartext HTTP credentials of every request,
//     HTTP/1 and HTTP/2, hashed with SHA-256 and bound to identities,
//     statically or on first use.
//   - Learning (learn.go): what identities under a policy reach, kept
//     bounded in the state, and Suggest, which turns it into an allow
//     list in the config's syntax.
//
// Every decision is logged (slog), written to EVE (interruption and
// policy events; a token only as its hash prefix and first 4
// characters) and counted. Interruptions, offence counts, token bindings
// and observations live in a state.Store, so they survive a restart.
//
// An identity is an *inspect.Identity (name, public key, tags), built once
// and shared by pointer with every flow and EVE event of it; the data path
// carries it through netstack as a netstack.Identity. A change to an
// identity (new tags, a re-added peer) publishes a new value.
//
// Lookups run once per new flow and read immutable snapshots without a
// lock (the registry, the interruptions in force, the compiled
// policies); changes copy and swap them, so they are O(identities) and
// rare. The common case of a new flow allowed by a policy allocates
// nothing.
//
// This package's metric labels never carry identity names or keys
// (their number is unbounded in a large fleet); per-identity figures are
// served by the admin API, and the appliance exports a bounded
// per-identity view (its identity label names at most 1,000 identities).
//
// This package imports inspect (the identity type, EVE records, the
// HTTP/2 parser),
// netstack (the handler contract, the flow table), enforce (its hook),
// policy (its clock and guard interfaces) and state; it never imports
// tunnel or the appliance root.
package identity

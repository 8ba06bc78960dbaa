// Package enforce wires detection into the data path: it implements
// netstack.Handler on top of an inspect.FlowFactory (the detect engine in
// production, fakes in tests).
//
// Per flow it creates one inspect.FlowInspector, serialises the two
// directions with a mutex (inspectors are not safe for concurrent use),
// and maps each Inspect result onto a netstack.Verdict in one place
// (verdictFor, following ARCHITECTURE.md's verdict table and Suricata's
// precedence pass > drop > reject > alert). The relay holds every chunk
// until Chunk returns, so the chunk that completes a match is never
// forwarded when its verdict is terminal.
//
// A pass rule answers Monitor rather than Pass: the relay forwards the
// flow from then on without waiting for inspection, and still shows each
// chunk to the handler afterwards, which runs the inspector for the
// flow's app-layer records (http, dns, tls) and ignores its alerts and
// actions. Suricata's pass stops detection, not logging; the cost is the
// parsers' (and the prefilter's) CPU on a flow that is no longer held.
//
// Modes: ips enforces; ids only logs what it would have done (alert
// action "allowed", a drop event with reason "would-drop" and friends)
// and lets the chunk through. The mode is chosen per flow when it starts:
// the handler's default, or a per-identity override, so a new policy can
// be shadowed for some identities before it is enforced for them.
//
// A panic inside one flow's inspection is recovered, logged with the
// flow id, counted, and ends that flow: reset (Reject) by default, or
// passed uninspected with FailOpen. The appliance goes on.
//
// Events (alert, drop, http/dns/tls, anomaly, flow) are written as EVE
// records through a Sink (*eve.Writer); metrics go to a caller-given
// prometheus.Registerer, never the global one.
//
// enforce imports netstack (the Handler contract only) and inspect with
// inspect/eve. It must not import the detect engine, the app-layer
// parsers, tunnel or any other appliance package: callers pass the
// FlowFactory in, so rule loading and reloads stay outside.
package enforce

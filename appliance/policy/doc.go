// Package policy is the appliance's inline policy in front of inspection:
// source block lists, rate limits and protocol validation (issue "Inline
// enforcement", items 2-4).
//
//   - Block list: source prefixes denied for a duration (or until
//     unblocked), from the config (block.static), the admin API (Block,
//     Unblock, List) and as a rule consequence (block.on_alert: an alert
//     matching an action, a severity bound or a sid list blocks the flow's
//     client address). The packet guard (netstack.Guard, O(1) per packet)
//     drops a blocked source's packets; the source's live flows are reset
//     (netstack.Flow.Reset with block.reset_with); NewFlow refuses SYNs
//     that were in flight. Expiry runs on the policy's Clock: the sweeper
//     (or Sweep) unblocks in the guard; the guard's own wall-clock expiry
//     is only a backstop. Every block and unblock is logged (slog) and
//     recorded as an EVE "interruption" event (eve.Event.Interruption) to
//     Options.Events, the appliance's one EVE writer, beside the alerts
//     and flows. Blocking never shortens an existing block.
//   - Rate limits (golang.org/x/time/rate): new flows per second per
//     client address, refused at NewFlow with drop or reject, in a
//     limiter table bounded by max_sources (LRU) with idle eviction; and
//     bytes per second per flow direction, which delays (the wrapper waits
//     before returning Continue, so the relay forwards the chunk later and
//     TCP backpressure slows the sender; one chunk waits at most
//     max_delay, see BytesConfig.MaxDelay), drops or rejects.
//   - Protocol validation: app-layer anomalies that the detect engine
//     reports in inspect.Result.Events (inspect.Event.Anomaly, e.g.
//     REQUEST_CONTENT_LENGTH_AND_TRANSFER_ENCODING) are mapped per event
//     name, per app protocol or by default onto alert, drop or a reject.
//     The anomaly is reported while inspecting the chunk that carries it,
//     OnResult records the verdict on the flow, and the wrapper returns it
//     for that same chunk, so the malformed request never reaches the
//     server (hold-until-verdict).
//
// Integration (the appliance wiring):
//
//	pol, err := policy.New(cfg.Policy, policy.Options{Registerer: reg, Logger: log,
//		Events: eveWriter})
//	h, err := enforce.New(engine, enforce.Config{..., OnResult: pol.OnResult})
//	st, err := netstack.New(netstack.WithHandler(policy.Wrap(h, pol)), ...)
//	err = pol.Attach(st.Guard(), st.Flows()) // pushes static entries into the guard
//	...
//	st.Close(); pol.Close()
//
// The admin API calls pol.Block(prefix, d, reason), pol.Unblock(prefix)
// and pol.List(). Config is the "policy" section of the appliance config;
// Validate's errors are *ConfigError whose Key is the dotted path below
// that section (e.g. "block.on_alert[0].block_source_for").
//
// Without the OnResult hook, block lists and rate limits still work;
// rule consequences and protocol validation need it.
//
// policy imports netstack (the Handler contract, the guard and flow
// table), enforce (its hook and Sink types), state (a fleet's shared
// store, Options.Shared), inspect and inspect/eve. It
// must not import the detect engine, app-layer parsers, tunnel or the
// appliance package (which embeds it).
package policy

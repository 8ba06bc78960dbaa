// Package appliance is the product: configuration, lifecycle, the wiring
// of inspect into netstack's flow handler, identities and policy, the admin
// API, metrics and the EVE sink. It is the only package that imports both
// inspect and netstack.
//
// Metric label cardinality is bounded. Identities appear in metrics only
// in the interdict_identity_flows_active, _rx_bytes_total and
// _tx_bytes_total series, whose identity label names at most 1,000
// identities (first come; the rest are summed under "other"); every other
// series has labels from fixed sets (verdicts, message types, reasons) or
// bounded ones (rule sids). WireGuard's device counters carry no per-peer
// label. The admin API (GET /v1/identities) has every identity.
package appliance

// Package eve writes Suricata EVE JSON: one JSON object per line, with
// Suricata's field names, so tools built for Suricata's eve.json (jq
// recipes, SIEM parsers, suricata-verify checks) read interdict's output
// unchanged. Our own additions (the identity object, the interruption
// event type and object for block-list changes) are extra keys and types
// that such tools ignore.
//
// Events are pre-declared structs encoded with encoding/json: no
// map[string]any on the hot path. A Writer is safe for concurrent use and
// can reopen its file for logrotate.
//
// eve imports only inspect (for the alert and app-layer records it turns
// into events); never netstack, tunnel or appliance.
package eve

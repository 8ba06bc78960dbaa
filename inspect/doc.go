// Package inspect is interdict's detection engine: Suricata rules compiled
// into multi-pattern prefilters and verified against reassembled byte
// streams and app-layer buffers, one Flow per connection.
//
// It is pure: bytes in, verdicts and alert records out. It is used live by
// the appliance, offline by `interdict replay`, and directly by tests.
//
// inspect imports no other package of ours except its own subpackages
// (inspect/rules, inspect/prefilter, inspect/applayer, inspect/http1, ...);
// in particular never netstack or tunnel, and it never sees a gVisor type.
package inspect

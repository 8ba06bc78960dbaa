// Package netstack terminates every flow that crosses the appliance in a
// gVisor userspace TCP/IP stack and re-originates it upstream.
//
// It owns the stack builder, the packet guard (a nested link endpoint that
// drops packets by source prefix or 5-tuple before gVisor sees them), the
// TCP and UDP forwarders, ICMP echo, the relay that moves bytes between the
// two legs of a flow, the flow table, and the enforcement primitives (reset
// and blackhole).
//
// The relay never forwards a chunk before the flow's Handler has returned a
// verdict for it: that is the appliance's hold-until-verdict promise.
//
// netstack must not import inspect: it declares the small Handler contract
// in handler.go and the appliance package wires detection into it. It may
// import tunnel only in tests.
package netstack

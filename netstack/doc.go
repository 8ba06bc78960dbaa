// Package netstack terminates every flow that crosses the appliance in a
// gVisor userspace TCP/IP stack and re-originates it upstream.
//
// It owns the stack builder, the packet guard (a nested link endpoint that
// drops packets by source prefix or 5-tuple before gVisor sees them, and
// reassembles IP fragments so that every datagram's transport checksum is
// verified, fragments.go), the TCP and UDP forwarders, ICMP echo, the
// relay that moves bytes between the two legs of a flow, the flow table,
// and the enforcement primitives (reset and blackhole).
//
// New TCP flows dial upstream before the client's handshake completes,
// so a refused upstream is mirrored to the client; under a SYN flood the
// stack validates clients with SYN cookies first (synflood.go).
//
// The relay never forwards a chunk before the flow's Handler has returned a
// verdict for it: that is the appliance's hold-until-verdict promise. A
// handler that needs the next bytes to decide (a ClientHello split over
// reads) answers Hold, and the relay keeps the chunk unsent, bounded per
// direction, until a later verdict; Monitor ends the promise for a flow
// the handler passed but still wants to log (relay.go, handler.go).
//
// netstack must not import inspect: it declares the small Handler contract
// in handler.go and the appliance package wires detection into it. It may
// import tunnel only in tests.
package netstack

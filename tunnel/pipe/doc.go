// Package pipe is an in-memory link between two gVisor stacks: a pair of
// stack.LinkEndpoints where each side's WritePackets delivers to the
// other side's dispatcher. The harness joins client, appliance and server
// stacks with it so end-to-end tests run unprivileged in one process.
//
// Delivery is synchronous (the writer's goroutine runs the peer's inbound
// path), which keeps the link allocation-free and deterministic; gVisor's
// TCP queues inbound segments to its own processors, so this does not
// recurse unboundedly.
//
// pipe imports only gVisor; it must not import netstack or inspect.
package pipe

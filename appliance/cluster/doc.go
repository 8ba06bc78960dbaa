// Package cluster shares an appliance's state with a fleet through NATS
// JetStream: Store is a state.Watcher over JetStream key-value buckets
// (one per state bucket, replicated R3 when three or more servers hold
// them), and Embedded runs a NATS server with JetStream in the process,
// clustered with the other appliances through its routes, so a fleet
// needs no extra service. Either way the appliances are clients of the
// same NATS; an external cluster is reached by its URLs.
//
// Every appliance writes what it decides (an interruption, a release, a
// first-use token binding, a block) and applies from its watch what the
// others wrote. The failure semantics (docs/cluster.md): an appliance
// that loses the cluster keeps enforcing what it knows, queues its own
// writes and sends them, oldest first, when it is back; a watched bucket's
// writes are compare-and-set on the revision the appliance saw last, and
// one that loses is settled by the bucket's rule (state.Resolve) so that
// every appliance ends with the bucket's latest value; after a reconnect
// the watches read every key again; an appliance opens the store, and so
// reads every bucket, before it admits a flow, and does not start
// without it.
//
// It imports only appliance/state of ours.
package cluster

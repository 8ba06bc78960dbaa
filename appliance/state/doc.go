// Package state is where the appliance keeps what must outlive a restart:
// the hub's private key, peers added at runtime, interruptions, token
// bindings, learned observations. Everything goes through one small
// key-value interface, Store, so that a single appliance keeps it in a
// local directory (Dir) and a fleet can keep it in a shared backend
// without the callers changing.
//
// Values are opaque bytes (callers encode JSON); buckets group keys of one
// kind ("peers", "interruptions", ...). Dir writes each key to its own
// file, atomically (temp file, fsync, rename), with mode 0600 in a 0700
// directory: a crash leaves the old value or the new one, never half.
//
// A Store shared by a fleet (appliance/cluster) is also a Watcher: each
// appliance applies what the others wrote from its watch.
//
// It imports nothing of ours.
package state

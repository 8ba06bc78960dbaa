package cluster

import (
	"context"
	"slices"
	"strings"

	"github.com/nats-io/nats.go"
)

// Status is the store as `interdict ctl cluster` shows it.
type Status struct {
	// Connected is whether the store is connected to NATS now.
	Connected bool `json:"connected"`
	// Server is the name of the member the store is connected to.
	Server string `json:"server,omitempty"`
	// PendingWrites are writes the cluster has not taken yet.
	PendingWrites int            `json:"pending_writes"`
	Buckets       []BucketStatus `json:"buckets"`
}

// BucketStatus is one bucket's replication state.
type BucketStatus struct {
	Name string `json:"name"`
	// Revision is the bucket's latest revision (any key).
	Revision uint64 `json:"revision"`
	// Seen is the latest revision this appliance wrote or applied.
	Seen uint64 `json:"seen"`
	// Keys counts the values held, delete markers included.
	Keys   uint64 `json:"keys"`
	Leader string `json:"leader,omitempty"`
	// Replicas are the other members holding the bucket.
	Replicas []Replica `json:"replicas,omitempty"`
	// Error is why the cluster did not answer for this bucket.
	Error string `json:"error,omitempty"`
}

// Replica is a member holding a copy of a bucket, as its leader sees it.
type Replica struct {
	Name    string `json:"name"`
	Current bool   `json:"current"`
	Offline bool   `json:"offline,omitempty"`
	// Lag is how many operations it is behind the leader.
	Lag uint64 `json:"lag"`
}

// Status asks the cluster for every bucket's state; a bucket it cannot
// answer for carries the error (a store cut off still reports itself).
func (s *Store) Status(ctx context.Context) Status {
	st := Status{Connected: s.nc.IsConnected()}
	if st.Connected {
		st.Server = s.nc.ConnectedServerName()
	}
	s.mu.Lock()
	st.PendingWrites = len(s.pending)
	names := make([]string, 0, len(s.kvs))
	for b := range s.kvs {
		names = append(names, b)
	}
	seen := map[string]uint64{}
	for id, rev := range s.seen {
		b, _, _ := strings.Cut(id, "/")
		seen[b] = max(seen[b], rev)
	}
	s.mu.Unlock()
	slices.Sort(names)
	for _, b := range names {
		bs := BucketStatus{Name: b, Seen: seen[b]}
		if err := s.bucketStatus(ctx, b, &bs); err != nil {
			bs.Error = err.Error()
		}
		st.Buckets = append(st.Buckets, bs)
	}
	return st
}

func (s *Store) bucketStatus(ctx context.Context, b string, bs *BucketStatus) error {
	if !s.nc.IsConnected() {
		return nats.ErrDisconnected
	}
	str, err := s.js.Stream(ctx, "KV_interdict_"+b)
	if err != nil {
		return err
	}
	info, err := str.Info(ctx)
	if err != nil {
		return err
	}
	bs.Revision, bs.Keys = info.State.LastSeq, info.State.Msgs
	if c := info.Cluster; c != nil {
		bs.Leader = c.Leader
		for _, p := range c.Replicas {
			bs.Replicas = append(bs.Replicas, Replica{Name: p.Name, Current: p.Current, Offline: p.Offline, Lag: p.Lag})
		}
	}
	return nil
}

package admin

import (
	"context"
	"net/http"
)

// ClusterBackend is implemented by a Backend that can share its state
// with a fleet; without it GET /v1/cluster answers 503.
type ClusterBackend interface {
	// ClusterStatus describes the shared store (Backend "local": the
	// appliance shares nothing).
	ClusterStatus(ctx context.Context) ClusterStatus
}

// ClusterStatus is GET /v1/cluster: where the state lives and how far
// each shared bucket is replicated.
type ClusterStatus struct {
	// Backend is local or nats.
	Backend   string `json:"backend"`
	Connected bool   `json:"connected"`
	// Server is the NATS member this appliance is connected to.
	Server string `json:"server,omitempty"`
	// Members are the NATS members holding the buckets.
	Members []string `json:"members,omitempty"`
	// PendingWrites are writes the cluster has not taken yet.
	PendingWrites int             `json:"pending_writes"`
	Buckets       []ClusterBucket `json:"buckets,omitempty"`
}

// ClusterBucket is one shared bucket.
type ClusterBucket struct {
	Name string `json:"name"`
	// Revision is the bucket's latest revision; Seen the latest this
	// appliance wrote or applied (Revision - Seen is how far behind it
	// is, briefly, while changes are delivered).
	Revision uint64           `json:"revision"`
	Seen     uint64           `json:"seen"`
	Keys     uint64           `json:"keys"`
	Leader   string           `json:"leader,omitempty"`
	Replicas []ClusterReplica `json:"replicas,omitempty"`
	Error    string           `json:"error,omitempty"`
}

// ClusterReplica is a member holding a copy of a bucket.
type ClusterReplica struct {
	Name    string `json:"name"`
	Current bool   `json:"current"`
	Offline bool   `json:"offline,omitempty"`
	// Lag is how many operations it is behind the bucket's leader.
	Lag uint64 `json:"lag"`
}

func (s *server) cluster(w http.ResponseWriter, r *http.Request) {
	cb, ok := s.b.(ClusterBackend)
	if !ok {
		writeError(w, http.StatusServiceUnavailable, "cluster: not available in this appliance")
		return
	}
	writeJSON(w, http.StatusOK, cb.ClusterStatus(r.Context()))
}

// Cluster is GET /v1/cluster.
func (c *Client) Cluster(ctx context.Context) (cs ClusterStatus, err error) {
	return cs, c.do(ctx, http.MethodGet, "/v1/cluster", nil, &cs)
}

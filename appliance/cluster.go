package appliance

import (
	"context"
	"fmt"
	"slices"

	"github.com/interdict/interdict/appliance/admin"
	"github.com/interdict/interdict/appliance/cluster"
	"github.com/interdict/interdict/appliance/identity"
	"github.com/interdict/interdict/appliance/policy"
	"github.com/interdict/interdict/appliance/state"
)

// openStore opens where the appliance keeps its state: the state
// directory (backend local), or the fleet's JetStream buckets (backend
// nats) through this appliance's embedded NATS server or an external
// cluster. It returns once every bucket is readable, so the identity
// engine rebuilds its state before the appliance admits a flow.
func (a *Appliance) openStore(s *Settings) (state.Store, error) {
	cs := s.Cluster
	if cs == nil || cs.Backend != "nats" {
		if s.StateDir == "" {
			return nil, nil
		}
		return state.Open(s.StateDir)
	}
	urls, own, name := cs.URLs, false, "interdict"
	if cs.Embedded != nil {
		e, err := cluster.StartEmbedded(*cs.Embedded, cs.Timeout)
		if err != nil {
			return nil, err
		}
		a.embedded = e
		urls, own, name = []string{e.ClientURL()}, true, "interdict "+cs.Embedded.Name
	}
	buckets := append(slices.Clone(identity.Buckets), policy.Buckets...)
	if s.LinkMode == "wireguard" {
		buckets = append(buckets, peersBucket, claimsBucket)
	}
	st, err := cluster.Open(cs, urls, cluster.Options{Logger: a.log, Registerer: a.reg, Name: name,
		Buckets: buckets, Own: own})
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	a.shared = st
	a.log.Info("cluster: state shared through NATS JetStream", "urls", len(urls), "embedded", cs.Embedded != nil, "replicas", cs.Replicas)
	return st, nil
}

// closeStore closes the shared store and then the embedded server, after
// the identity engine and the policy stopped watching.
func (a *Appliance) closeStore() {
	if a.shared != nil {
		a.shared.Close()
	}
	if a.embedded != nil {
		a.embedded.Shutdown()
	}
}

var _ admin.ClusterBackend = (*Appliance)(nil)

// ClusterStatus implements admin.ClusterBackend.
func (a *Appliance) ClusterStatus(ctx context.Context) admin.ClusterStatus {
	if a.shared == nil {
		return admin.ClusterStatus{Backend: "local"}
	}
	st := a.shared.Status(ctx)
	out := admin.ClusterStatus{Backend: "nats", Connected: st.Connected, Server: st.Server, PendingWrites: st.PendingWrites}
	members := map[string]bool{}
	if st.Server != "" {
		members[st.Server] = true
	}
	for _, b := range st.Buckets {
		cb := admin.ClusterBucket{Name: b.Name, Revision: b.Revision, Seen: b.Seen, Keys: b.Keys, Leader: b.Leader, Error: b.Error}
		if b.Leader != "" {
			members[b.Leader] = true
		}
		for _, r := range b.Replicas {
			cb.Replicas = append(cb.Replicas, admin.ClusterReplica{Name: r.Name, Current: r.Current, Offline: r.Offline, Lag: r.Lag})
			members[r.Name] = true
		}
		out.Buckets = append(out.Buckets, cb)
	}
	for m := range members {
		out.Members = append(out.Members, m)
	}
	slices.Sort(out.Members)
	return out
}

package harness

// Three hubs sharing one policy through an embedded NATS JetStream
// fleet: each hub is an identity engine over its own netstack, with a
// cluster.Store on its own embedded server; runner-b connects to any of
// them (it roams). What one hub decides, the others enforce.

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/appliance/cluster"
	"github.com/interdict/interdict/appliance/cluster/clustertest"
	"github.com/interdict/interdict/appliance/identity"
	"github.com/interdict/interdict/appliance/policy"
	"github.com/interdict/interdict/appliance/state"
	"github.com/interdict/interdict/inspect/eve"
)

// hubSetup is the identity section every hub of the fleet runs.
var hubSetup = identSetup{
	interrupt: identity.InterruptConfig{Triggers: []identity.TriggerConfig{portScan}},
	tokens:    identity.TokensConfig{Enabled: true},
}

// tokenRequest carries a token the first identity to use binds.
const tokenRequest = "GET /repos HTTP/1.1\r\nHost: example.test\r\nAuthorization: Bearer ghp_Cluster0123456789SecretValueXYZ\r\n\r\n"

// openShared opens a Store on the fleet member url (the test closes it).
func openShared(t *testing.T, f *clustertest.Fleet, url string) *cluster.Store {
	t.Helper()
	st, err := cluster.Open(f.Settings(), []string{url}, cluster.Options{Buckets: append(slices.Clone(identity.Buckets), policy.Buckets...), Own: true})
	require.NoError(t, err)
	t.Cleanup(st.Close)
	return st
}

// newHub builds a hub over member i of the fleet, serving echo and HTTP.
func newHub(t *testing.T, f *clustertest.Fleet, i int) *identNet {
	t.Helper()
	return newHubOn(t, openShared(t, f, f.URL(i)))
}

// newHubOn builds a hub over the shared store st.
func newHubOn(t *testing.T, st state.Store) *identNet {
	t.Helper()
	s := hubSetup
	s.store = st
	h := newIdentNet(t, s)
	serve(t, h.n, echoAP, echo)
	serve(t, h.n, httpAP, (&reqServer{}).serve)
	return h
}

// eventually waits for cond on a hub's state, the way a fleet converges.
func eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, 30*time.Second, 5*time.Millisecond, msg)
}

func quarantined(h *identNet, name string) func() bool {
	return func() bool {
		in, ok := h.e.Get(name)
		return ok && in.Action == identity.ActionQuarantine
	}
}

func released(h *identNet, name string) func() bool {
	return func() bool { _, ok := h.e.Get(name); return !ok }
}

func TestClusterQuarantineAndTokensReachEveryHub(t *testing.T) {
	leakCheck(t)
	f := clustertest.Start(t, 3)
	a, b, c := newHub(t, f, 0), newHub(t, f, 1), newHub(t, f, 2)

	// A trigger on hub B: runner-b scans there; its flow through hub C
	// is cut and hub C refuses it.
	onC := openEcho(t, c.n, ClientAddr2)
	scan(b.n, ClientAddr2, 20000, 50)
	require.True(t, quarantined(b, "runner-b")(), "the scan quarantines runner-b on hub B")
	requireReset(t, onC)
	requireNoConnect(t, c.n, ClientAddr2)
	openEcho(t, c.n, ClientAddr) // runner-a is untouched
	inC, _ := c.e.Get("runner-b")
	assert.Equal(t, "port-scan", inC.Trigger, "hub C enforces hub B's decision as B made it")
	assert.Equal(t, 1.0, gauge(t, c.reg, "interdict_identity_quarantined"))
	assert.GreaterOrEqual(t, counter(t, c.reg, "interdict_identity_flows_reset_total", nil), 1.0)
	recs := interruptions(t, c.eve)
	require.NotEmpty(t, recs)
	assert.Equal(t, "quarantine", recs[0].Interruption.Action)
	assert.Equal(t, "runner-b", recs[0].Identity.Name)

	// ctl release on hub A (the admin API calls Release) frees it
	// everywhere.
	_, err := a.e.Release("runner-b", "")
	require.NoError(t, err)
	eventually(t, released(c, "runner-b"), "the release reaches hub C")
	eventually(t, released(b, "runner-b"), "the release reaches hub B")
	onC = openEcho(t, c.n, ClientAddr2)
	assert.Equal(t, 0.0, gauge(t, c.reg, "interdict_identity_quarantined"))

	// ctl quarantine on hub A cuts runner-b's live flow on hub C.
	_, err = a.e.Interrupt(identity.Request{Identity: "runner-b", Action: identity.ActionQuarantine, For: time.Hour, Reason: "stolen key"})
	require.NoError(t, err)
	requireReset(t, onC)
	requireNoConnect(t, c.n, ClientAddr2)
	inC, _ = c.e.Get("runner-b")
	assert.Equal(t, "stolen key", inC.Reason)
	_, err = a.e.Release("runner-b", "")
	require.NoError(t, err)
	eventually(t, released(c, "runner-b"), "the second release reaches hub C")

	// A token bound on first use on hub A is runner-a's on hub C too.
	got, err := request(t, a.n, ClientAddr, httpAP, tokenRequest)
	require.NoError(t, err)
	assert.Equal(t, httpResponse, got)
	eventually(t, func() bool { return len(c.e.TokenBindings()) == 1 }, "the binding reaches hub C")
	_, err = request(t, c.n, ClientAddr2, httpAP, tokenRequest)
	require.Error(t, err, "runner-b's use of runner-a's token is rejected on hub C")
	assert.Equal(t, 1.0, counter(t, c.reg, "interdict_identity_token_misuse_total", map[string]string{"action": "deny"}))
	pol := c.eve.of(t, eve.TypePolicy, 0)
	require.Len(t, pol, 1)
	assert.Equal(t, "token bound to runner-a", pol[0].Policy.Reason)
}

func TestClusterKeepsEnforcingThroughFailures(t *testing.T) {
	leakCheck(t)
	f := clustertest.Start(t, 3)
	a, c := newHub(t, f, 0), newHub(t, f, 2)
	_, err := request(t, a.n, ClientAddr, httpAP, tokenRequest)
	require.NoError(t, err, "runner-a binds its token on hub A")

	// One member (hub B's server) is down: two of three still agree.
	f.Stop(1)
	onC := openEcho(t, c.n, ClientAddr2)
	_, err = a.e.Interrupt(identity.Request{Identity: "runner-b", Action: identity.ActionQuarantine, For: time.Hour})
	require.NoError(t, err)
	// The members may elect new leaders first: seconds, not a loss.
	eventually(t, quarantined(c, "runner-b"), "a quarantine propagates with one member down")
	requireReset(t, onC)
	_, err = a.e.Release("runner-b", "")
	require.NoError(t, err)
	eventually(t, released(c, "runner-b"), "a release propagates with one member down")
	f.Restart(1)
	f.WaitCurrent(identity.Buckets...)

	// Hub C is cut off (its server stops) while runner-b is quarantined:
	// it keeps refusing runner-b, and learns what changed once back.
	_, err = a.e.Interrupt(identity.Request{Identity: "runner-b", Action: identity.ActionQuarantine, For: time.Hour})
	require.NoError(t, err)
	eventually(t, quarantined(c, "runner-b"), "hub C knows the quarantine before the cut")
	f.Stop(2)
	_, err = a.e.Release("runner-b", "")
	require.NoError(t, err)
	_, err = a.e.Interrupt(identity.Request{Identity: "runner-a", Action: identity.ActionQuarantine, For: time.Hour, Reason: "while C was away"})
	require.NoError(t, err)
	// Hub C's own decision while cut off is queued.
	_, err = c.e.Interrupt(identity.Request{Identity: "runner-b", Action: identity.ActionQuarantine, For: 2 * time.Hour, Reason: "extended on C"})
	require.NoError(t, err)
	requireNoConnect(t, c.n, ClientAddr2) // fail closed: C still enforces what it knew
	openEcho(t, c.n, ClientAddr)          // and has not heard of runner-a's

	f.Restart(2)
	eventually(t, quarantined(c, "runner-a"), "hub C applies what changed while it was away")
	// Hub C's queued quarantine and hub A's release conflict: a release
	// never undoes an interruption it has not seen (docs/cluster.md), so
	// C's quarantine is in force on both hubs, whichever write the bucket
	// took first.
	for name, h := range map[string]*identNet{"A": a, "C": c} {
		eventually(t, func() bool {
			in, ok := h.e.Get("runner-b")
			return ok && in.Action == identity.ActionQuarantine && in.Reason == "extended on C"
		}, "hub "+name+" enforces hub C's quarantine of runner-b after the rejoin")
	}
	requireNoConnect(t, a.n, ClientAddr2)

	// A restarted hub C rebuilds from the buckets before it admits flows.
	c.e.Close()
	c.n.Close()
	c2 := newHub(t, f, 2)
	_, ok := c2.e.Get("runner-a")
	require.True(t, ok, "the restarted hub knows runner-a's quarantine at once")
	requireNoConnect(t, c2.n, ClientAddr)
	binds := c2.e.TokenBindings()
	require.Len(t, binds, 1, "and runner-a's token binding")
	assert.Equal(t, "runner-a", binds[0].Identity)
}

// An external NATS cluster: three nats-server members started by the
// test from the nats-server module, not embedded in any hub; each hub
// connects to the cluster by its URLs (any member, failing over between
// them), as appliances configured with cluster.nats.urls do.
func TestClusterExternalNATS(t *testing.T) {
	leakCheck(t)
	f := clustertest.Start(t, 3)
	urls := []string{f.URL(0), f.URL(1), f.URL(2)}
	external := func() *cluster.Store {
		st, err := cluster.Open(f.Settings(), urls, cluster.Options{Buckets: identity.Buckets})
		require.NoError(t, err)
		t.Cleanup(st.Close)
		return st
	}
	a, b, cst := newHubOn(t, external()), newHubOn(t, external()), external()
	c := newHubOn(t, cst)

	// A trigger on hub B cuts runner-b's flow through hub C.
	onC := openEcho(t, c.n, ClientAddr2)
	scan(b.n, ClientAddr2, 20000, 50)
	require.True(t, quarantined(b, "runner-b")(), "the scan quarantines runner-b on hub B")
	requireReset(t, onC)
	requireNoConnect(t, c.n, ClientAddr2)
	_, err := a.e.Release("runner-b", "")
	require.NoError(t, err)
	eventually(t, released(c, "runner-b"), "the release reaches hub C")

	// A token bound on hub A is rejected on hub C.
	_, err = request(t, a.n, ClientAddr, httpAP, tokenRequest)
	require.NoError(t, err)
	eventually(t, func() bool { return len(c.e.TokenBindings()) == 1 }, "the binding reaches hub C")
	_, err = request(t, c.n, ClientAddr2, httpAP, tokenRequest)
	require.Error(t, err, "runner-b's use of runner-a's token is rejected on hub C")

	// The member hub C is connected to stops: C fails over to another
	// and still hears what hub A decides.
	f.WaitCurrent(identity.Buckets...)
	member := cst.Status(context.Background()).Server
	stopped := slices.IndexFunc([]string{"hub-a", "hub-b", "hub-c"}, func(n string) bool { return n == member })
	require.GreaterOrEqual(t, stopped, 0, "hub C is connected to a member (%q)", member)
	f.Stop(stopped)
	onC = openEcho(t, c.n, ClientAddr2)
	_, err = a.e.Interrupt(identity.Request{Identity: "runner-b", Action: identity.ActionQuarantine, For: time.Hour, Reason: "member down"})
	require.NoError(t, err)
	eventually(t, quarantined(c, "runner-b"), "a quarantine reaches hub C through another member")
	requireReset(t, onC)
	eventually(t, func() bool {
		st := cst.Status(context.Background())
		return st.Connected && st.Server != member
	}, "hub C moved to another member")
	_, err = a.e.Release("runner-b", "")
	require.NoError(t, err)
	eventually(t, released(c, "runner-b"), "a release reaches hub C with one member down")

	// A hub started now rebuilds every binding from the cluster.
	d := newHubOn(t, external())
	binds := d.e.TokenBindings()
	require.Len(t, binds, 1)
	assert.Equal(t, "runner-a", binds[0].Identity)
}

// blockOnDrop is the policy every policed hub runs: a drop of severity 1
// blocks its source for 10 minutes.
var blockOnDrop = policy.Config{Block: policy.BlockConfig{OnAlert: []policy.AlertBlock{
	{On: policy.AlertMatch{Action: "drop", MinSeverity: 1}, BlockSourceFor: "10m"},
}}}

// newPolicedHub builds a hub with the enforce handler and the policy over
// member i's store, serving echo and HTTP from both client addresses.
func newPolicedHub(t *testing.T, f *clustertest.Fleet, i int) *policed {
	t.Helper()
	h := newPolicedShared(t, blockOnDrop, nil, nil, openShared(t, f, f.URL(i)))
	serve(t, h.n, echoAP, echo)
	addClientAddr(t, h.n, ClientAddr2)
	return h
}

func blocked(h *policed, a netip.Addr, origin string) func() bool {
	return func() bool { e, ok := h.p.Blocked(a); return ok && e.Origin == origin }
}

func TestClusterBlocksReachEveryHub(t *testing.T) {
	leakCheck(t)
	f := clustertest.Start(t, 3)
	a, c := newPolicedHub(t, f, 0), newPolicedHub(t, f, 2)

	// A rule consequence on hub A: the source's live flow through hub C
	// is reset and hub C refuses it; the other source is untouched.
	onC := openEcho(t, c.n, ClientAddr)
	conn, err := dialFrom(a.n, ClientAddr, httpAP, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte(httpGet("/../../etc/passwd")))
	require.NoError(t, err)
	eventually(t, blocked(a, ClientAddr, policy.OriginRule), "the drop blocks its source on hub A")
	eventually(t, blocked(c, ClientAddr, policy.OriginRule), "the block reaches hub C")
	requireReset(t, onC)
	c.refused(t, ClientAddr)
	c.exchange(t, ClientAddr2, httpGet("/index.html"))
	inA, _ := a.p.Blocked(ClientAddr)
	inC, _ := c.p.Blocked(ClientAddr)
	assert.True(t, inA.Until.Equal(inC.Until), "hub C enforces hub A's entry as A made it")
	assert.Equal(t, 1.0, counter(t, c.reg, "interdict_policy_blocks_total", map[string]string{"origin": "rule"}))
	recs := interruptions(t, c.eve)
	require.NotEmpty(t, recs)
	assert.Equal(t, "block", recs[0].Interruption.Action)
	assert.Equal(t, ClientAddr.String(), recs[0].SrcIP)

	// ctl unblock on hub C frees the source on hub A.
	require.True(t, c.p.Unblock(netip.PrefixFrom(ClientAddr, 32)))
	eventually(t, func() bool { _, ok := a.p.Blocked(ClientAddr); return !ok }, "the unblock reaches hub A")
	a.exchange(t, ClientAddr, httpGet("/index.html"))
	assert.Equal(t, 1.0, counter(t, a.reg, "interdict_policy_unblocks_total", map[string]string{"cause": policy.CauseCluster}))

	// ctl block on hub C (the admin API) is enforced by hub A, and by a
	// hub started afterwards before it serves a flow.
	_, _, err = c.p.Block(netip.PrefixFrom(ClientAddr2, 32), time.Hour, "stolen runner")
	require.NoError(t, err)
	eventually(t, blocked(a, ClientAddr2, policy.OriginAPI), "the API block reaches hub A")
	a.refused(t, ClientAddr2)
	b := newPolicedHub(t, f, 1)
	e, ok := b.p.Blocked(ClientAddr2)
	require.True(t, ok, "a new hub loads the fleet's blocks before it admits flows")
	assert.Equal(t, "stolen runner", e.Reason)
	b.refused(t, ClientAddr2)
}

// pausingStore is a hub's shared store that holds back its next write of
// one key, once armed, until the test lets it go: the hub's decision is
// then taken and checked to be in force, but not yet written.
type pausingStore struct {
	*cluster.Store
	mu      sync.Mutex
	key     string // armed for this key of the interruptions bucket
	reached chan struct{}
	resume  chan struct{}
}

func (p *pausingStore) arm(key string) {
	p.mu.Lock()
	p.key, p.reached, p.resume = key, make(chan struct{}), make(chan struct{})
	p.mu.Unlock()
}

func (p *pausingStore) Put(bucket, key string, value []byte) error {
	p.mu.Lock()
	hold := bucket == "interruptions" && key == p.key
	if hold {
		p.key = "" // once
	}
	reached, resume := p.reached, p.resume
	p.mu.Unlock()
	if hold {
		close(reached)
		<-resume
	}
	return p.Store.Put(bucket, key, value)
}

// A decision on hub A and hub C's change of the same key, forced to meet:
// A's quarantine is decided (and checked in force) but not yet written
// when C's release reaches the bucket and A's watch. The watch must not
// apply the release in between (A would hold a release while the bucket
// took A's quarantine over it): it waits for A's write, which then meets
// the release as a conflict, and the rule keeps the quarantine on both
// hubs and in the bucket.
func TestClusterDecisionMeetsWatchOnOneKey(t *testing.T) {
	leakCheck(t)
	f := clustertest.Start(t, 3)
	ps := &pausingStore{Store: openShared(t, f, f.URL(0))}
	a, c := newHubOn(t, ps), newHub(t, f, 2)
	witness := openShared(t, f, f.URL(1)) // reads the bucket, writes nothing
	bucketReason := func() (string, bool) {
		b, err := witness.Get("interruptions", "runner-b")
		if err != nil {
			return "", false
		}
		var in identity.Interruption
		return in.Reason, json.Unmarshal(b, &in) == nil
	}

	_, err := a.e.Interrupt(identity.Request{Identity: "runner-b", Action: identity.ActionPause, For: time.Hour, Reason: "paused on A"})
	require.NoError(t, err)
	eventually(t, func() bool { in, ok := c.e.Get("runner-b"); return ok && in.Reason == "paused on A" }, "hub C holds A's pause")

	ps.arm("runner-b")
	done := make(chan error, 1)
	go func() {
		_, err := a.e.Interrupt(identity.Request{Identity: "runner-b", Action: identity.ActionQuarantine, For: time.Hour, Reason: "quarantined on A"})
		done <- err
	}()
	<-ps.reached
	_, err = c.e.Release("runner-b", "")
	require.NoError(t, err)
	eventually(t, func() bool {
		_, err := witness.Get("interruptions", "runner-b")
		return errors.Is(err, state.ErrNotFound)
	}, "the bucket takes C's release while A's decision waits")
	close(ps.resume)
	require.NoError(t, <-done)

	for name, h := range map[string]*identNet{"A": a, "C": c} {
		eventually(t, func() bool {
			in, ok := h.e.Get("runner-b")
			return ok && in.Action == identity.ActionQuarantine && in.Reason == "quarantined on A"
		}, "hub "+name+" enforces A's quarantine")
	}
	eventually(t, func() bool { r, ok := bucketReason(); return ok && r == "quarantined on A" }, "the bucket holds A's quarantine")
	requireNoConnect(t, a.n, ClientAddr2)
	requireNoConnect(t, c.n, ClientAddr2)
}

package admin

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// peerFake is a backend with peers: it keeps names and maps the backend
// errors the API turns into statuses.
type peerFake struct {
	fake
	peers map[string]PeerRequest
}

func (f *peerFake) IdentityStates() []IdentityState {
	var out []IdentityState
	for _, p := range f.peers {
		out = append(out, IdentityState{Name: p.Name, Key: p.PublicKey, Source: "wireguard", State: "active"})
	}
	return out
}

func (f *peerFake) Interrupt(InterruptRequest, time.Duration) ([]IdentityState, error) {
	return nil, nil
}
func (f *peerFake) Release(ReleaseRequest) ([]string, error) { return nil, nil }
func (f *peerFake) Tokens() []TokenBinding                   { return nil }
func (f *peerFake) Unbind(string) ([]TokenBinding, error)    { return nil, nil }

func (f *peerFake) Hub() (Hub, error) {
	return Hub{PublicKey: "hubkey", ListenPort: 51820, MTU: 1420}, nil
}

func (f *peerFake) AddPeer(_ context.Context, req PeerRequest) (PeerAdded, error) {
	if req.PublicKey == "" {
		return PeerAdded{}, fmt.Errorf("%w: no key", ErrInvalid)
	}
	if _, dup := f.peers[req.Name]; dup {
		return PeerAdded{}, fmt.Errorf("%w: exists", ErrConflict)
	}
	f.peers[req.Name] = req
	h, _ := f.Hub()
	return PeerAdded{Peer: IdentityState{Name: req.Name, Key: req.PublicKey, Prefixes: []string{"100.96.0.2/32"}}, Hub: h}, nil
}

func (f *peerFake) RemovePeer(_ context.Context, name string) (PeerRemoved, error) {
	if _, ok := f.peers[name]; !ok {
		return PeerRemoved{}, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	delete(f.peers, name)
	return PeerRemoved{Name: name, FlowsReset: 2}, nil
}

func TestPeerEndpoints(t *testing.T) {
	f := &peerFake{peers: map[string]PeerRequest{}}
	c, _ := startUnix(t, f)
	ctx := context.Background()

	added, err := c.AddPeer(ctx, PeerRequest{Name: "runner-1", PublicKey: "k1", Tags: []string{"ci"}})
	require.NoError(t, err)
	assert.Equal(t, "runner-1", added.Peer.Name)
	assert.Equal(t, 51820, added.Hub.ListenPort)

	_, err = c.AddPeer(ctx, PeerRequest{Name: "runner-1", PublicKey: "k2"})
	assert.True(t, IsStatus(err, http.StatusConflict), "a taken name is a conflict: %v", err)
	_, err = c.AddPeer(ctx, PeerRequest{Name: "runner-2"})
	assert.True(t, IsStatus(err, http.StatusBadRequest), "bad input is 400: %v", err)
	err = c.do(ctx, http.MethodPost, "/v1/peers", []byte(`{"name":"x","private_key":"nope"}`), nil)
	assert.True(t, IsStatus(err, http.StatusBadRequest), "unknown fields are refused: %v", err)

	ids, err := c.Identities(ctx)
	require.NoError(t, err)
	require.Len(t, ids, 1)
	assert.Equal(t, "k1", ids[0].Key)
	hub, err := c.Hub(ctx)
	require.NoError(t, err)
	assert.Equal(t, "hubkey", hub.PublicKey)

	rm, err := c.RemovePeer(ctx, "runner-1")
	require.NoError(t, err)
	assert.Equal(t, 2, rm.FlowsReset)
	_, err = c.RemovePeer(ctx, "runner-1")
	assert.True(t, IsStatus(err, http.StatusNotFound), "%v", err)
}

// A backend without peers has no peer endpoints.
func TestNoPeerEndpointsWithoutPeerBackend(t *testing.T) {
	c, _ := startUnix(t, &fake{blocks: nil})
	_, err := c.Hub(context.Background())
	assert.True(t, IsStatus(err, http.StatusNotFound), "%v", err)
}

package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
)

// Hub is GET /v1/hub: what a peer needs to reach the hub.
type Hub struct {
	PublicKey  string   `json:"public_key"`
	ListenPort int      `json:"listen_port"`
	Addresses  []string `json:"addresses,omitempty"`
	MTU        int      `json:"mtu"`
}

// PeerRequest is the body of POST /v1/peers. Without allowed IPs the hub
// takes the next free address of its pool (one per family).
type PeerRequest struct {
	Name       string   `json:"name"`
	PublicKey  string   `json:"public_key"`
	AllowedIPs []string `json:"allowed_ips,omitempty"`
	Tags       []string `json:"tags,omitempty"`
}

// PeerAdded is the answer to POST /v1/peers.
type PeerAdded struct {
	Peer IdentityState `json:"peer"`
	Hub  Hub           `json:"hub"`
}

// PeerRemoved is the answer to DELETE /v1/peers/{name}.
type PeerRemoved struct {
	Name       string `json:"name"`
	FlowsReset int    `json:"flows_reset"`
}

// PeerBackend is implemented by a backend that manages WireGuard peers
// (GET /v1/identities lists them with the other identities). Methods are
// called concurrently.
type PeerBackend interface {
	// Hub fails with ErrUnavailable outside WireGuard mode.
	Hub() (Hub, error)
	AddPeer(ctx context.Context, req PeerRequest) (PeerAdded, error)
	RemovePeer(ctx context.Context, name string) (PeerRemoved, error)
}

// Errors a PeerBackend wraps so the API answers with the right status
// (and ErrNotFound, 404).
var (
	ErrInvalid  = errors.New("invalid request") // 400
	ErrConflict = errors.New("conflict")        // 409
)

func registerPeers(mux *http.ServeMux, b PeerBackend, log *slog.Logger) {
	fail := func(w http.ResponseWriter, what string, err error) {
		status := http.StatusInternalServerError
		switch {
		case errors.Is(err, ErrInvalid):
			status = http.StatusBadRequest
		case errors.Is(err, ErrConflict):
			status = http.StatusConflict
		case errors.Is(err, ErrNotFound):
			status = http.StatusNotFound
		case errors.Is(err, ErrUnavailable):
			status = http.StatusServiceUnavailable
		}
		writeError(w, status, what+": "+err.Error())
	}
	mux.HandleFunc("GET /v1/hub", func(w http.ResponseWriter, r *http.Request) {
		h, err := b.Hub()
		if err != nil {
			fail(w, "hub", err)
			return
		}
		writeJSON(w, http.StatusOK, h)
	})
	mux.HandleFunc("POST /v1/peers", func(w http.ResponseWriter, r *http.Request) {
		var req PeerRequest
		dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, "add peer: body: "+err.Error())
			return
		}
		added, err := b.AddPeer(r.Context(), req)
		if err != nil {
			fail(w, "add peer "+req.Name, err)
			return
		}
		log.Info("admin: peer added", "name", added.Peer.Name, "key", added.Peer.Key, "allowed_ips", added.Peer.Prefixes, "tags", added.Peer.Tags)
		writeJSON(w, http.StatusOK, added)
	})
	mux.HandleFunc("DELETE /v1/peers/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		rm, err := b.RemovePeer(r.Context(), name)
		if err != nil {
			fail(w, "remove peer "+name, err)
			return
		}
		log.Info("admin: peer removed", "name", name, "flows_reset", rm.FlowsReset)
		writeJSON(w, http.StatusOK, rm)
	})
}

// Hub is GET /v1/hub.
func (c *Client) Hub(ctx context.Context) (h Hub, err error) {
	return h, c.do(ctx, http.MethodGet, "/v1/hub", nil, &h)
}

// AddPeer is POST /v1/peers.
func (c *Client) AddPeer(ctx context.Context, req PeerRequest) (a PeerAdded, err error) {
	return a, c.do(ctx, http.MethodPost, "/v1/peers", req, &a)
}

// RemovePeer is DELETE /v1/peers/{name}.
func (c *Client) RemovePeer(ctx context.Context, name string) (r PeerRemoved, err error) {
	return r, c.do(ctx, http.MethodDelete, "/v1/peers/"+url.PathEscape(name), nil, &r)
}

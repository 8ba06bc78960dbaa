package admin

import (
	"net/http"
	"strings"
)

// Readiness is implemented by a Backend that can tell whether it serves
// traffic: nil when ready, else why not.
type Readiness interface {
	Ready() error
}

// Health paths: liveness (the process answers) and readiness (it serves
// traffic). They carry no data but a word, so they need no token: an
// orchestrator probes them without credentials.
const (
	HealthzPath = "/healthz"
	ReadyzPath  = "/readyz"
)

// RegisterHealth adds GET /healthz and GET /readyz to mux. /healthz
// answers 200 "ok" while the process serves HTTP; /readyz answers 200
// "ready" when ready() is nil, else 503 with the reason, so a load
// balancer stops sending traffic to an appliance that has no rules or is
// shutting down. A nil ready is always ready.
func RegisterHealth(mux *http.ServeMux, ready func() error) {
	mux.HandleFunc("GET "+HealthzPath, func(w http.ResponseWriter, r *http.Request) {
		plain(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET "+ReadyzPath, func(w http.ResponseWriter, r *http.Request) {
		if ready != nil {
			if err := ready(); err != nil {
				plain(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
				return
			}
		}
		plain(w, http.StatusOK, "ready")
	})
}

func plain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(strings.TrimSpace(msg) + "\n"))
}

// isHealth reports whether a request is a health probe, which the TCP
// listener serves without a token.
func isHealth(r *http.Request) bool {
	return r.Method == http.MethodGet && (r.URL.Path == HealthzPath || r.URL.Path == ReadyzPath)
}

package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// maxBody bounds a request body: the largest legitimate one is a block
// request of a few hundred bytes.
const maxBody = 64 << 10

// NewHandler returns the API's HTTP handler over b.
func NewHandler(b Backend, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	s := &server{b: b, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, b.Status()) })
	mux.HandleFunc("GET /v1/flows", func(w http.ResponseWriter, r *http.Request) {
		fl := b.Flows()
		if fl == nil {
			fl = []Flow{}
		}
		writeJSON(w, http.StatusOK, fl)
	})
	mux.HandleFunc("POST /v1/block", s.block)
	mux.HandleFunc("DELETE /v1/block/{prefix...}", s.unblock)
	mux.HandleFunc("GET /v1/blocks", func(w http.ResponseWriter, r *http.Request) {
		bl := b.Blocks()
		if bl == nil {
			bl = []Block{}
		}
		writeJSON(w, http.StatusOK, bl)
	})
	mux.HandleFunc("POST /v1/reload", s.reload)
	mux.HandleFunc("GET /v1/rules", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, b.Rules()) })
	if pb, ok := b.(PeerBackend); ok {
		registerPeers(mux, pb, log)
	}
	mux.HandleFunc("GET /v1/identities", s.identities)
	mux.HandleFunc("POST /v1/identities/interrupt", s.interrupt)
	mux.HandleFunc("POST /v1/identities/release", s.release)
	mux.HandleFunc("GET /v1/tokens", s.tokens)
	mux.HandleFunc("DELETE /v1/tokens/{prefix}", s.unbind)
	mux.HandleFunc("GET /v1/cluster", s.cluster)
	var ready func() error
	if rb, ok := b.(Readiness); ok {
		ready = rb.Ready
	}
	RegisterHealth(mux, ready)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path))
	})
	return mux
}

type server struct {
	b   Backend
	log *slog.Logger
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

type errorBody struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg, Status: status})
}

// backendError maps a Backend error onto a status.
func backendError(w http.ResponseWriter, what string, err error) {
	status := http.StatusInternalServerError
	if errors.Is(err, ErrUnavailable) {
		status = http.StatusServiceUnavailable
	}
	if errors.Is(err, ErrNotFound) {
		status = http.StatusNotFound
	}
	writeError(w, status, what+": "+err.Error())
}

// ParsePrefix accepts a prefix or a bare address (a /32 or /128), with
// '_' standing for '/' so a prefix fits a URL path segment.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.ReplaceAll(strings.TrimSpace(s), "_", "/")
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid prefix %q (want e.g. 10.0.0.0/24 or an address)", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid prefix %q (want e.g. 10.0.0.0/24 or an address)", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func (s *server) block(w http.ResponseWriter, r *http.Request) {
	var req BlockRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "block: body: "+err.Error())
		return
	}
	p, err := ParsePrefix(req.Prefix)
	if err != nil {
		writeError(w, http.StatusBadRequest, "block: "+err.Error())
		return
	}
	d := DefaultBlockDuration
	if req.Duration != "" {
		if d, err = time.ParseDuration(req.Duration); err != nil || d <= 0 || d > MaxBlockDuration {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("block: duration %q: want a positive duration up to %s (e.g. 10m)", req.Duration, MaxBlockDuration))
			return
		}
	}
	if len(req.Reason) > 512 {
		writeError(w, http.StatusBadRequest, "block: reason longer than 512 bytes")
		return
	}
	bl, err := s.b.Block(p, d, req.Reason)
	if err != nil {
		backendError(w, "block "+p.String(), err)
		return
	}
	s.log.Info("admin: source blocked", "prefix", p, "until", bl.Until, "reason", req.Reason, "flows_reset", bl.FlowsReset)
	writeJSON(w, http.StatusOK, bl)
}

func (s *server) unblock(w http.ResponseWriter, r *http.Request) {
	p, err := ParsePrefix(r.PathValue("prefix"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "unblock: "+err.Error())
		return
	}
	ok, err := s.b.Unblock(p)
	if err != nil {
		backendError(w, "unblock "+p.String(), err)
		return
	}
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unblock: %s is not blocked", p))
		return
	}
	s.log.Info("admin: source unblocked", "prefix", p)
	writeJSON(w, http.StatusOK, map[string]string{"unblocked": p.String()})
}

// decode reads a JSON body strictly into v; false after answering 400.
func decode(w http.ResponseWriter, r *http.Request, what string, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, what+": body: "+err.Error())
		return false
	}
	return true
}

func (s *server) identityBackend(w http.ResponseWriter) (IdentityBackend, bool) {
	ib, ok := s.b.(IdentityBackend)
	if !ok {
		writeError(w, http.StatusServiceUnavailable, "identities: not available in this appliance")
	}
	return ib, ok
}

func (s *server) identities(w http.ResponseWriter, r *http.Request) {
	ib, ok := s.identityBackend(w)
	if !ok {
		return
	}
	st := ib.IdentityStates()
	if st == nil {
		st = []IdentityState{}
	}
	writeJSON(w, http.StatusOK, st)
}

// oneTarget checks that a request names exactly one identity or tag.
func oneTarget(identity, tag string) error {
	if (identity == "") == (tag == "") {
		return errors.New("name exactly one of identity and tag")
	}
	return nil
}

func (s *server) interrupt(w http.ResponseWriter, r *http.Request) {
	ib, ok := s.identityBackend(w)
	if !ok {
		return
	}
	var req InterruptRequest
	if !decode(w, r, "interrupt", &req) {
		return
	}
	if err := oneTarget(req.Identity, req.Tag); err != nil {
		writeError(w, http.StatusBadRequest, "interrupt: "+err.Error())
		return
	}
	if req.Action != "pause" && req.Action != "quarantine" {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("interrupt: action %q: want pause or quarantine", req.Action))
		return
	}
	d := DefaultBlockDuration
	if req.Duration != "" {
		var err error
		if d, err = ParseDuration(req.Duration); err != nil || d > MaxBlockDuration {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("interrupt: duration %q: want a positive duration up to %s (e.g. 30m, 2h, 7d)", req.Duration, MaxBlockDuration))
			return
		}
	}
	if len(req.Reason) > 512 {
		writeError(w, http.StatusBadRequest, "interrupt: reason longer than 512 bytes")
		return
	}
	out, err := ib.Interrupt(req, d)
	if err != nil {
		backendError(w, req.Action, err)
		return
	}
	s.log.Info("admin: identity "+req.Action, "identity", req.Identity, "tag", req.Tag, "for", d, "reason", req.Reason, "identities", len(out))
	writeJSON(w, http.StatusOK, out)
}

func (s *server) release(w http.ResponseWriter, r *http.Request) {
	ib, ok := s.identityBackend(w)
	if !ok {
		return
	}
	var req ReleaseRequest
	if !decode(w, r, "release", &req) {
		return
	}
	if err := oneTarget(req.Identity, req.Tag); err != nil {
		writeError(w, http.StatusBadRequest, "release: "+err.Error())
		return
	}
	out, err := ib.Release(req)
	if err != nil {
		backendError(w, "release", err)
		return
	}
	if out == nil {
		out = []string{}
	}
	s.log.Info("admin: identity release", "identity", req.Identity, "tag", req.Tag, "released", out)
	writeJSON(w, http.StatusOK, Released{Released: out})
}

func (s *server) tokenBackend(w http.ResponseWriter) (TokenBackend, bool) {
	tb, ok := s.b.(TokenBackend)
	if !ok {
		writeError(w, http.StatusServiceUnavailable, "tokens: not available in this appliance")
	}
	return tb, ok
}

func (s *server) tokens(w http.ResponseWriter, r *http.Request) {
	tb, ok := s.tokenBackend(w)
	if !ok {
		return
	}
	out := tb.Tokens()
	if out == nil {
		out = []TokenBinding{}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) unbind(w http.ResponseWriter, r *http.Request) {
	tb, ok := s.tokenBackend(w)
	if !ok {
		return
	}
	prefix := r.PathValue("prefix")
	if len(prefix) < 8 || len(prefix) > 64 || strings.Trim(strings.ToLower(prefix), "0123456789abcdef") != "" {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("unbind: %q: want 8 to 64 hex digits of the token's SHA-256", prefix))
		return
	}
	out, err := tb.Unbind(prefix)
	if err != nil {
		backendError(w, "unbind", err)
		return
	}
	s.log.Info("admin: token unbound", "sha256_prefix", prefix, "bindings", len(out))
	writeJSON(w, http.StatusOK, out)
}

// ParseDuration is the operators' duration: a Go duration, or whole days
// with a "d" suffix ("7d").
func ParseDuration(v string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 {
			return 0, fmt.Errorf("invalid duration %q (e.g. 30m, 2h, 7d)", v)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("invalid duration %q (e.g. 30m, 2h, 7d)", v)
	}
	return d, nil
}

func (s *server) reload(w http.ResponseWriter, r *http.Request) {
	rules, err := s.b.Reload(r.Context())
	if err != nil {
		var ref Refusal
		if errors.As(err, &ref) {
			writeJSON(w, http.StatusConflict, ReloadRefused{Error: err.Error(), Status: http.StatusConflict, Reasons: ref.RefusalReasons()})
			return
		}
		backendError(w, "reload", err)
		return
	}
	writeJSON(w, http.StatusOK, rules)
}

// RequireToken wraps h so every request but the health probes must carry "Authorization:
// Bearer <token>". Both sides are hashed before the constant-time compare,
// so neither the content nor the length of the token leaks through
// timing.
func RequireToken(h http.Handler, token string) (http.Handler, error) {
	if len(token) == 0 {
		return nil, errors.New("admin: TCP listener without a token refused")
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isHealth(r) {
			h.ServeHTTP(w, r)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="interdict"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		h.ServeHTTP(w, r)
	}), nil
}

// ListenUnix listens on a unix socket at path with mode 0600, creating
// its directory (0750). A stale socket left by a crashed process is
// removed; a socket another process still serves is an error.
func ListenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("admin socket %s: exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("admin socket %s: another process is serving it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("admin socket %s: remove stale: %w", path, err)
		}
	}
	// The umask makes the socket 0600 from its creation: a chmod after
	// bind would leave a window in which others could connect.
	ln, err := listenUnixPrivate(path)
	if err != nil {
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	return ln, nil
}

// Server serves the API on its listeners until Shutdown.
type Server struct {
	srvs []*http.Server
	errc chan error
}

// NewServer returns a Server with no listener yet.
func NewServer() *Server { return &Server{errc: make(chan error, 1)} }

// Serve starts serving h on ln (a unix socket with NewHandler, a TCP
// listener with RequireToken around it).
func (s *Server) Serve(ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second}
	s.srvs = append(s.srvs, srv)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			select {
			case s.errc <- fmt.Errorf("admin %s: %w", ln.Addr(), err):
			default: // one error is enough to stop the appliance
			}
		}
	}()
}

// Err delivers the first serve error.
func (s *Server) Err() <-chan error { return s.errc }

// Shutdown stops every listener, waiting for requests in progress.
func (s *Server) Shutdown(ctx context.Context) error {
	var errs []error
	for _, srv := range s.srvs {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

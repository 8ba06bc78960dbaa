package identity

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2/hpack"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/netstack"
)

// TokensConfig is the "tokens" section: credentials seen in cleartext
// HTTP requests are hashed (SHA-256) and bound to identities.
type TokensConfig struct {
	// Enabled turns binding on: every cleartext HTTP request of an
	// identity is checked.
	Enabled bool `yaml:"enabled"`
	// Mode ips (default) rejects misuse; ids only records would-deny.
	Mode string `yaml:"mode"`
	// TOFU binds a token to the first identity that uses it (default
	// true when enabled; false: only static bindings hold).
	TOFU *bool `yaml:"tofu"`
	// Headers are more header names carrying a credential, beside
	// Authorization (Bearer, Basic, token), X-Api-Key, Private-Token and
	// X-Auth-Token.
	Headers []string `yaml:"headers"`
	// Static bindings: a token's SHA-256 (hex) may be used only by these
	// identities and tags.
	Static []StaticToken `yaml:"static"`
}

// StaticToken is a configured binding.
type StaticToken struct {
	// SHA256 is the token's hash in hex (sha256sum of the token).
	SHA256 string `yaml:"sha256"`
	// Identities that may use the token.
	Identities []string `yaml:"identities"`
	// Tags whose identities may use the token.
	Tags []string `yaml:"tags"`
}

type tokenSettings struct {
	enforcing bool
	tofu      bool
	headers   []string // lower case, with the colon: "x-api-key:"
	static    map[[32]byte]StaticToken
}

var defaultTokenHeaders = []string{"authorization", "x-api-key", "private-token", "x-auth-token"}

func compileTokens(c TokensConfig, known func(string) bool) (*tokenSettings, error) {
	if !c.Enabled {
		if len(c.Static) > 0 || len(c.Headers) > 0 {
			return nil, cfgErr("tokens.enabled", "static bindings or headers are set but tokens are not enabled")
		}
		return nil, nil
	}
	s := &tokenSettings{enforcing: true, tofu: c.TOFU == nil || *c.TOFU, static: map[[32]byte]StaticToken{}}
	switch c.Mode {
	case "", "ips":
	case "ids":
		s.enforcing = false
	default:
		return nil, cfgErr("tokens.mode", "%q: want ips or ids", c.Mode)
	}
	for _, h := range append(slices.Clone(defaultTokenHeaders), c.Headers...) {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" || strings.ContainsAny(h, ": \t") {
			return nil, cfgErr("tokens.headers", "invalid header name %q", h)
		}
		s.headers = append(s.headers, h+":")
	}
	for i, st := range c.Static {
		key := fmt.Sprintf("tokens.static[%d]", i)
		b, err := hex.DecodeString(st.SHA256)
		if err != nil || len(b) != sha256.Size {
			return nil, cfgErr(key+".sha256", "want 64 hex digits (sha256sum of the token)")
		}
		for j, n := range st.Identities {
			if known != nil && !known(n) {
				return nil, cfgErr(fmt.Sprintf("%s.identities[%d]", key, j), "unknown identity %q", n)
			}
		}
		if len(st.Identities)+len(st.Tags) == 0 {
			return nil, cfgErr(key, "name the identities or tags that may use the token")
		}
		s.static[[32]byte(b)] = st
	}
	return s, nil
}

// TokenBinding is a token bound to an identity, as the API shows it: never
// the token, only its hash prefix and its first 4 characters.
type TokenBinding struct {
	// Hash is the full SHA-256 in hex (the state key; a hash is no
	// secret), HashPrefix its first 12 digits.
	Hash       string    `json:"sha256"`
	HashPrefix string    `json:"sha256_prefix"`
	Lead       string    `json:"lead,omitempty"` // the token's first 4 characters
	Identity   string    `json:"identity,omitempty"`
	Identities []string  `json:"identities,omitempty"` // static
	Tags       []string  `json:"tags,omitempty"`       // static
	Source     string    `json:"source"`               // tofu or static
	FirstSeen  time.Time `json:"first_seen,omitzero"`
}

const bucketTokens = "tokens"

// tokenStore keeps the trust-on-first-use bindings.
type tokenStore struct {
	mu sync.Mutex
	m  map[[32]byte]TokenBinding
}

// CheckTokens validates a tokens section; the error is a *ConfigError.
func CheckTokens(c TokensConfig, known func(string) bool) error {
	_, err := compileTokens(c, known)
	return err
}

// SetTokens compiles and installs the token settings; on an error the
// running ones stay.
func (e *Engine) SetTokens(c TokensConfig, known func(string) bool) error {
	s, err := compileTokens(c, known)
	if err != nil {
		return err
	}
	e.toks.Store(s)
	return nil
}

func (e *Engine) loadTokens() error {
	e.tokens.m = map[[32]byte]TokenBinding{}
	if e.store == nil {
		return nil
	}
	keys, err := e.store.Keys(bucketTokens)
	if err != nil {
		return fmt.Errorf("identity: load token bindings: %w", err)
	}
	for _, k := range keys {
		b, err := e.store.Get(bucketTokens, k)
		if err != nil {
			return fmt.Errorf("identity: load token binding: %w", err)
		}
		var tb TokenBinding
		h, herr := hex.DecodeString(k)
		if json.Unmarshal(b, &tb) != nil || herr != nil || len(h) != sha256.Size {
			continue
		}
		e.tokens.m[[32]byte(h)] = tb
	}
	return nil
}

// TokenBindings lists the static and first-use bindings.
func (e *Engine) TokenBindings() []TokenBinding {
	var out []TokenBinding
	if s := e.toks.Load(); s != nil {
		for h, st := range s.static {
			hx := hex.EncodeToString(h[:])
			out = append(out, TokenBinding{Hash: hx, HashPrefix: hx[:12], Identities: st.Identities, Tags: st.Tags, Source: "static"})
		}
	}
	e.tokens.mu.Lock()
	for _, tb := range e.tokens.m {
		out = append(out, tb)
	}
	e.tokens.mu.Unlock()
	slices.SortFunc(out, func(a, b TokenBinding) int { return strings.Compare(a.Hash, b.Hash) })
	return out
}

// Unbind removes the first-use bindings whose hash starts with prefix (at
// least 8 hex digits) and returns them.
func (e *Engine) Unbind(prefix string) ([]TokenBinding, error) {
	prefix = strings.ToLower(prefix)
	if len(prefix) < 8 {
		return nil, fmt.Errorf("hash prefix %q: give at least 8 hex digits", prefix)
	}
	var hashes []string
	e.tokens.mu.Lock()
	for _, tb := range e.tokens.m {
		if strings.HasPrefix(tb.Hash, prefix) {
			hashes = append(hashes, tb.Hash)
		}
	}
	e.tokens.mu.Unlock()
	// The unbinding and its write are one step for the shared store's
	// watch, as a first-use binding is.
	defer e.lockKeys(bucketTokens, hashes...)()
	var out []TokenBinding
	e.tokens.mu.Lock()
	for h, tb := range e.tokens.m {
		if slices.Contains(hashes, tb.Hash) { // one applied since is left
			delete(e.tokens.m, h)
			out = append(out, tb)
		}
	}
	e.tokens.mu.Unlock()
	for _, tb := range out {
		if e.store != nil {
			if err := e.store.Delete(bucketTokens, tb.Hash); err != nil {
				e.log.Error("identity: state: token binding not deleted", "sha256_prefix", tb.HashPrefix, "err", err)
			}
		}
		e.log.Info("identity: token unbound", "sha256_prefix", tb.HashPrefix, "identity", tb.Identity)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no first-use binding with hash prefix %q", ErrUnknown, prefix)
	}
	return out, nil
}

// credentials calls fn with each credential in a request head (lines
// end with CRLF or, as servers such as Go's accept, a bare LF).
func (s *tokenSettings) credentials(head []byte, fn func(tok []byte)) {
	for len(head) > 0 {
		var line []byte
		line, head, _ = bytes.Cut(head, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		for _, h := range s.headers {
			if len(line) <= len(h) || !bytes.EqualFold(line[:len(h)], []byte(h)) {
				continue
			}
			if v := credential(h, line[len(h):]); len(v) > 0 {
				fn(v)
			}
			break
		}
	}
}

// fieldCredentials calls fn with each credential in an HTTP/2 header
// block. HTTP/2 sends names in lower case; any case is read, as for
// HTTP/1.
func (s *tokenSettings) fieldCredentials(fields []hpack.HeaderField, fn func(tok []byte)) {
	for _, hf := range fields {
		for _, h := range s.headers {
			if len(hf.Name) != len(h)-1 || !strings.EqualFold(hf.Name, h[:len(h)-1]) {
				continue
			}
			if v := credential(h, []byte(hf.Value)); len(v) > 0 {
				fn(v)
			}
			break
		}
	}
}

// credential is the credential in the value v of header h ("name:").
func credential(h string, v []byte) []byte {
	v = bytes.TrimSpace(v)
	// Authorization: a scheme and the credential, separated by spaces
	// or tabs (servers that split on any whitespace take a tab), or a
	// bare credential, which some APIs accept.
	if i := bytes.IndexAny(v, " \t"); h == "authorization:" && i >= 0 {
		switch strings.ToLower(string(v[:i])) {
		case "bearer", "basic", "token":
			return bytes.TrimSpace(v[i:])
		default:
			return nil
		}
	}
	return v
}

// lead is what may be shown of a token: its first 4 characters when it
// is long enough that they give little away, else nothing.
func lead(tok []byte) string {
	if len(tok) < 16 {
		return ""
	}
	return string(tok[:4]) + "…"
}

// checkToken binds or checks one credential of id; it returns the
// identity the token is bound to when id may not use it ("" if it may).
func (e *Engine) checkToken(s *tokenSettings, id *Identity, tok []byte) (owner string, h [32]byte) {
	h = sha256.Sum256(tok)
	if st, ok := s.static[h]; ok {
		if slices.Contains(st.Identities, id.Name) || slices.ContainsFunc(st.Tags, id.HasTag) {
			return "", h
		}
		return "static binding", h
	}
	if !s.tofu {
		return "", h
	}
	e.tokens.mu.Lock()
	tb, ok := e.tokens.m[h]
	e.tokens.mu.Unlock()
	if !ok {
		// A first use: the binding and its write are one step for the
		// shared store's watch (a binding another hub made is applied
		// before or after, never in between).
		hx := hex.EncodeToString(h[:])
		defer e.lockKeys(bucketTokens, hx)()
		e.tokens.mu.Lock()
		if tb, ok = e.tokens.m[h]; !ok {
			tb = TokenBinding{Hash: hx, HashPrefix: hx[:12], Lead: lead(tok), Identity: id.Name, Source: "tofu", FirstSeen: e.clock.Now()}
			e.tokens.m[h] = tb
		}
		e.tokens.mu.Unlock()
	}
	if !ok {
		e.log.Info("identity: token bound on first use", "identity", id.Name, "sha256_prefix", tb.HashPrefix, "lead", tb.Lead)
		if e.store != nil {
			b, err := json.Marshal(tb)
			if err == nil {
				err = e.store.Put(bucketTokens, tb.Hash, b)
			}
			if err != nil {
				e.log.Error("identity: state: token binding not stored", "sha256_prefix", tb.HashPrefix, "err", err)
			}
		}
		return "", h
	}
	if tb.Identity == id.Name {
		return "", h
	}
	return tb.Identity, h
}

// tokenFlow checks the credentials of every HTTP request of a flow: the
// framer finds each request head, in a read of its own, pipelined behind
// another or behind a body; a head split over reads is held until it is
// whole. HTTP/2 in cleartext (the preface as the first bytes, or after
// an "Upgrade: h2c" the server accepted) is parsed and each request
// header block checked; the read that completes a block with a misused
// token is refused, so the server never gets the whole block. A flow
// whose first bytes are neither (TLS, SSH) carries no credentials this
// check can read and is left alone.
type tokenFlow struct {
	wrapped
	s *tokenSettings

	mu   sync.Mutex // the framer: the two directions call concurrently
	reqs reqFramer
	h2   *h2Reqs // made once the flow speaks HTTP/2
}

// Chunk implements netstack.FlowHandler.
func (f *tokenFlow) Chunk(dir netstack.Direction, b []byte) netstack.Verdict {
	f.mu.Lock()
	if dir != netstack.ToServer {
		fromServer(&f.reqs, &f.h2, b)
		f.mu.Unlock()
		return f.next(dir, b)
	}
	if f.h2 != nil {
		// Bytes held as the start of a request when the 101 came are
		// the start of the client's HTTP/2, as the server reads them.
		fwd := f.reqs.release(b)
		v := f.h2Check(fwd)
		f.mu.Unlock()
		if v.Terminal() {
			return v
		}
		return f.next(dir, fwd)
	}
	res := f.reqs.feed(b, func(h *reqHead) bool {
		return f.use(func(fn func([]byte)) { f.s.credentials(h.raw, fn) })
	})
	var fwd []byte
	switch {
	case res == frameMore:
		f.reqs.hold(b)
		f.mu.Unlock()
		return netstack.Hold
	case res == frameStop:
		f.mu.Unlock()
		return netstack.Reject
	case res == frameBad:
		// A request this check cannot read where one must start: fail
		// closed (ids: the rest of the flow goes unchecked).
		f.reqs.st = frOpaque
		fwd = f.reqs.release(b)
		if f.s.enforcing {
			f.mu.Unlock()
			return netstack.Reject
		}
	case res == frameOpaque && f.reqs.h2:
		// HTTP/2 with prior knowledge: every byte of the flow so far,
		// the preface first, goes to the parser.
		fwd = f.reqs.release(b)
		f.h2 = newH2Reqs()
		if v := f.h2Check(fwd); v.Terminal() {
			f.mu.Unlock()
			return v
		}
	default:
		fwd = f.reqs.release(b)
	}
	f.mu.Unlock()
	return f.next(dir, fwd)
}

// h2Check checks the request header blocks b completes; f.mu is held.
// HTTP/2 that does not parse fails closed, as HTTP/1 framing this check
// cannot read does (ids: the rest of the flow goes unchecked).
func (f *tokenFlow) h2Check(b []byte) netstack.Verdict {
	switch f.h2.feed(inspect.ToServer, b, func(fields []hpack.HeaderField) bool {
		return f.use(func(fn func([]byte)) { f.s.fieldCredentials(fields, fn) })
	}) {
	case frameStop:
		return netstack.Reject
	case frameBad:
		if f.s.enforcing {
			return netstack.Reject
		}
	}
	return netstack.Continue
}

// use checks the credentials creds yields, binding on first use; false
// when one is bound to another identity and the request is refused.
func (f *tokenFlow) use(creds func(fn func(tok []byte))) bool {
	ok := true
	creds(func(tok []byte) {
		if !ok {
			return
		}
		if owner, hash := f.e.checkToken(f.s, f.id, tok); owner != "" && f.e.tokenMisuse(f.s, f.id, f.info, owner, hash, lead(tok)) {
			ok = false
		}
	})
	return ok
}

// tokenMisuse records the use of a token bound to another identity: log,
// EVE (event_type policy, policy "tokens"), metric, trigger. It reports
// whether the request must be rejected.
func (e *Engine) tokenMisuse(s *tokenSettings, id *Identity, info *netstack.FlowInfo, owner string, h [32]byte, lead string) bool {
	action := "deny"
	if !s.enforcing {
		action = "would-deny"
	}
	hx := hex.EncodeToString(h[:6])
	e.m.tokenMisuse.WithLabelValues(action).Inc()
	e.log.Warn("identity: token bound to another identity", "identity", id.Name, "bound_to", owner, "sha256_prefix", hx, "lead", lead, "action", action, "flow", info.ID)
	meta := inspect.FlowMeta{ID: info.ID, Proto: inspect.Proto(info.Proto), Src: info.Src, Dst: info.Dst, Identity: id, Start: info.Start}
	ev := eve.Base(e.clock.Now(), eve.TypePolicy, &meta, inspect.ToServer)
	ev.InIface = info.NIC
	ev.Policy = &eve.Policy{Action: action, Policy: "tokens", Entry: "binding", Token: strings.TrimSpace("sha256:" + hx + " " + lead),
		Reason: "token bound to " + owner}
	e.emit(&ev)
	e.countTrigger(kindToken, id, info)
	return s.enforcing
}

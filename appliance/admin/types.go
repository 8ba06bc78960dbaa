package admin

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Status is GET /v1/status.
type Status struct {
	Version        string    `json:"version"`
	Started        time.Time `json:"started"`
	UptimeSeconds  float64   `json:"uptime_seconds"`
	Mode           string    `json:"mode"`
	Handler        string    `json:"handler"`
	RulesLoaded    int       `json:"rules_loaded"`
	RulesRejected  int       `json:"rules_rejected"`
	RuleGeneration int       `json:"rule_generation"`
	FlowsActive    int       `json:"flows_active"`
	BlockedSources int       `json:"blocked_sources"`
}

// Flow is one live flow of GET /v1/flows.
type Flow struct {
	ID       uint64 `json:"id"`
	Proto    string `json:"proto"`
	Src      string `json:"src"`
	Dst      string `json:"dst"`
	Identity string `json:"identity,omitempty"`
	// IdentityKey is the identity's WireGuard public key (a peer's).
	IdentityKey   string  `json:"identity_key,omitempty"`
	BytesToServer uint64  `json:"bytes_to_server"`
	BytesToClient uint64  `json:"bytes_to_client"`
	Verdict       string  `json:"verdict"`
	AgeSeconds    float64 `json:"age_seconds"`
	IdleSeconds   float64 `json:"idle_seconds"`
}

// BlockRequest is the body of POST /v1/block. Duration is a Go duration
// ("10m", "2h"); empty is DefaultBlockDuration.
type BlockRequest struct {
	Prefix   string `json:"prefix"`
	Duration string `json:"duration,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// Block is one block-list entry.
type Block struct {
	Prefix string `json:"prefix"`
	// Until is when the block expires; the zero time (static entries
	// without "for") means never.
	Until   time.Time `json:"until"`
	Reason  string    `json:"reason,omitempty"`
	Created time.Time `json:"created,omitempty"`
	// Origin is who added the entry: static (config), api, rule (an
	// alert's consequence).
	Origin string `json:"origin,omitempty"`
	// FlowsReset is set in the answer to a block: live flows of the
	// prefix that were reset.
	FlowsReset int `json:"flows_reset,omitempty"`
}

// RejectedRule is a rule the engine does not run.
type RejectedRule struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	SID    int    `json:"sid,omitempty"`
	Reason string `json:"reason"`
}

// RuleFile counts one rule file.
type RuleFile struct {
	File     string `json:"file"`
	Parsed   int    `json:"parsed"`
	Rejected int    `json:"rejected"`
}

// Rules is GET /v1/rules and the answer of POST /v1/reload.
type Rules struct {
	Generation      int            `json:"generation"`
	LoadedAt        time.Time      `json:"loaded_at"`
	Loaded          int            `json:"loaded"`
	RejectedCount   int            `json:"rejected_count"`
	Rejected        []RejectedRule `json:"rejected,omitempty"`
	Files           []RuleFile     `json:"files,omitempty"`
	LastReload      *time.Time     `json:"last_reload,omitempty"`
	LastReloadError string         `json:"last_reload_error,omitempty"`
}

// ReloadRefused is the body of a refused reload (409).
type ReloadRefused struct {
	Error   string   `json:"error"`
	Status  int      `json:"status"`
	Reasons []string `json:"reasons"`
}

// Backend is what the API controls. Methods are called concurrently.
type Backend interface {
	Status() Status
	Flows() []Flow
	// Block adds p to the block list for d and resets its live flows.
	Block(p netip.Prefix, d time.Duration, reason string) (Block, error)
	// Unblock removes p; false if it was not blocked.
	Unblock(p netip.Prefix) (bool, error)
	Blocks() []Block
	// Reload recompiles the rules. A refusal is an error that implements
	// Refusal; others are internal errors.
	Reload(ctx context.Context) (Rules, error)
	Rules() Rules
}

// Refusal is implemented by errors that mean "your input was refused"
// (a reload with broken rules): the API answers 409 with the reasons.
type Refusal interface {
	error
	RefusalReasons() []string
}

// ErrUnavailable is wrapped by Backend errors for features the running
// configuration lacks (reload with a test handler, blocks without a
// stack); the API answers 503.
var ErrUnavailable = errors.New("not available")

// Limits of a block.
const (
	DefaultBlockDuration = time.Hour
	MaxBlockDuration     = 30 * 24 * time.Hour
)

// APIError is an error answer of the API, as the client sees it.
type APIError struct {
	Status  int
	Message string
	Reasons []string
}

func (e *APIError) Error() string { return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status) }

// IdentityBackend is implemented by a Backend that pauses, quarantines
// and releases identities; without it the identity endpoints answer 503.
type IdentityBackend interface {
	IdentityStates() []IdentityState
	// Interrupt pauses or quarantines an identity or every identity of
	// a tag. An unknown identity or tag is an error wrapping
	// ErrNotFound.
	Interrupt(req InterruptRequest, d time.Duration) ([]IdentityState, error)
	// Release ends the interruptions of an identity or a tag and returns
	// the identities released.
	Release(req ReleaseRequest) ([]string, error)
}

// TokenBackend is implemented by a Backend that binds tokens to
// identities; without it the token endpoints answer 503.
type TokenBackend interface {
	Tokens() []TokenBinding
	// Unbind removes the first-use bindings whose hash starts with
	// prefix; none is an error wrapping ErrNotFound.
	Unbind(prefix string) ([]TokenBinding, error)
}

// TokenBinding is one binding of GET /v1/tokens: a token is shown only
// by its SHA-256 and at most its first 4 characters.
type TokenBinding struct {
	SHA256       string    `json:"sha256"`
	SHA256Prefix string    `json:"sha256_prefix"`
	Lead         string    `json:"lead,omitempty"`
	Identity     string    `json:"identity,omitempty"`
	Identities   []string  `json:"identities,omitempty"`
	Tags         []string  `json:"tags,omitempty"`
	Source       string    `json:"source"` // tofu or static
	FirstSeen    time.Time `json:"first_seen,omitzero"`
}

// ErrNotFound is wrapped by Backend errors about a name that does not
// exist (an identity, a tag); the API answers 404.
var ErrNotFound = errors.New("not found")

// IdentityState is one identity of GET /v1/identities.
type IdentityState struct {
	Name string   `json:"name"`
	Key  string   `json:"key,omitempty"`
	Tags []string `json:"tags,omitempty"`
	// State is active, paused or quarantined.
	State string `json:"state"`
	// Until is when an interruption ends (absent: none, or until
	// released).
	Until            *time.Time `json:"until,omitempty"`
	RemainingSeconds float64    `json:"remaining_seconds,omitempty"`
	Trigger          string     `json:"trigger,omitempty"`
	Reason           string     `json:"reason,omitempty"`
	// LastTrigger is the last trigger that fired for the identity (ids
	// mode included).
	LastTrigger string `json:"last_trigger,omitempty"`
	Flows       int    `json:"flows"`
	// Source is where the identity comes from: config (a prefix),
	// wireguard-config (a peer in the config file), wireguard (a peer
	// added at runtime).
	Source string `json:"source,omitempty"`
	// Prefixes are its source prefixes (a peer's allowed IPs).
	Prefixes []string `json:"prefixes,omitempty"`
	// Mode is the inspection mode its flows get (ips or ids).
	Mode string `json:"mode,omitempty"`
	// A WireGuard peer's endpoint, last handshake and traffic, as the
	// device reports them.
	Endpoint      string     `json:"endpoint,omitempty"`
	LastHandshake *time.Time `json:"last_handshake,omitempty"`
	RxBytes       uint64     `json:"rx_bytes,omitempty"`
	TxBytes       uint64     `json:"tx_bytes,omitempty"`
}

// InterruptRequest is the body of POST /v1/identities/interrupt: exactly
// one of Identity and Tag; Action pause or quarantine; Duration a Go
// duration or days ("7d"), empty DefaultBlockDuration.
type InterruptRequest struct {
	Identity string `json:"identity,omitempty"`
	Tag      string `json:"tag,omitempty"`
	Action   string `json:"action"`
	Duration string `json:"duration,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// ReleaseRequest is the body of POST /v1/identities/release.
type ReleaseRequest struct {
	Identity string `json:"identity,omitempty"`
	Tag      string `json:"tag,omitempty"`
}

// Released is the answer of a release.
type Released struct {
	Released []string `json:"released"`
}

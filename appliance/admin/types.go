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

package policy

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/interdict/interdict/inspect/eve"
)

// Event is the EVE-shaped record of a block-list change: event_type
// "interruption" with an interruption object. eve.Event has no such
// object yet, so these records go to their own Sink (see doc.go).
type Event struct {
	Timestamp    eve.Time      `json:"timestamp"`
	EventType    string        `json:"event_type"` // always "interruption"
	FlowID       uint64        `json:"flow_id,omitempty"`
	SrcIP        string        `json:"src_ip,omitempty"`
	Identity     *eve.Identity `json:"identity,omitempty"`
	Interruption *Interruption `json:"interruption"`
}

// Interruption says what changed on the block list and why.
type Interruption struct {
	Action string `json:"action"` // block, unblock, would-block (ids mode)
	Prefix string `json:"prefix"`
	Origin string `json:"origin"` // static, api, rule
	Reason string `json:"reason"`
	// Until is when the block expires; absent for no expiry and for
	// unblocks.
	Until *eve.Time `json:"until,omitempty"`
	// Cause of an unblock: expired or api.
	Cause string `json:"cause,omitempty"`
	// SignatureID is the rule whose alert caused a rule block.
	SignatureID uint32 `json:"signature_id,omitempty"`
}

// Sink receives block-list records. It is called from many goroutines.
type Sink interface {
	WriteEvent(ev *Event) error
}

// JSONLines writes each record as one JSON line with one Write call.
func JSONLines(w io.Writer) Sink { return &jsonLines{w: w} }

type jsonLines struct {
	mu sync.Mutex
	w  io.Writer
}

func (j *jsonLines) WriteEvent(ev *Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("policy: encode %s event: %w", ev.EventType, err)
	}
	b = append(b, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.w.Write(b); err != nil {
		return fmt.Errorf("policy: write event: %w", err)
	}
	return nil
}

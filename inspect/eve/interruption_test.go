package eve

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Interruption records share the EVE file with alerts and flows; a reader
// keys on event_type and finds the block-list change in "interruption".
func TestInterruptionEvent(t *testing.T) {
	until := Time{testTS.Add(10 * time.Minute)}
	tests := []struct {
		name string
		in   Interruption
		want map[string]any
	}{
		{"rule block", Interruption{Action: "block", Prefix: "10.0.0.2/32", Origin: "rule", Reason: "alert with action drop", Until: &until, SignatureID: 2001},
			map[string]any{"action": "block", "prefix": "10.0.0.2/32", "origin": "rule", "reason": "alert with action drop",
				"until": until.Format(TimeFormat), "signature_id": 2001.0}},
		{"expiry", Interruption{Action: "unblock", Prefix: "10.0.0.0/24", Origin: "api", Reason: "scan", Cause: "expired"},
			map[string]any{"action": "unblock", "prefix": "10.0.0.0/24", "origin": "api", "reason": "scan", "cause": "expired"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			_, m := encode(t, Event{Timestamp: Time{testTS}, EventType: TypeInterruption, SrcIP: "10.0.0.2", Interruption: &in})
			assert.Equal(t, "interruption", m["event_type"])
			assert.Equal(t, tc.want, m["interruption"])
			assert.NotContains(t, m, "alert")
		})
	}
}

package appliance

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect/eve"
)

// clTE is a request smuggling attempt: Content-Length and
// Transfer-Encoding both frame the body, and a server and the inspector
// may disagree where the next request starts.
const clTE = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"

// TestPolicyProtocolValidation: the policy section of the config decides
// what an HTTP anomaly does. Configured to reject, the CL+TE request is
// answered with a reset and never reaches the server; without the
// setting at alert it is forwarded (the anomaly is only logged).
func TestPolicyProtocolValidation(t *testing.T) {
	tests := []struct {
		name      string
		config    string
		forwarded bool
	}{
		{"reject", "policy:\n  protocol:\n    anomalies:\n      REQUEST_CONTENT_LENGTH_AND_TRANSFER_ENCODING: reject\n", false},
		// A config file is laid over the embedded default, which rejects
		// request smuggling framing.
		{"default-config", "", false},
		{"alert-only", "policy:\n  protocol:\n    anomalies:\n      REQUEST_CONTENT_LENGTH_AND_TRANSFER_ENCODING: alert\n", true},
	}
	// The fixture's server answers "ok:..." rather than HTTP, which the
	// default policy rejects as an HTTP/0.9-style answer to an HTTP/1.1
	// request; this test is about the request side.
	const echoServer = "policy:\n  protocol:\n    anomalies:\n      RESPONSE_INVALID_PROTOCOL: alert\n"
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := echoServer
			if tc.config != "" {
				cfg = tc.config + "      RESPONSE_INVALID_PROTOCOL: alert\n"
			}
			fx := newFixture(t, cfg)
			out, err := fx.exchange(t, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			require.NoError(t, err, "a well-formed request passes")
			assert.Contains(t, out, "ok:GET /")

			_, err = fx.exchange(t, clTE)
			drops := 0
			for _, ev := range fx.events(t) {
				if ev.EventType == eve.TypeDrop && ev.Drop.Reason == "protocol REQUEST_CONTENT_LENGTH_AND_TRANSFER_ENCODING" {
					drops++
					assert.Equal(t, "http", ev.AppProto)
					assert.Equal(t, "10.0.0.2", ev.SrcIP)
				}
			}
			if tc.forwarded {
				require.NoError(t, err)
				assert.Contains(t, fx.received.all(), "POST /upload")
				assert.Zero(t, drops)
				return
			}
			require.Error(t, err)
			assert.False(t, isTimeout(err), "reject resets the client: %v", err)
			assert.NotContains(t, fx.received.all(), "POST /upload", "the request never reached the server")
			assert.Equal(t, 1, drops, "one EVE drop record names the anomaly")
		})
	}
}

// TestPolicyRuleConsequenceBlock: a drop of sid 1001 blocks its source
// (block.on_alert); the source's next flow is refused, and the block is
// listed with origin rule and recorded in EVE with the sid.
func TestPolicyRuleConsequenceBlock(t *testing.T) {
	fx := newFixture(t, "policy:\n  block:\n    on_alert:\n      - {on: {action: drop, sids: [1001]}, block_source_for: 10m, reason: test drop}\n")
	_, err := fx.exchange(t, "x ALERTME x")
	require.NoError(t, err, "an alert of another rule blocks nothing")
	assert.Empty(t, fx.a.Blocks())

	_, err = fx.exchange(t, "a DROPME b")
	require.Error(t, err)
	require.Eventually(t, func() bool { return len(fx.a.Blocks()) == 1 }, 5*time.Second, 10*time.Millisecond, "the drop blocks its source")
	b := fx.a.Blocks()[0]
	assert.Equal(t, "10.0.0.2/32", b.Prefix)
	assert.Equal(t, "rule", b.Origin)
	assert.Equal(t, "test drop", b.Reason)
	assert.WithinDuration(t, time.Now().Add(10*time.Minute), b.Until, 5*time.Second)

	fx.refused(t, "the next flow from the source is refused")
	assert.NotContains(t, fx.received.all(), "DROPME")

	var rec *eve.Event
	for _, ev := range fx.events(t) {
		if ev.EventType == eve.TypeInterruption {
			ev := ev
			rec = &ev
		}
	}
	require.NotNil(t, rec, "an interruption record in the main EVE file")
	assert.Equal(t, "block", rec.Interruption.Action)
	assert.Equal(t, "rule", rec.Interruption.Origin)
	assert.Equal(t, uint32(1001), rec.Interruption.SignatureID)
	assert.Equal(t, "10.0.0.2", rec.SrcIP)
	assert.NotZero(t, rec.FlowID, "names the flow whose alert caused it")
}

// TestPolicyStaticBlock: a static entry of the config is in the guard
// from the start and listed without expiry.
func TestPolicyStaticBlock(t *testing.T) {
	fx := newFixture(t, "policy:\n  block:\n    static:\n      - {prefix: 10.0.0.0/30, reason: config}\n")
	fx.refused(t, "a statically blocked source cannot connect")
	bl := fx.a.Blocks()
	require.Len(t, bl, 1)
	assert.Equal(t, "static", bl[0].Origin)
	assert.True(t, bl[0].Until.IsZero(), "no expiry")
}

// TestNewFailsCleanly: when the rules cannot load, New returns the error
// and releases what it had opened (the policy's sweeper, the EVE file).
func TestNewFailsCleanly(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(base+"rules:\n  default_pack: false\n  files: [missing.rules]\neve:\n  path: eve.json\nadmin:\n  socket: \"\"\nstate_dir: state\n"), 0o600))
	s, err := LoadConfig(cfg)
	require.NoError(t, err)
	before := runtime.NumGoroutine()
	a, err := New(s, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.Error(t, err)
	assert.Nil(t, a)
	assert.Contains(t, err.Error(), filepath.Join(dir, "missing.rules"))
	// Polled by hand: assert.Eventually runs its condition on a goroutine
	// of its own.
	for deadline := time.Now().Add(2 * time.Second); runtime.NumGoroutine() > before && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before, "the policy's sweeper stopped")
}

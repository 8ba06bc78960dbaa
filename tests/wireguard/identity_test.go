package wireguard

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/interdict/interdict/appliance/identity"
)

// The scene with WireGuard peers as identities: runner-b scans
// 50 ports and is quarantined; its open flow is reset and its new flows
// fail, while runner-a's 64 MiB upload goes on and arrives sha256-exact;
// releasing runner-b restores it at once.
func TestHubScanQuarantinesOnlyTheScanner(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
	srv := newServer(t)
	a := newRunner(t, "runner-a", "100.96.0.10")
	b := newRunner(t, "runner-b", "100.96.0.11")
	h, _ := startHubWith(t, t.TempDir(), `interruption:
  triggers:
    - {name: port-scan, tags: [ci], scan: {ports: 50}, window: 30s, action: quarantine, for: 10m}
`, "", a.peerYAML()+", "+b.peerYAML(), srv.addr())
	a.connect(t, h)
	b.connect(t, h)

	open, br := echoLine(t, b)
	// runner-a's upload: half of it before the quarantine, the rest after.
	up, err := a.dial(t, 9, 10*time.Second)
	require.NoError(t, err)
	defer up.Close()
	data := io.LimitReader(stream(42), transfer)
	want, _ := sum(io.LimitReader(stream(42), transfer))
	_, err = up.Write([]byte("U\n"))
	require.NoError(t, err)
	_, err = io.CopyN(up, data, transfer/2)
	require.NoError(t, err)

	// 49 more distinct ports (the open flow's is the first): the 50th
	// crosses the threshold.
	for p := uint16(1000); p < 1049; p++ {
		if c, err := b.dial(t, p, 2*time.Second); err == nil {
			c.Close()
		}
	}
	require.Eventually(t, func() bool {
		in, ok := h.a.Interruptions().Get("runner-b")
		return ok && in.Action == identity.ActionQuarantine
	}, 10*time.Second, 10*time.Millisecond, "runner-b is quarantined")
	_, ok := h.a.Interruptions().Get("runner-a")
	assert.False(t, ok, "runner-a is not interrupted")

	open.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = br.ReadString('\n')
	require.Error(t, err, "runner-b's open flow ends")
	assert.Contains(t, err.Error(), "reset", "with a reset")
	before := srv.count()
	_, err = b.dial(t, 80, 500*time.Millisecond)
	require.Error(t, err, "runner-b's new flow fails")
	assert.Equal(t, before, srv.count(), "and never reaches the server")

	_, err = io.Copy(up, data)
	require.NoError(t, err, "runner-a's upload goes on")
	require.NoError(t, up.(interface{ CloseWrite() error }).CloseWrite())
	up.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(up)
	require.NoError(t, err)
	assert.Equal(t, want, string(got), "runner-a's 64 MiB arrive sha256-exact")

	released, err := h.a.Interruptions().Release("runner-b", "")
	require.NoError(t, err)
	assert.Equal(t, []string{"runner-b"}, released)
	echoLine(t, b)
}

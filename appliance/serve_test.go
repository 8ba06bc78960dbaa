//go:build !windows

package appliance

import (
	"context"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/appliance/admin"
	"github.com/interdict/interdict/inspect/eve"
)

// serve runs the appliance's control loop (Serve, what Run runs over its
// TUN) until the test ends, and returns an admin client once the API
// answers; Serve installs its signal handlers before the API listens.
func (fx *fixture) serve(t *testing.T) *admin.Client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fx.a.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done)
	})
	cl := admin.NewUnixClient(fx.sock)
	require.Eventually(t, func() bool {
		select {
		case err := <-done:
			done <- err
			require.NoError(t, err, "Serve ended early")
		default:
		}
		_, err := cl.Status(ctx)
		return err == nil
	}, 5*time.Second, 10*time.Millisecond, "the admin API answers")
	return cl
}

// signalSelf sends sig to this process. The test's own handler makes sure
// a signal arriving outside Serve never kills the test binary.
func signalSelf(t *testing.T, sig syscall.Signal) {
	t.Helper()
	require.NoError(t, syscall.Kill(os.Getpid(), sig))
}

func ignoreStray(t *testing.T) {
	c := make(chan os.Signal, 8)
	signal.Notify(c, syscall.SIGHUP, syscall.SIGUSR2)
	t.Cleanup(func() { signal.Stop(c) })
}

// TestServeSignals sends real signals to the running control loop:
// SIGUSR2 reloads the rules (a new rule starts enforcing), SIGHUP reopens
// the EVE file after logrotate renamed it (new events land in the new
// file, earlier ones stay in the renamed one).
func TestServeSignals(t *testing.T) {
	ignoreStray(t)
	fx := newFixture(t, "")
	fx.serve(t)
	// Flows end (and write their flow event) asynchronously.
	idle := func() bool { return fx.net.Appliance.Flows().Len() == 0 }

	t.Run("SIGUSR2-reloads", func(t *testing.T) {
		out, err := fx.exchange(t, "x NEWBAD x")
		require.NoError(t, err, "no rule matches yet")
		assert.Equal(t, "ok:x NEWBAD x", out)

		require.NoError(t, os.WriteFile(fx.rules, []byte(testRules+
			`reject tcp any any -> any any (msg:"new"; flow:to_server; content:"NEWBAD"; sid:2001;)`+"\n"), 0o600))
		signalSelf(t, syscall.SIGUSR2)
		require.Eventually(t, func() bool { return fx.a.Detection().Stats().Generation == 2 }, 5*time.Second, 10*time.Millisecond,
			"SIGUSR2 reloads the rules")
		assert.Equal(t, 4, fx.a.Detection().Stats().Loaded)

		_, err = fx.exchange(t, "y NEWBAD y")
		require.Error(t, err, "the new rule enforces")
		assert.False(t, isTimeout(err), "reject resets: %v", err)
		assert.NotContains(t, fx.received.all(), "y NEWBAD y", "the rejected bytes never reached the server")
	})

	t.Run("SIGHUP-reopens-EVE", func(t *testing.T) {
		_, err := fx.exchange(t, "one ALERTME")
		require.NoError(t, err)
		require.Eventually(t, idle, 5*time.Second, 10*time.Millisecond)
		rotated := fx.eve + ".1"
		require.NoError(t, os.Rename(fx.eve, rotated))
		signalSelf(t, syscall.SIGHUP)
		require.Eventually(t, func() bool { _, err := os.Stat(fx.eve); return err == nil }, 5*time.Second, 10*time.Millisecond,
			"SIGHUP creates a new file at the configured path")

		_, err = fx.exchange(t, "two ALERTME")
		require.NoError(t, err)
		require.Eventually(t, idle, 5*time.Second, 10*time.Millisecond)

		old, err := os.ReadFile(rotated)
		require.NoError(t, err)
		flows := func(evs []eve.Event) (n int) {
			for _, ev := range evs {
				if ev.EventType == eve.TypeFlow {
					n++
				}
			}
			return n
		}
		newEvs := fx.events(t)
		require.NotEmpty(t, newEvs)
		alerts := 0
		for _, ev := range newEvs {
			if ev.EventType == eve.TypeAlert {
				alerts++
				assert.Equal(t, uint32(1003), ev.Alert.SignatureID)
			}
		}
		assert.Equal(t, 1, alerts, "the second flow's alert is in the new file")
		assert.Equal(t, 1, flows(newEvs), "and its flow event")
		assert.Equal(t, 1, strings.Count(string(old), `"signature_id":1003`), "the renamed file keeps the alert from before the rotation")
		assert.Contains(t, string(old), `"signature_id":2001`, "and the reload subtest's reject")
	})
}

// TestApplianceAdminBlockGoesThroughPolicy blocks over the admin API of
// the running appliance: the live flow is reset, the entry is listed with
// its origin, new flows are refused, EVE records the block and unblock.
func TestApplianceAdminBlockGoesThroughPolicy(t *testing.T) {
	fx := newFixture(t, "")
	cl := fx.serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	live := fx.liveFlow(t)
	buf := make([]byte, 64)

	b, err := cl.Block(ctx, admin.BlockRequest{Prefix: "10.0.0.0/24", Duration: "1m", Reason: "e2e"})
	require.NoError(t, err)
	assert.Equal(t, 1, b.FlowsReset)
	assert.Equal(t, "api", b.Origin)
	_ = live.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = live.Read(buf)
	require.Error(t, err)
	assert.False(t, isTimeout(err), "the live flow is reset: %v", err)

	bl, err := cl.Blocks(ctx)
	require.NoError(t, err)
	require.Len(t, bl, 1)
	assert.Equal(t, admin.Block{Prefix: "10.0.0.0/24", Until: bl[0].Until, Created: bl[0].Created, Reason: "e2e", Origin: "api"}, bl[0])
	assert.WithinDuration(t, time.Now().Add(time.Minute), bl[0].Until, 5*time.Second)
	st, err := cl.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, st.BlockedSources)

	fx.refused(t, "a blocked source cannot connect")

	require.NoError(t, cl.Unblock(ctx, "10.0.0.0/24"))
	out, err := fx.exchange(t, "after")
	require.NoError(t, err)
	assert.Equal(t, "ok:after", out)

	var recs []*eve.Interruption
	for _, ev := range fx.events(t) {
		if ev.EventType == eve.TypeInterruption {
			recs = append(recs, ev.Interruption)
		}
	}
	require.Len(t, recs, 2, "one EVE record per block-list change, in the main EVE file")
	assert.Equal(t, "block", recs[0].Action)
	assert.Equal(t, "api", recs[0].Origin)
	assert.Equal(t, "e2e", recs[0].Reason)
	assert.Equal(t, "10.0.0.0/24", recs[0].Prefix)
	require.NotNil(t, recs[0].Until)
	assert.Equal(t, "unblock", recs[1].Action)
	assert.Equal(t, "api", recs[1].Cause)
}

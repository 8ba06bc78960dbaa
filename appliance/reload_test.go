package appliance

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/tests/harness"
)

const brokenRule = `alert tcp any any -> any any (msg:"broken"; nosuchkeyword; sid:1999;)` + "\n"

func TestReload(t *testing.T) {
	fx := newFixture(t, "")
	d := fx.a.Detection()
	require.Equal(t, 1, d.Stats().Generation)

	t.Run("broken-file-refused", func(t *testing.T) {
		require.NoError(t, os.WriteFile(fx.rules, []byte(testRules+brokenRule), 0o600))
		_, err := fx.a.ReloadRules()
		require.Error(t, err)
		assert.True(t, IsReloadRefused(err))
		assert.Contains(t, err.Error(), fx.rules+":4: sid 1999:")
		st := d.Stats()
		assert.Equal(t, 1, st.Generation, "the running engine stays")
		assert.Equal(t, 3, st.Loaded)
		assert.Contains(t, st.LastReloadError, fx.rules+":4:")
		_, err = fx.exchange(t, "x REJECTME x")
		assert.Error(t, err, "the old rules keep enforcing")
	})
	t.Run("missing-file-refused", func(t *testing.T) {
		require.NoError(t, os.Remove(fx.rules))
		_, err := fx.a.ReloadRules()
		require.Error(t, err)
		assert.Contains(t, err.Error(), fx.rules)
		assert.Equal(t, 1, d.Stats().Generation)
	})
	t.Run("new-rules-swapped-in", func(t *testing.T) {
		require.NoError(t, os.WriteFile(fx.rules, []byte(`reject tcp any any -> any any (msg:"new"; flow:to_server; content:"NEWBAD"; sid:2001;)`+"\n"), 0o600))
		st, err := fx.a.ReloadRules()
		require.NoError(t, err)
		assert.Equal(t, 2, st.Generation)
		assert.Equal(t, 1, st.Loaded)
		_, err = fx.exchange(t, "x NEWBAD x")
		assert.Error(t, err, "the new rule enforces")
		out, err := fx.exchange(t, "x REJECTME x")
		require.NoError(t, err, "the old rule is gone")
		assert.Equal(t, "ok:x REJECTME x", out)
	})
	t.Run("allow-partial", func(t *testing.T) {
		fx := newFixture(t, "")
		fx.a.det.spec.AllowPartial = true
		require.NoError(t, os.WriteFile(fx.rules, []byte(testRules+brokenRule), 0o600))
		st, err := fx.a.ReloadRules()
		require.NoError(t, err)
		assert.Equal(t, 3, st.Loaded)
		require.Len(t, st.Rejected, 1)
		assert.Equal(t, 4, st.Rejected[0].Line)
	})
	t.Run("metrics", func(t *testing.T) {
		body := metricsText(t, fx.a)
		assert.Contains(t, body, `interdict_rules_reloads_total{result="failed"} 2`)
		assert.Contains(t, body, `interdict_rules_reloads_total{result="ok"} 1`)
		assert.Contains(t, body, "interdict_rules_loaded 1\n")
		assert.Contains(t, body, "interdict_rules_load_errors_total 1\n", "the broken reload's rejected rule")
	})
}

func TestEVEReopenAndStats(t *testing.T) {
	fx := newFixture(t, "")
	_, err := fx.exchange(t, "x ALERTME x")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return fx.net.Appliance.Flows().Len() == 0 }, 5*time.Second, 10*time.Millisecond,
		"the flow ended (its flow event is written)")
	rotated := fx.eve + ".1"
	require.NoError(t, os.Rename(fx.eve, rotated))
	require.NoError(t, fx.a.ReopenEVE())
	ev := fx.a.StatsEvent(time.Now())
	require.NoError(t, fx.a.events.Write(&ev))

	old, err := os.ReadFile(rotated)
	require.NoError(t, err)
	assert.Contains(t, string(old), `"signature_id":1003`)
	evs := fx.events(t)
	require.Len(t, evs, 1, "after reopen new events go to the new file")
	assert.Equal(t, eve.TypeStats, evs[0].EventType)
	st := evs[0].Stats
	assert.Equal(t, uint64(1), st.Detect.Alert)
	assert.Equal(t, uint64(1), st.Flow.TCP, "the ended flow")
	assert.NotZero(t, st.Decoder.Pkts)
}

func metricsText(t *testing.T, a *Appliance) string {
	t.Helper()
	mfs, err := a.Registry().Gather()
	require.NoError(t, err)
	var sb []byte
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := ""
			for i, l := range m.GetLabel() {
				if i > 0 {
					labels += ","
				}
				labels += fmt.Sprintf("%s=%q", l.GetName(), l.GetValue())
			}
			if labels != "" {
				labels = "{" + labels + "}"
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			sb = fmt.Appendf(sb, "%s%s %g\n", mf.GetName(), labels, v)
		}
	}
	return string(sb)
}

// TestReloadUnderLoad reloads the rules 20 times, half of them with a
// broken file, while 50 flows stream random bytes through the appliance
// to an echo server: no flow may break and every byte must come back
// unchanged; every broken reload is refused with its file:line.
func TestReloadUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 50 flows")
	}
	fx := newFixture(t, "")
	echo := netip.AddrPortFrom(harness.ServerAddr, 7)
	ln, err := fx.net.Listen(echo)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()

	const flows, reloads = 50, 20
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var live atomic.Int32
	errs := make(chan error, flows)
	sent := make([]int64, flows)
	for i := range flows {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			c, err := fx.net.Dial(ctx, echo)
			if err != nil {
				errs <- fmt.Errorf("flow %d: dial: %w", i, err)
				return
			}
			defer c.Close()
			live.Add(1)
			var out, in [sha256.Size]byte
			got := make(chan error, 1)
			go func() {
				h := sha256.New()
				_, err := io.Copy(h, c)
				copy(in[:], h.Sum(nil))
				got <- err
			}()
			h := sha256.New()
			chunk := make([]byte, 8<<10)
			// At least 256 KiB per flow, then until every reload is done,
			// so all flows are live across all reloads.
			for n := 0; ; n++ {
				select {
				case <-stop:
					if n >= 32 {
						goto done
					}
				default:
				}
				_, _ = rand.Read(chunk)
				h.Write(chunk)
				if _, err := c.Write(chunk); err != nil {
					errs <- fmt.Errorf("flow %d: write after %d chunks: %w", i, n, err)
					return
				}
				sent[i] += int64(len(chunk))
				time.Sleep(2 * time.Millisecond)
			}
		done:
			copy(out[:], h.Sum(nil))
			if err := c.CloseWrite(); err != nil {
				errs <- fmt.Errorf("flow %d: close write: %w", i, err)
				return
			}
			if err := <-got; err != nil {
				errs <- fmt.Errorf("flow %d: read echo: %w", i, err)
				return
			}
			if out != in {
				errs <- fmt.Errorf("flow %d: echo differs from the %d bytes sent (sha256)", i, sent[i])
			}
		}()
	}
	require.Eventually(t, func() bool { return live.Load() == flows }, 30*time.Second, 10*time.Millisecond, "all flows connected")

	good := testRules
	for r := range reloads {
		if r%2 == 1 {
			require.NoError(t, os.WriteFile(fx.rules, []byte(good+brokenRule), 0o600))
			_, err := fx.a.ReloadRules()
			require.Error(t, err, "reload %d", r)
			line := strings.Count(good, "\n") + 1
			assert.Contains(t, err.Error(), fmt.Sprintf("%s:%d: sid 1999: unsupported keyword nosuchkeyword", fx.rules, line), "reload %d", r)
			continue
		}
		good = testRules + fmt.Sprintf(`alert tcp any any -> any any (msg:"gen %d"; content:"GEN%dX"; sid:%d;)`+"\n", r, r, 3000+r)
		require.NoError(t, os.WriteFile(fx.rules, []byte(good), 0o600))
		_, err := fx.a.ReloadRules()
		require.NoError(t, err, "reload %d", r)
		require.Equal(t, int32(flows), live.Load())
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := fx.a.Detection().Stats()
	assert.Equal(t, 1+reloads/2, st.Generation)
	var total int64
	for _, n := range sent {
		total += n
	}
	t.Logf("%d flows, %d MiB echoed in total across %d reloads", flows, total>>20, reloads)
	body := metricsText(t, fx.a)
	assert.Contains(t, body, fmt.Sprintf(`interdict_rules_reloads_total{result="failed"} %d`, reloads/2))
	assert.Contains(t, body, fmt.Sprintf(`interdict_rules_reloads_total{result="ok"} %d`, reloads/2))
}

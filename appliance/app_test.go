package appliance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"

	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/tests/harness"
)

const testRules = `drop tcp any any -> any any (msg:"test drop"; flow:to_server; content:"DROPME"; classtype:bad-unknown; sid:1001; rev:2;)
reject tcp any any -> any any (msg:"test reject"; flow:to_server; content:"REJECTME"; classtype:bad-unknown; sid:1002; rev:1;)
alert tcp any any -> any any (msg:"test alert"; flow:to_server; content:"ALERTME"; classtype:bad-unknown; sid:1003; rev:1;)
`

// fixture is an appliance over the in-memory harness: client 10.0.0.2,
// server 10.99.0.1, rules and EVE in a temp dir.
type fixture struct {
	a        *Appliance
	net      *harness.Net
	dir      string
	rules    string
	eve      string
	sock     string // the admin socket; it listens only while Serve runs
	logs     *syncBuffer
	received *recorder
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newFixture(t *testing.T, extra string) *fixture {
	t.Helper()
	dir := t.TempDir()
	fx := &fixture{dir: dir, rules: filepath.Join(dir, "local.rules"), eve: filepath.Join(dir, "eve.json"),
		sock: filepath.Join(dir, "admin.sock"), logs: &syncBuffer{}}
	require.NoError(t, os.WriteFile(fx.rules, []byte(testRules), 0o600))
	cfgText := base + `rules:
  default_pack: false
  files: [local.rules]
eve:
  path: eve.json
admin:
  socket: admin.sock
state_dir: state
` + extra
	if !strings.Contains(extra, "metrics:") {
		// Not the default 127.0.0.1:9108: an appliance running on the
		// machine (make run) held it, and every fixture's Serve failed.
		cfgText += "metrics:\n  listen: \"\"\n"
	}
	cfgPath := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfgText), 0o600))
	s, err := LoadConfig(cfgPath)
	require.NoError(t, err)
	a, err := New(s, slog.New(slog.NewTextHandler(fx.logs, nil)))
	require.NoError(t, err, fx.logs.String())
	t.Cleanup(func() { a.Close() })
	fx.a = a
	fx.net = harness.New(t, a.StackOptions()...)
	require.NoError(t, a.Attach(fx.net.Appliance))
	fx.received = serve(t, fx.net)
	return fx
}

// recorder is a server that records every byte it receives per
// connection and answers "ok:" plus the bytes of each read.
type recorder struct {
	mu    sync.Mutex
	conns [][]byte
}

func (r *recorder) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(bytes.Join(r.conns, []byte("|")))
}

var serverAP = netip.AddrPortFrom(harness.ServerAddr, 80)

func serve(t *testing.T, n *harness.Net) *recorder {
	t.Helper()
	ln, err := n.Listen(serverAP)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	rec := &recorder{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			rec.mu.Lock()
			i := len(rec.conns)
			rec.conns = append(rec.conns, nil)
			rec.mu.Unlock()
			go func() {
				defer c.Close()
				buf := make([]byte, 64<<10)
				for {
					k, err := c.Read(buf)
					if k > 0 {
						rec.mu.Lock()
						rec.conns[i] = append(rec.conns[i], buf[:k]...)
						rec.mu.Unlock()
						if _, werr := c.Write(append([]byte("ok:"), buf[:k]...)); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return rec
}

// exchange sends msg on a new connection and returns the answer or the
// error the client saw.
func (fx *fixture) exchange(t *testing.T, msg string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := fx.net.Dial(ctx, serverAP)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		return "", err
	}
	buf := make([]byte, 4096)
	k, err := io.ReadAtLeast(c, buf, len("ok:")+len(msg))
	return string(buf[:k]), err
}

// liveFlow opens a flow that has exchanged one message, for tests that
// block its source while it is open.
func (fx *fixture) liveFlow(t *testing.T) *gonet.TCPConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := fx.net.Dial(ctx, serverAP)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	_, err = c.Write([]byte("hello"))
	require.NoError(t, err)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.ReadAtLeast(c, make([]byte, 64), len("ok:hello"))
	require.NoError(t, err)
	_ = c.SetReadDeadline(time.Time{})
	return c
}

// refused asserts that a new flow from the client does not connect: a
// blocked source's SYN is dropped, so the dial times out.
func (fx *fixture) refused(t *testing.T, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	c, err := fx.net.Dial(ctx, serverAP)
	if err == nil {
		c.Close()
	}
	assert.Error(t, err, msg)
}

func (fx *fixture) events(t *testing.T) []eve.Event {
	t.Helper()
	f, err := os.Open(fx.eve)
	require.NoError(t, err)
	defer f.Close()
	var out []eve.Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev eve.Event
		require.NoError(t, json.Unmarshal(sc.Bytes(), &ev), sc.Text())
		out = append(out, ev)
	}
	return out
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestApplianceEnforces(t *testing.T) {
	fx := newFixture(t, "")

	t.Run("benign", func(t *testing.T) {
		out, err := fx.exchange(t, "hello benign")
		require.NoError(t, err)
		assert.Equal(t, "ok:hello benign", out)
	})
	t.Run("alert-forwards", func(t *testing.T) {
		out, err := fx.exchange(t, "xx ALERTME xx")
		require.NoError(t, err)
		assert.Equal(t, "ok:xx ALERTME xx", out)
	})
	t.Run("drop-silence", func(t *testing.T) {
		_, err := fx.exchange(t, "a DROPME b")
		require.Error(t, err)
		assert.True(t, isTimeout(err), "a dropped flow's client sees silence: %v", err)
		assert.NotContains(t, fx.received.all(), "DROPME")
	})
	t.Run("reject-reset", func(t *testing.T) {
		_, err := fx.exchange(t, "a REJECTME b")
		require.Error(t, err)
		assert.False(t, isTimeout(err), "reject resets: %v", err)
		assert.NotContains(t, fx.received.all(), "REJECTME")
	})
	t.Run("eve", func(t *testing.T) {
		bySID := map[uint32]eve.Event{}
		drops := map[uint32]int{}
		for _, ev := range fx.events(t) {
			switch ev.EventType {
			case eve.TypeAlert:
				bySID[ev.Alert.SignatureID] = ev
			case eve.TypeDrop:
				drops[ev.Alert.SignatureID]++
			}
		}
		require.Contains(t, bySID, uint32(1001))
		al := bySID[1001]
		assert.Equal(t, "blocked", al.Alert.Action)
		assert.Equal(t, "test drop", al.Alert.Signature)
		assert.EqualValues(t, 2, al.Alert.Rev)
		assert.Equal(t, "10.0.0.2", al.SrcIP)
		assert.Equal(t, "10.99.0.1", al.DestIP)
		assert.Equal(t, uint16(80), al.DestPort)
		assert.Equal(t, "pipe0", al.InIface)
		assert.Equal(t, "allowed", bySID[1003].Alert.Action)
		assert.Equal(t, 1, drops[1001])
		assert.Equal(t, 1, drops[1002])
	})
	t.Run("metrics", func(t *testing.T) {
		m, err := testutil.GatherAndCount(fx.a.Registry(), "interdict_enforce_alerts_total")
		require.NoError(t, err)
		assert.Equal(t, 3, m, "one alerts series per sid")
		assert.Equal(t, 3.0, gauge(t, fx.a, "interdict_rules_loaded"))
	})
}

// gauge reads one unlabelled series from the registry.
func gauge(t *testing.T, a *Appliance, name string) float64 {
	t.Helper()
	mfs, err := a.Registry().Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

func TestBlockResetsAndExpires(t *testing.T) {
	fx := newFixture(t, "")
	live := fx.liveFlow(t)
	buf := make([]byte, 64)
	require.Len(t, fx.a.Flows(), 1)
	assert.Equal(t, "10.0.0.2", netip.MustParseAddrPort(fx.a.Flows()[0].Src).Addr().String())

	p := netip.MustParsePrefix("10.0.0.0/24")
	b, err := fx.a.Block(p, 500*time.Millisecond, "test")
	require.NoError(t, err)
	assert.Equal(t, 1, b.FlowsReset)
	_ = live.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = live.Read(buf)
	require.Error(t, err)
	assert.False(t, isTimeout(err), "the live flow is reset, not left hanging: %v", err)

	bl := fx.a.Blocks()
	require.Len(t, bl, 1)
	assert.Equal(t, "10.0.0.0/24", bl[0].Prefix)
	assert.Equal(t, "test", bl[0].Reason)
	assert.Equal(t, 1, fx.a.Status().BlockedSources)

	fx.refused(t, "a blocked source cannot connect")

	require.Eventually(t, func() bool { return len(fx.a.Blocks()) == 0 }, 3*time.Second, 20*time.Millisecond, "the block expires")
	out, err := fx.exchange(t, "after")
	require.NoError(t, err)
	assert.Equal(t, "ok:after", out)

	_, err = fx.a.Block(p, time.Minute, "again")
	require.NoError(t, err)
	ok, err := fx.a.Unblock(p)
	require.NoError(t, err)
	assert.True(t, ok)
	out, err = fx.exchange(t, "unblocked")
	require.NoError(t, err)
	assert.Equal(t, "ok:unblocked", out)
}

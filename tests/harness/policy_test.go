package harness

// End-to-end policy: appliance/policy wrapped around the handler in the
// appliance's data path, the packet guard and flow table attached, real
// client and server TCP stacks. Block expiry runs on a fake clock that
// the test advances; the bytes/s test uses the wall clock because the
// relay's waiting is what it measures.

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"github.com/interdict/interdict/appliance/enforce"
	"github.com/interdict/interdict/appliance/policy"
	"github.com/interdict/interdict/appliance/policy/policytest"
	"github.com/interdict/interdict/appliance/state"
	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/netstack"
)

// ClientAddr2 is a second client address, to show one source's block or
// limit does not touch another.
var ClientAddr2 = netip.MustParseAddr("10.0.0.3")

type policed struct {
	n     *Net
	p     *policy.Policy
	clock *policytest.Clock
	reg   *prometheus.Registry
	eve   *eveBuf // enforce's and policy's EVE records, one writer as in the appliance
	srv   *reqServer
}

// newPoliced builds the harness with policy.Wrap around inner (nil: the
// enforce handler over the real engine, with policy's OnResult hook).
// clock nil uses the wall clock.
func newPoliced(t *testing.T, cfg policy.Config, inner netstack.Handler, clock *policytest.Clock) *policed {
	t.Helper()
	return newPolicedShared(t, cfg, inner, clock, nil)
}

// newPolicedShared is newPoliced with the block list shared through
// shared (nil: not shared).
func newPolicedShared(t *testing.T, cfg policy.Config, inner netstack.Handler, clock *policytest.Clock, shared state.Watcher) *policed {
	t.Helper()
	e := &policed{clock: clock, reg: prometheus.NewRegistry(), eve: &eveBuf{}, srv: &reqServer{}}
	w := eve.NewWriter(e.eve)
	opts := policy.Options{Registerer: e.reg, Events: w, Shared: shared,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if clock != nil {
		opts.Clock = clock
		opts.SweepEvery = -1 // the test sweeps after advancing the clock
	}
	p, err := policy.New(cfg, opts)
	require.NoError(t, err)
	if inner == nil {
		h, err := enforce.New(engine(t), enforce.Config{Events: w, Registerer: e.reg, OnResult: p.OnResult,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		require.NoError(t, err)
		inner = h
	}
	e.n = New(t, netstack.WithHandler(policy.Wrap(inner, p)), netstack.WithMetrics(e.reg))
	t.Cleanup(p.Close) // runs before the stack's teardown: wakes delayed chunks
	require.NoError(t, p.Attach(e.n.Appliance.Guard(), e.n.Appliance.Flows()))
	e.p = p
	serve(t, e.n, httpAP, e.srv.serve)
	return e
}

// addClientAddr gives the client stack a second address.
func addClientAddr(t testing.TB, n *Net, a netip.Addr) {
	t.Helper()
	pa := tcpip.ProtocolAddress{Protocol: header.IPv4ProtocolNumber, AddressWithPrefix: tcpip.AddrFromSlice(a.AsSlice()).WithPrefix()}
	require.Nil(t, n.Client.AddProtocolAddress(1, pa, stack.AddressProperties{}))
}

// dialFrom connects from the client's address src, failing after timeout.
func dialFrom(n *Net, src netip.Addr, dst netip.AddrPort, timeout time.Duration) (*gonet.TCPConn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	local := tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFromSlice(src.AsSlice())}
	remote, proto := full(dst)
	return gonet.DialTCPWithBind(ctx, n.Client, local, remote, proto)
}

// exchange sends one benign request on a new flow from src and requires
// the exact response.
func (e *policed) exchange(t *testing.T, src netip.Addr, req string) {
	t.Helper()
	c, err := dialFrom(e.n, src, httpAP, 5*time.Second)
	require.NoError(t, err, "dial from %s", src)
	defer c.Close()
	_, err = c.Write([]byte(req))
	require.NoError(t, err)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	assert.Equal(t, httpResponse, string(got))
}

// refused requires that src cannot open a flow: the guard drops its SYN,
// so the dial times out.
func (e *policed) refused(t *testing.T, src netip.Addr) {
	t.Helper()
	c, err := dialFrom(e.n, src, httpAP, 300*time.Millisecond)
	if err == nil {
		c.Close()
	}
	require.Error(t, err, "a blocked source must not connect")
	assert.True(t, errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "timeout") || strings.Contains(err.Error(), "deadline"),
		"the SYN is dropped silently, got %v", err)
}

func TestPolicyBlockByAPIResetsLiveFlowAndExpires(t *testing.T) {
	leakCheck(t)
	clock := policytest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	echo := func(c net.Conn) { io.Copy(c, c) }
	e := newPoliced(t, policy.Config{}, netstack.PassAll{}, clock)
	echoAP := netip.AddrPortFrom(ServerAddr, 7)
	serve(t, e.n, echoAP, echo)

	live := dial(t, e.n, echoAP)
	_, err := live.Write([]byte("ping"))
	require.NoError(t, err)
	buf := make([]byte, 4)
	_, err = io.ReadFull(live, buf)
	require.NoError(t, err)
	require.Equal(t, "ping", string(buf))

	_, reset, err := e.p.Block(netip.PrefixFrom(ClientAddr, 32), 10*time.Minute, "harness")
	require.NoError(t, err)
	assert.Equal(t, 1, reset, "the live flow is reset")
	live.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = live.Read(buf)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "reset", "the live flow of a blocked source is reset")

	e.refused(t, ClientAddr)
	assert.Positive(t, e.n.Appliance.Guard().Drops()[netstack.DropBlockedSource], "the guard dropped the SYNs")
	assert.Equal(t, 1.0, gauge(t, e.reg, "interdict_policy_blocked_sources"))
	assert.Equal(t, 1.0, counter(t, e.reg, "interdict_policy_flows_reset_total", nil))

	clock.Advance(10*time.Minute - time.Second)
	assert.Zero(t, e.p.Sweep())
	e.refused(t, ClientAddr)
	clock.Advance(time.Second)
	assert.Equal(t, 1, e.p.Sweep(), "expired on the policy clock")

	again := dial(t, e.n, echoAP)
	_, err = again.Write([]byte("pong"))
	require.NoError(t, err)
	_, err = io.ReadFull(again, buf)
	require.NoError(t, err)
	assert.Equal(t, "pong", string(buf))
	assert.Equal(t, 0.0, gauge(t, e.reg, "interdict_policy_blocked_sources"))
	assert.Equal(t, 1.0, counter(t, e.reg, "interdict_policy_blocks_total", map[string]string{"origin": "api"}))
	assert.Equal(t, 1.0, counter(t, e.reg, "interdict_policy_unblocks_total", map[string]string{"cause": "expired"}))

	recs := interruptions(t, e.eve)
	require.Len(t, recs, 2)
	assert.Equal(t, "block", recs[0].Interruption.Action)
	assert.Equal(t, "10.0.0.2/32", recs[0].Interruption.Prefix)
	assert.Equal(t, "harness", recs[0].Interruption.Reason)
	assert.Equal(t, "unblock", recs[1].Interruption.Action)
	assert.Equal(t, "expired", recs[1].Interruption.Cause)
}

func TestPolicyDropOfSeverity1BlocksTheSource(t *testing.T) {
	leakCheck(t)
	clock := policytest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	cfg := policy.Config{Block: policy.BlockConfig{OnAlert: []policy.AlertBlock{
		{On: policy.AlertMatch{Action: "drop", MinSeverity: 1}, BlockSourceFor: "10m"},
	}}}
	e := newPoliced(t, cfg, nil, clock)
	addClientAddr(t, e.n, ClientAddr2)

	e.exchange(t, ClientAddr, httpGet("/index.html"))
	c, err := dialFrom(e.n, ClientAddr, httpAP, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte(httpGet("/../../etc/passwd")))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(e.p.List()) == 1 }, 5*time.Second, 5*time.Millisecond, "the drop blocks its source")

	list := e.p.List()
	assert.Equal(t, netip.PrefixFrom(ClientAddr, 32), list[0].Prefix)
	assert.Equal(t, policy.OriginRule, list[0].Origin)
	assert.Equal(t, clock.Now().Add(10*time.Minute), list[0].Until)

	e.refused(t, ClientAddr)
	e.exchange(t, ClientAddr2, httpGet("/index.html")) // another source is unaffected
	clock.Advance(10 * time.Minute)
	e.p.Sweep()
	e.exchange(t, ClientAddr, httpGet("/again.html"))

	assert.Equal(t, 1.0, counter(t, e.reg, "interdict_policy_blocks_total", map[string]string{"origin": "rule"}))
	assert.Equal(t, 1.0, counter(t, e.reg, "interdict_enforce_alerts_total", map[string]string{"sid": "1000001", "action": "blocked"}))
	recs := interruptions(t, e.eve)
	require.NotEmpty(t, recs)
	assert.Equal(t, "block", recs[0].Interruption.Action)
	assert.Equal(t, uint32(1000001), recs[0].Interruption.SignatureID)
	assert.Equal(t, ClientAddr.String(), recs[0].SrcIP)
	got, _ := e.srv.got(1)
	assert.Empty(t, got, "the dropped request never reached the server")
}

func TestPolicyNewFlowsPerSecondRefusesExcess(t *testing.T) {
	leakCheck(t)
	// The fake clock never advances: no token comes back during the test.
	clock := policytest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	cfg := policy.Config{Rate: policy.RateConfig{NewFlows: policy.NewFlowsConfig{PerSecond: 1, Burst: 3, Action: "reject"}}}
	e := newPoliced(t, cfg, netstack.PassAll{}, clock)
	addClientAddr(t, e.n, ClientAddr2)

	const attempts = 7
	ok, refused := 0, 0
	for i := range attempts {
		c, err := dialFrom(e.n, ClientAddr, httpAP, 5*time.Second)
		if err != nil {
			assert.Regexp(t, "refused|reset", err.Error(), "attempt %d is refused with a RST", i)
			refused++
			continue
		}
		ok++
		c.Close()
	}
	assert.Equal(t, 3, ok, "the burst")
	assert.Equal(t, attempts-3, refused)
	assert.Equal(t, float64(attempts-3), counter(t, e.reg, "interdict_policy_rate_limited_flows_total",
		map[string]string{"kind": "new_flows", "action": "reject"}))
	e.exchange(t, ClientAddr2, httpGet("/")) // its own bucket
	clock.Advance(time.Second)
	e.exchange(t, ClientAddr, httpGet("/")) // one token back
}

func TestPolicyBytesPerSecondDelaysTransfer(t *testing.T) {
	leakCheck(t)
	const (
		rate  = 256 << 10
		burst = 32 << 10
		total = 256 << 10
	)
	cfg := policy.Config{Rate: policy.RateConfig{Bytes: policy.BytesConfig{PerSecond: rate, Burst: burst}}}
	e := newPoliced(t, cfg, netstack.PassAll{}, nil)
	k := &sink{end: make(chan error, 1)}
	sinkAP := netip.AddrPortFrom(ServerAddr, 9001)
	serve(t, e.n, sinkAP, k.serve)

	data := make([]byte, total)
	for i := range data {
		data[i] = byte(i*7 + i>>8)
	}
	c := dial(t, e.n, sinkAP)
	start := time.Now()
	_, err := c.Write(data)
	require.NoError(t, err)
	require.NoError(t, c.CloseWrite())
	select {
	case err := <-k.end:
		require.ErrorIs(t, err, io.EOF)
	case <-time.After(20 * time.Second):
		t.Fatal("transfer did not finish")
	}
	elapsed := time.Since(start)
	// The bucket starts full: the limiter lets burst bytes through at once
	// and the rest at rate, so this is a lower bound, not a speed claim.
	minimum := time.Duration(float64(total-burst) / rate * float64(time.Second))
	assert.GreaterOrEqual(t, elapsed, minimum, "%d bytes at %d B/s after a %d-byte burst", total, rate, burst)
	t.Logf("%d bytes in %v (lower bound %v)", total, elapsed, minimum)
	assert.Equal(t, sha256.Sum256(data), sha256.Sum256([]byte(k.got())), "bytes arrive byte-exact")
	assert.Equal(t, 1.0, counter(t, e.reg, "interdict_policy_rate_limited_flows_total", map[string]string{"kind": "bytes", "action": "delay"}))
}

func TestPolicyProtocolValidationRejectsCLAndTE(t *testing.T) {
	const smuggle = "POST /submit HTTP/1.1\r\nHost: example.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	tests := []struct {
		name     string
		protocol policy.ProtocolConfig
		blocked  bool
	}{
		{"validation on", policy.ProtocolConfig{AppProtos: map[string]string{"http": "reject"}}, true},
		{"by anomaly name", policy.ProtocolConfig{Anomalies: map[string]string{"REQUEST_CONTENT_LENGTH_AND_TRANSFER_ENCODING": "reject"}}, true},
		{"validation off", policy.ProtocolConfig{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			leakCheck(t)
			e := newPoliced(t, policy.Config{Protocol: tc.protocol}, nil, nil)
			c := dial(t, e.n, httpAP)
			_, err := c.Write([]byte(smuggle))
			require.NoError(t, err)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, err := io.ReadAll(c)
			if !tc.blocked {
				require.NoError(t, err)
				assert.Equal(t, httpResponse, string(got))
				srv, _ := e.srv.got(0)
				assert.Equal(t, smuggle, srv, "passes byte-exact when validation is off")
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), "reset", "the client sees a RST")
			assert.Empty(t, got)
			require.Eventually(t, func() bool { return e.srv.accepted() == 1 }, 5*time.Second, 5*time.Millisecond)
			assert.ErrorIs(t, e.srv.waitEnd(t, 0), io.EOF, "reject closes the server leg")
			srv, _ := e.srv.got(0)
			assert.Empty(t, srv, "the server received none of the request")

			drops := e.eve.of(t, eve.TypeDrop, 0)
			require.NotEmpty(t, drops)
			assert.Equal(t, "protocol REQUEST_CONTENT_LENGTH_AND_TRANSFER_ENCODING", drops[0].Drop.Reason)
			assert.Equal(t, len(smuggle), drops[0].Drop.Len)
			assert.NotEmpty(t, e.eve.of(t, eve.TypeAnomaly, 0), "enforce logs the anomaly event")
			assert.Equal(t, 1.0, counter(t, e.reg, "interdict_policy_protocol_anomalies_total",
				map[string]string{"app_proto": "http", "event": "REQUEST_CONTENT_LENGTH_AND_TRANSFER_ENCODING", "action": "reject"}))
		})
	}
}

// interruptions reads the policy's block-list records among the EVE
// events.
func interruptions(t *testing.T, b *eveBuf) []eve.Event {
	t.Helper()
	var out []eve.Event
	for _, line := range strings.Split(strings.TrimSpace(readAll(b)), "\n") {
		if line == "" {
			continue
		}
		var ev eve.Event
		require.NoError(t, json.Unmarshal([]byte(line), &ev), "record %q", line)
		if ev.EventType == eve.TypeInterruption {
			out = append(out, ev)
		}
	}
	return out
}

func readAll(b *eveBuf) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// gauge reads a gauge's value from the registry.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return 0
}

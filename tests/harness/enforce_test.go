package harness

// End-to-end enforcement: the real rule loader and detect engine, the real
// app-layer parsers, the enforce handler in the appliance's data path, and
// real client and server TCP stacks on either side. The server records
// every byte it receives, so "blocked" means the bytes never arrived.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"

	"github.com/interdict/interdict/appliance/enforce"
	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/detect"
	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/inspect/rules"
	"github.com/interdict/interdict/netstack"

	// The app-layer parsers register themselves with detect's default
	// protocol list.
	_ "github.com/interdict/interdict/inspect/dns"
	_ "github.com/interdict/interdict/inspect/http1"
	_ "github.com/interdict/interdict/inspect/tls"
)

const enforceRules = `
drop http any any -> any any (msg:"WEB path traversal to /etc/passwd"; flow:to_server,established; http.uri; content:"/etc/passwd"; classtype:web-application-attack; metadata:created_at 2026_01_01; sid:1000001; rev:2;)
reject http any any -> any any (msg:"WEB admin console"; flow:to_server,established; http.uri; content:"/admin/console"; classtype:web-application-attack; sid:1000002; rev:1;)
rejectdst http any any -> any any (msg:"WEB shell upload"; flow:to_server,established; http.uri; content:"/upload.php"; classtype:web-application-attack; sid:1000003; rev:1;)
drop tcp any any -> any 9000 (msg:"RAW evil payload"; flow:to_server,established; content:"EVIL-PAYLOAD"; classtype:trojan-activity; sid:1000004; rev:1;)
reject dns any any -> any any (msg:"DNS query for a known-bad domain"; dns.query; content:"evil.example"; nocase; classtype:trojan-activity; sid:1000005; rev:1;)
`

const enforceClasses = `
config classification: web-application-attack,Web Application Attack,1
config classification: trojan-activity,A Network Trojan was detected,1
`

var (
	httpAP = netip.AddrPortFrom(ServerAddr, 8080)
	rawAP  = netip.AddrPortFrom(ServerAddr, 9000)
)

const httpResponse = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"

func httpGet(path string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: example.test\r\nUser-Agent: harness\r\n\r\n"
}

// engine compiles enforceRules with the real loader and engine.
func engine(t *testing.T) *detect.Engine {
	t.Helper()
	classes, err := rules.LoadClassification(strings.NewReader(enforceClasses), "classification.config")
	require.NoError(t, err)
	set := &rules.Set{}
	require.NoError(t, set.Load(strings.NewReader(enforceRules), "enforce.rules", &rules.Options{Classification: classes}))
	require.Empty(t, set.Errors)
	e, err := detect.New(set.Rules, detect.Options{})
	require.NoError(t, err)
	require.Empty(t, e.Rejected())
	require.Equal(t, 5, e.Rules())
	return e
}

// eveBuf is the EVE file of a test: a buffer the eve.Writer appends to
// while flows run.
type eveBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (e *eveBuf) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.b.Write(p)
}

func (e *eveBuf) events(t *testing.T) []eve.Event {
	t.Helper()
	e.mu.Lock()
	data := append([]byte(nil), e.b.Bytes()...)
	e.mu.Unlock()
	var out []eve.Event
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var ev eve.Event
		require.NoError(t, json.Unmarshal(sc.Bytes(), &ev), "EVE line %q", sc.Text())
		out = append(out, ev)
	}
	return out
}

func (e *eveBuf) of(t *testing.T, typ string, flowID uint64) []eve.Event {
	var out []eve.Event
	for _, ev := range e.events(t) {
		if ev.EventType == typ && (flowID == 0 || ev.FlowID == flowID) {
			out = append(out, ev)
		}
	}
	return out
}

// waitFlows waits until n flow events were logged (each flow logs one
// when it ends).
func (e *eveBuf) waitFlows(t *testing.T, n int) []eve.Event {
	t.Helper()
	require.Eventually(t, func() bool { return len(e.of(t, eve.TypeFlow, 0)) >= n }, 10*time.Second, 5*time.Millisecond,
		"want %d flow events", n)
	return e.of(t, eve.TypeFlow, 0)
}

// reqServer records every byte each accepted conn receives and answers
// httpResponse once it has seen a full request head.
type reqServer struct {
	mu    sync.Mutex
	conns []*bytes.Buffer
	ends  []error
	// whole, when set, replaces the HTTP answer: a conn ends (recorded
	// as io.EOF) once whole holds for what it received.
	whole func(rec []byte) bool
}

func (s *reqServer) serve(c net.Conn) {
	s.mu.Lock()
	rec := &bytes.Buffer{}
	s.conns = append(s.conns, rec)
	idx := len(s.conns) - 1
	s.ends = append(s.ends, nil)
	s.mu.Unlock()
	b := make([]byte, 4096)
	answered := false
	for {
		n, err := c.Read(b)
		s.mu.Lock()
		rec.Write(b[:n])
		head := bytes.Contains(rec.Bytes(), []byte("\r\n\r\n"))
		done := err == nil && s.whole != nil && s.whole(rec.Bytes())
		if err != nil {
			s.ends[idx] = err
		} else if done {
			s.ends[idx] = io.EOF
		}
		s.mu.Unlock()
		if err != nil || done {
			return
		}
		if s.whole != nil {
			continue
		}
		if head && !answered {
			answered = true
			c.Write([]byte(httpResponse))
			c.(*gonet.TCPConn).CloseWrite()
		}
	}
}

// got returns what conn i received and how its read ended.
func (s *reqServer) got(i int) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i >= len(s.conns) {
		return "", nil
	}
	return s.conns[i].String(), s.ends[i]
}

func (s *reqServer) accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// waitEnd waits until conn i's read ended and returns its error.
func (s *reqServer) waitEnd(t *testing.T, i int) error {
	t.Helper()
	var err error
	require.Eventually(t, func() bool {
		_, err = s.got(i)
		return err != nil
	}, 10*time.Second, 5*time.Millisecond, "server conn %d did not end", i)
	return err
}

type enforced struct {
	n    *Net
	h    *enforce.Handler
	reg  *prometheus.Registry
	eve  *eveBuf
	srv  *reqServer
	logs *eveBuf // the handler's log lines
}

// newEnforced builds the harness with the enforce handler over ff (nil:
// the real engine) and a recording server on httpAP and rawAP.
func newEnforced(t *testing.T, ff inspect.FlowFactory, cfg enforce.Config, opts ...netstack.Option) *enforced {
	t.Helper()
	if ff == nil {
		ff = engine(t)
	}
	e := &enforced{reg: prometheus.NewRegistry(), eve: &eveBuf{}, srv: &reqServer{}, logs: &eveBuf{}}
	cfg.Events = eve.NewWriter(e.eve)
	cfg.Logger = slog.New(slog.NewTextHandler(e.logs, nil))
	cfg.Registerer = e.reg
	h, err := enforce.New(ff, cfg)
	require.NoError(t, err)
	e.h = h
	e.n = New(t, append([]netstack.Option{netstack.WithHandler(h), netstack.WithMetrics(e.reg)}, opts...)...)
	serve(t, e.n, httpAP, e.srv.serve)
	serve(t, e.n, rawAP, e.srv.serve)
	return e
}

// benign sends one request on a new flow and requires the exact response.
func (e *enforced) benign(t *testing.T, dst netip.AddrPort, req string) {
	t.Helper()
	c := dial(t, e.n, dst)
	_, err := c.Write([]byte(req))
	require.NoError(t, err)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	assert.Equal(t, httpResponse, string(got), "response bytes")
	// Both FINs end the flow, which logs its flow event.
	require.NoError(t, c.CloseWrite())
}

// counter reads one series of a counter family from the registry.
func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue metric
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func localPort(c net.Conn) uint16 { return uint16(c.LocalAddr().(*net.TCPAddr).Port) }

func TestEnforceDropHTTPIsSilent(t *testing.T) {
	leakCheck(t)
	e := newEnforced(t, nil, enforce.Config{})
	first := httpGet("/index.html")
	e.benign(t, httpAP, first)

	attack := httpGet("/../../etc/passwd")
	c := dial(t, e.n, httpAP)
	_, err := c.Write([]byte(attack))
	require.NoError(t, err)
	// Silence: no response, no FIN, no RST; only the deadline ends it.
	c.SetReadDeadline(time.Now().Add(time.Second))
	n, err := c.Read(make([]byte, 100))
	assert.Zero(t, n)
	var ne net.Error
	require.ErrorAs(t, err, &ne, "got %v", err)
	assert.True(t, ne.Timeout(), "want a timeout, got %v", err)

	last := httpGet("/about.html")
	e.benign(t, httpAP, last)

	// The server got both benign requests byte-exact and nothing of the
	// attack, whose one write was the chunk completing the match; its leg
	// was reset quietly.
	require.Equal(t, 3, e.srv.accepted())
	got0, _ := e.srv.got(0)
	assert.Equal(t, first, got0)
	assert.ErrorContains(t, e.srv.waitEnd(t, 1), "reset")
	got1, _ := e.srv.got(1)
	assert.Empty(t, got1, "no byte of the dropped request reached the server")
	got2, _ := e.srv.got(2)
	assert.Equal(t, last, got2)

	flows := e.eve.waitFlows(t, 3)
	alerts := e.eve.of(t, eve.TypeAlert, 0)
	require.Len(t, alerts, 1, "only the attack alerts")
	a := alerts[0]
	assert.Equal(t, "pipe0", a.InIface)
	assert.Equal(t, ClientAddr.String(), a.SrcIP)
	assert.Equal(t, localPort(c), a.SrcPort)
	assert.Equal(t, ServerAddr.String(), a.DestIP)
	assert.Equal(t, uint16(8080), a.DestPort)
	assert.Equal(t, "TCP", a.Proto)
	assert.Equal(t, "http", a.AppProto)
	assert.Equal(t, "to_server", a.Direction)
	assert.Equal(t, &eve.Alert{Action: "blocked", GID: 1, SignatureID: 1000001, Rev: 2,
		Signature: "WEB path traversal to /etc/passwd", Category: "Web Application Attack", Severity: 1,
		Metadata: map[string][]string{"created_at": {"2026_01_01"}}}, a.Alert)

	drops := e.eve.of(t, eve.TypeDrop, a.FlowID)
	require.NotEmpty(t, drops, "drop event of the alert's flow")
	assert.Equal(t, "rules", drops[0].Drop.Reason)
	assert.Equal(t, uint32(1000001), drops[0].Alert.SignatureID)
	assert.Equal(t, ClientAddr.String(), drops[0].SrcIP)

	byID := map[uint64]eve.Event{}
	for _, f := range flows {
		byID[f.FlowID] = f
	}
	require.Len(t, byID, 3, "three flows, three distinct flow ids")
	af, ok := byID[a.FlowID]
	require.True(t, ok, "the alert's flow_id has a flow event")
	assert.True(t, af.Flow.Alerted)
	assert.Equal(t, "drop", af.Flow.Action)
	assert.Equal(t, "verdict", af.Flow.Reason)
	assert.Equal(t, uint64(len(attack)), af.Flow.BytesToServer, "read by the appliance, never forwarded")
	assert.Equal(t, localPort(c), af.SrcPort)
	for id, f := range byID {
		if id != a.FlowID {
			assert.False(t, f.Flow.Alerted)
			assert.Equal(t, uint64(len(httpResponse)), f.Flow.BytesToClient)
		}
	}
	// An http record is logged when its transaction completes: the
	// dropped request never got a response.
	https := e.eve.of(t, eve.TypeHTTP, 0)
	require.Len(t, https, 2)
	assert.Equal(t, "/index.html", https[0].HTTP.URL)
	assert.Equal(t, 200, https[0].HTTP.Status)
	assert.Equal(t, "/about.html", https[1].HTTP.URL)

	assert.Equal(t, 1.0, counter(t, e.reg, "interdict_enforce_alerts_total", map[string]string{"sid": "1000001", "action": "blocked"}))
	assert.Equal(t, 1.0, counter(t, e.reg, "interdict_enforce_verdicts_total", map[string]string{"mode": "ips", "verdict": "drop"}))
	assert.Equal(t, 3.0, counter(t, e.reg, "interdict_enforce_flows_total", map[string]string{"mode": "ips"}))
	assert.Equal(t, 0.0, counter(t, e.reg, "interdict_enforce_panics_total", nil))
	assert.Equal(t, 1.0, counter(t, e.reg, "interdict_netstack_flows_total", map[string]string{"verdict": "drop"}))
	require.NoError(t, testutil.GatherAndCompare(e.reg, strings.NewReader(`
# HELP interdict_enforce_alerts_total Alerts logged, by rule sid (at most max_sid_labels distinct values, then "other") and EVE alert action (allowed, blocked).
# TYPE interdict_enforce_alerts_total counter
interdict_enforce_alerts_total{action="blocked",sid="1000001"} 1
`), "interdict_enforce_alerts_total"))
}

func TestEnforceRejectResetsClient(t *testing.T) {
	leakCheck(t)
	e := newEnforced(t, nil, enforce.Config{})
	c := dial(t, e.n, httpAP)
	_, err := c.Write([]byte(httpGet("/admin/console?x=1")))
	require.NoError(t, err)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 100))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "reset", "the client must see a RST")
	// reject closes the server leg (FIN), it does not reset it.
	assert.ErrorIs(t, e.srv.waitEnd(t, 0), io.EOF)
	got, _ := e.srv.got(0)
	assert.Empty(t, got)
	e.benign(t, httpAP, httpGet("/admin/"))

	e.eve.waitFlows(t, 2)
	alerts := e.eve.of(t, eve.TypeAlert, 0)
	require.Len(t, alerts, 1)
	assert.Equal(t, uint32(1000002), alerts[0].Alert.SignatureID)
	assert.Equal(t, "blocked", alerts[0].Alert.Action)
	assert.Equal(t, 1.0, counter(t, e.reg, "interdict_enforce_verdicts_total", map[string]string{"mode": "ips", "verdict": "reject"}))
	assert.Equal(t, 1.0, counter(t, e.reg, "interdict_netstack_flows_total", map[string]string{"verdict": "reject"}))
}

func TestEnforceRejectDstResetsServerOnly(t *testing.T) {
	leakCheck(t)
	e := newEnforced(t, nil, enforce.Config{})
	c := dial(t, e.n, httpAP)
	_, err := c.Write([]byte(httpGet("/upload.php")))
	require.NoError(t, err)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	assert.NoError(t, err, "the client leg is closed with a FIN, not reset")
	assert.Empty(t, got)
	assert.ErrorContains(t, e.srv.waitEnd(t, 0), "reset", "the server leg is reset")
	srvGot, _ := e.srv.got(0)
	assert.Empty(t, srvGot)
	e.eve.waitFlows(t, 1)
	assert.Equal(t, 1.0, counter(t, e.reg, "interdict_enforce_verdicts_total", map[string]string{"mode": "ips", "verdict": "rejectdst"}))
	assert.Equal(t, 1.0, counter(t, e.reg, "interdict_enforce_alerts_total", map[string]string{"sid": "1000003", "action": "blocked"}))
}

// writeByByte writes s one byte per write, so each byte is its own
// segment and, at the appliance, usually its own chunk. It stops at the
// first error (the flow was ended).
func writeByByte(c net.Conn, s string) {
	for i := range len(s) {
		if _, err := c.Write([]byte{s[i]}); err != nil {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func TestEnforceOneBytePerWriteIsStoppedBeforeTheLastByte(t *testing.T) {
	tests := []struct {
		name   string
		dst    netip.AddrPort
		attack string
		sid    string
	}{
		{"http uri", httpAP, httpGet("/../../etc/passwd"), "1000001"},
		{"raw content", rawAP, "hello EVIL-PAYLOAD", "1000004"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			leakCheck(t)
			e := newEnforced(t, nil, enforce.Config{})
			c := dial(t, e.n, tc.dst)
			writeByByte(c, tc.attack)
			c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			_, err := c.Read(make([]byte, 100))
			var ne net.Error
			require.ErrorAs(t, err, &ne, "got %v", err)
			assert.True(t, ne.Timeout(), "dropped: silence, got %v", err)
			assert.ErrorContains(t, e.srv.waitEnd(t, 0), "reset")
			got, _ := e.srv.got(0)
			assert.LessOrEqual(t, len(got), len(tc.attack)-1, "the byte completing the match never reaches the server")
			assert.True(t, strings.HasPrefix(tc.attack, got), "the server got a prefix of the attack, got %q", got)
			t.Logf("server received %d of %d bytes", len(got), len(tc.attack))
			e.eve.waitFlows(t, 1)
			assert.Equal(t, 1.0, counter(t, e.reg, "interdict_enforce_alerts_total", map[string]string{"sid": tc.sid, "action": "blocked"}))
		})
	}
}

func TestEnforceIDSModeShadowsPerIdentity(t *testing.T) {
	leakCheck(t)
	// IPv4 clients are enforced; the IPv6 client is an identity whose
	// policy is only shadowed.
	shadowed, enforced := &inspect.Identity{Name: "shadowed-peer"}, &inspect.Identity{Name: "enforced-peer"}
	identity := func(src netip.Addr) netstack.Identity {
		if src.Is6() {
			return shadowed
		}
		return enforced
	}
	e := newEnforced(t, nil, enforce.Config{Mode: enforce.IPS, IdentityModes: map[string]enforce.Mode{"shadowed-peer": enforce.IDS}},
		netstack.WithIdentity(identity))
	srv6 := netip.AddrPortFrom(ServerAddr6, 8080)
	serve(t, e.n, srv6, e.srv.serve)

	attack := httpGet("/../../etc/passwd")
	// Shadowed: the attack goes through byte-exact and is answered.
	e.benign(t, srv6, attack)
	got, _ := e.srv.got(0)
	assert.Equal(t, attack, got)
	e.eve.waitFlows(t, 1)

	// Enforced: the same request is dropped.
	c := dial(t, e.n, httpAP)
	_, err := c.Write([]byte(attack))
	require.NoError(t, err)
	assert.ErrorContains(t, e.srv.waitEnd(t, 1), "reset")
	flows := e.eve.waitFlows(t, 2)

	alerts := e.eve.of(t, eve.TypeAlert, 0)
	require.Len(t, alerts, 2)
	byIdent := map[string]eve.Event{}
	for _, a := range alerts {
		require.NotNil(t, a.Identity)
		byIdent[a.Identity.Name] = a
	}
	shadow, enf := byIdent["shadowed-peer"], byIdent["enforced-peer"]
	require.NotNil(t, shadow.Alert)
	require.NotNil(t, enf.Alert)
	assert.Equal(t, "allowed", shadow.Alert.Action)
	assert.Equal(t, ClientAddr6.String(), shadow.SrcIP)
	assert.Equal(t, "blocked", enf.Alert.Action)

	sd := e.eve.of(t, eve.TypeDrop, shadow.FlowID)
	require.Len(t, sd, 1)
	assert.Equal(t, "would-drop", sd[0].Drop.Reason)
	assert.Equal(t, "allowed", sd[0].Alert.Action)
	ed := e.eve.of(t, eve.TypeDrop, enf.FlowID)
	require.NotEmpty(t, ed)
	assert.Equal(t, "rules", ed[0].Drop.Reason)
	for _, f := range flows {
		switch f.FlowID {
		case shadow.FlowID:
			assert.Equal(t, "would-drop", f.Flow.Action)
		case enf.FlowID:
			assert.Equal(t, "drop", f.Flow.Action)
		default:
			t.Errorf("flow event %d has no alert", f.FlowID)
		}
	}
	assert.Equal(t, 1.0, counter(t, e.reg, "interdict_enforce_verdicts_total", map[string]string{"mode": "ids", "verdict": "drop"}))
	assert.Equal(t, 1.0, counter(t, e.reg, "interdict_enforce_verdicts_total", map[string]string{"mode": "ips", "verdict": "drop"}))
	assert.Equal(t, 1.0, counter(t, e.reg, "interdict_enforce_alerts_total", map[string]string{"sid": "1000001", "action": "allowed"}))
	assert.Equal(t, 1.0, counter(t, e.reg, "interdict_enforce_alerts_total", map[string]string{"sid": "1000001", "action": "blocked"}))
	assert.Equal(t, 1.0, counter(t, e.reg, "interdict_enforce_flows_total", map[string]string{"mode": "ids"}))
	assert.Equal(t, 1.0, counter(t, e.reg, "interdict_enforce_flows_total", map[string]string{"mode": "ips"}))
}

// panicky wraps the real engine; its inspectors panic on "CRASH".
type panicky struct{ ff inspect.FlowFactory }

func (p panicky) NewFlow(m inspect.FlowMeta) inspect.FlowInspector {
	return panickyFlow{p.ff.NewFlow(m)}
}

type panickyFlow struct{ inspect.FlowInspector }

func (f panickyFlow) Inspect(d inspect.Direction, b []byte) inspect.Result {
	if bytes.Contains(b, []byte("CRASH")) {
		// What a parser bug looks like: a runtime error.
		var idx []int
		_ = idx[len(b)]
	}
	return f.FlowInspector.Inspect(d, b)
}

func TestEnforcePanicResetsOnlyThatFlow(t *testing.T) {
	tests := []struct {
		name     string
		failOpen bool
	}{{"fail closed", false}, {"fail open", true}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			leakCheck(t)
			e := newEnforced(t, panicky{engine(t)}, enforce.Config{FailOpen: tc.failOpen})
			req := "POST /x HTTP/1.1\r\nHost: a\r\nX-Data: CRASH\r\n\r\n"
			c := dial(t, e.n, httpAP)
			_, err := c.Write([]byte(req))
			require.NoError(t, err)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, err := io.ReadAll(c)
			if tc.failOpen {
				require.NoError(t, err)
				assert.Equal(t, httpResponse, string(got), "passed uninspected")
				require.NoError(t, c.CloseWrite())
				srvGot, _ := e.srv.got(0)
				assert.Equal(t, req, srvGot)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "reset")
				srvGot, _ := e.srv.got(0)
				assert.Empty(t, srvGot)
			}
			// The appliance goes on, and still enforces on other flows.
			e.benign(t, httpAP, httpGet("/"))
			d := dial(t, e.n, httpAP)
			_, err = d.Write([]byte(httpGet("/admin/console")))
			require.NoError(t, err)
			d.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = d.Read(make([]byte, 10))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "reset")
			e.eve.waitFlows(t, 3)
			assert.Equal(t, 1.0, counter(t, e.reg, "interdict_enforce_panics_total", nil))
			e.logs.mu.Lock()
			logs := e.logs.b.String()
			e.logs.mu.Unlock()
			assert.Regexp(t, `msg="flow inspection panicked" flow=1 `, logs, "logged with the flow id")
		})
	}
}

// dnsQuery builds a DNS query for an A record of name.
func dnsQuery(id uint16, name string) []byte {
	b := []byte{byte(id >> 8), byte(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
	for _, label := range strings.Split(name, ".") {
		b = append(b, byte(len(label)))
		b = append(b, label...)
	}
	return append(b, 0, 0, 1, 0, 1)
}

func TestEnforceDNSOverUDP(t *testing.T) {
	leakCheck(t)
	e := newEnforced(t, nil, enforce.Config{})
	ap := netip.AddrPortFrom(ServerAddr, 53)
	k := udpEcho(t, e.n, ap)
	c, err := e.n.DialUDP(ap)
	require.NoError(t, err)
	defer c.Close()
	good := dnsQuery(0x1234, "good.example")
	_, err = c.Write(good)
	require.NoError(t, err)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 512)
	nr, err := c.Read(b)
	require.NoError(t, err)
	assert.Equal(t, good, b[:nr], "the benign query reached the server and came back")

	_, err = c.Write(dnsQuery(0x4321, "www.EVIL.example"))
	require.NoError(t, err)
	// reject on UDP: the session's next datagram is answered with ICMP
	// port unreachable, which a connected socket reports as refused.
	require.Eventually(t, func() bool {
		c.Write(good)
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		_, err := c.Read(b)
		return err != nil && strings.Contains(err.Error(), "refused")
	}, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, string(good), k.got(), "nothing from the rejected query on reaches the server")

	alerts := e.eve.of(t, eve.TypeAlert, 0)
	require.Len(t, alerts, 1)
	a := alerts[0]
	assert.Equal(t, uint32(1000005), a.Alert.SignatureID)
	assert.Equal(t, "blocked", a.Alert.Action)
	assert.Equal(t, "UDP", a.Proto)
	assert.Equal(t, "dns", a.AppProto)
	assert.Equal(t, uint16(53), a.DestPort)
	var queries []string
	for _, ev := range e.eve.of(t, eve.TypeDNS, 0) {
		assert.Equal(t, a.FlowID, ev.FlowID, "one UDP session")
		if ev.DNS.Type == "request" {
			for _, q := range ev.DNS.Queries {
				queries = append(queries, q.RRName)
			}
		}
	}
	assert.Contains(t, queries, "good.example", "the live path logs dns records")
	assert.Equal(t, 1.0, counter(t, e.reg, "interdict_enforce_verdicts_total", map[string]string{"mode": "ips", "verdict": "reject"}))
}

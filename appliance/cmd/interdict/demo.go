package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/interdict/interdict/appliance"
	"github.com/interdict/interdict/appliance/admin"
	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/netstack"
	"github.com/interdict/interdict/tunnel/wg"
)

// demoCommand is `interdict demo`: the product in one command, on
// loopback, without privileges.
func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "run a WireGuard hub, a runner and a web server in process and show what is blocked and why",
		Description: "Everything stays on 127.0.0.1 and in a temporary directory that is removed at the end:\n" +
			"a hub with the default rule pack on an ephemeral UDP port, an in-process WireGuard runner\n" +
			"added as a peer, and a local HTTP server the runner reaches through the hub. It sends a\n" +
			"benign request, an exploit and a request that leaks a cloud key; then a second runner holding a flow\n" +
			"open scans 50 ports and is quarantined while the first runner goes on. It reports each verdict.",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"}},
		Action: func(c *cli.Context) error {
			rep, err := runDemo(c.Context)
			if err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			if c.Bool("json") {
				err = printJSON(c.App.Writer, rep)
			} else {
				err = rep.print(c.App.Writer)
			}
			if err == nil && !rep.OK {
				err = errors.New("demo: a scene did not end as expected")
			}
			return err
		},
	}
}

// demoReport is what the demo shows.
type demoReport struct {
	Hub    string       `json:"hub"`
	Runner string       `json:"runner"`
	Key    string       `json:"runner_key"`
	Scenes []demoResult `json:"scenes"`
	// OK is true when every scene ended as expected.
	OK bool `json:"ok"`
}

// demoResult is one scene's outcome.
type demoResult struct {
	Name string `json:"name"`
	Sent string `json:"sent"`
	// Expected and Verdict: passed, reset (the default pack's reject
	// rules: the runner gets a RST at once) or dropped (a drop rule: the
	// runner's connection gets no answer).
	Expected   string `json:"expected"`
	Verdict    string `json:"verdict"`
	HTTPStatus int    `json:"http_status,omitempty"`
	Rule       string `json:"rule,omitempty"`
	SID        int    `json:"sid,omitempty"`
	Identity   string `json:"identity,omitempty"`
	// ServerBytes is what the web server received of this request.
	ServerBytes int64 `json:"server_received_bytes"`
	// VerdictMillis is from the request's first byte to the answer (a
	// pass), the reset, or the drop event.
	VerdictMillis float64 `json:"time_to_verdict_ms"`
	// Trigger is the interruption trigger that fired (the port-scan scene,
	// whose Verdict is the interruption's action and Rule its reason).
	Trigger string `json:"trigger,omitempty"`
	// OpenFlow is what became of the quarantined runner's open flow.
	OpenFlow string `json:"open_flow,omitempty"`
	OK       bool   `json:"ok"`
}

// demoTarget is the web server's address inside the overlay; the hub's
// upstream dialer sends it to the server on loopback.
var demoTarget = netip.MustParseAddrPort("198.18.0.80:80")

type demoScene struct {
	name, sent, expected string
	request              string
}

var demoScenes = []demoScene{
	{"benign", "GET /index.html", "passed", "GET /index.html HTTP/1.1\r\nHost: app.example\r\nUser-Agent: ci-runner\r\nConnection: close\r\n\r\n"},
	{"exploit", "GET /static/../../../../etc/passwd (path traversal)", "reset",
		"GET /static/../../../../etc/passwd HTTP/1.1\r\nHost: app.example\r\nUser-Agent: ci-runner\r\nConnection: close\r\n\r\n"},
	{"secret", "POST /upload with an AWS access key id in the body", "reset",
		"POST /upload HTTP/1.1\r\nHost: app.example\r\nContent-Type: text/plain\r\nContent-Length: 46\r\nConnection: close\r\n\r\naws_access_key_id=AKIAIOSFODNN7EXAMPLE&x=1234\n"},
}

func runDemo(ctx context.Context) (_ *demoReport, err error) {
	dir, err := os.MkdirTemp("", "interdict-demo-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	var received atomic.Int64
	srvLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		fmt.Fprintln(w, "hello from the demo server")
	})}
	go func() { _ = srv.Serve(countingListener{srvLn, &received}) }()
	defer srv.Close()

	cfg := fmt.Sprintf("state_dir: %q\nlink:\n  mode: wireguard\n  wireguard:\n    listen_port: 0\n    listen_address: 127.0.0.1\n"+
		"eve:\n  path: %q\n  stats_interval: 1h\nadmin:\n  socket: \"\"\nmetrics:\n  listen: \"\"\n"+
		"interruption:\n  triggers:\n    - {name: port-scan, scan: {ports: 50}, window: 30s, action: quarantine, for: 10m}\n",
		filepath.Join(dir, "state"), filepath.Join(dir, "eve.json"))
	cfgPath := filepath.Join(dir, "demo.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	s, err := appliance.LoadConfig(cfgPath)
	if err != nil {
		return nil, err
	}
	a, err := appliance.New(s, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return nil, err
	}
	defer a.Close()
	dev, err := a.OpenWireGuard()
	if err != nil {
		return nil, err
	}
	st, err := netstack.New(append([]netstack.Option{netstack.WithLink(dev), netstack.WithNICName("wg"),
		netstack.WithDialer(toOne{netip.MustParseAddrPort(srvLn.Addr().String())})}, a.StackOptions()...)...)
	if err != nil {
		dev.Close()
		return nil, err
	}
	defer st.Close()
	if err := a.Attach(st); err != nil {
		return nil, err
	}

	key, err := wg.GenerateKey()
	if err != nil {
		return nil, err
	}
	added, err := a.AddPeer(ctx, admin.PeerRequest{Name: "demo-runner", PublicKey: key.PublicKey().String(), Tags: []string{"ci"}})
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	for _, p := range added.Peer.Prefixes {
		addrs = append(addrs, netip.MustParsePrefix(p).Addr())
	}
	hubKey, _ := wg.ParseKey(added.Hub.PublicKey)
	client, err := wg.NewClient(wg.ClientConfig{PrivateKey: key, Addresses: addrs, HubKey: hubKey,
		HubEndpoint: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), dev.ListenPort())})
	if err != nil {
		return nil, err
	}
	defer client.Close()

	rep := &demoReport{Hub: fmt.Sprintf("127.0.0.1:%d (key %s)", dev.ListenPort(), hubKey.Short()),
		Runner: fmt.Sprintf("demo-runner %s, tags ci", strings.Join(added.Peer.Prefixes, ", ")), Key: key.PublicKey().String(), OK: true}
	for _, sc := range demoScenes {
		r, err := runScene(ctx, client, sc, &received, s.EVEPath)
		if err != nil {
			return nil, fmt.Errorf("scene %s: %w", sc.name, err)
		}
		rep.OK = rep.OK && r.OK
		rep.Scenes = append(rep.Scenes, r)
	}

	skey, err := wg.GenerateKey()
	if err != nil {
		return nil, err
	}
	sadded, err := a.AddPeer(ctx, admin.PeerRequest{Name: "demo-scanner", PublicKey: skey.PublicKey().String(), Tags: []string{"ci"}})
	if err != nil {
		return nil, err
	}
	var saddrs []netip.Addr
	for _, p := range sadded.Peer.Prefixes {
		saddrs = append(saddrs, netip.MustParsePrefix(p).Addr())
	}
	scanner, err := wg.NewClient(wg.ClientConfig{PrivateKey: skey, Addresses: saddrs, HubKey: hubKey,
		HubEndpoint: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), dev.ListenPort())})
	if err != nil {
		return nil, err
	}
	defer scanner.Close()
	r, err := runScanScene(ctx, scanner, &received, s.EVEPath)
	if err != nil {
		return nil, fmt.Errorf("scene port-scan: %w", err)
	}
	rep.OK = rep.OK && r.OK
	rep.Scenes = append(rep.Scenes, r)

	// The quarantine is the scanner's alone: the first runner, on the same
	// hub, still gets its page.
	r, err = runScene(ctx, client, demoUntouched, &received, s.EVEPath)
	if err != nil {
		return nil, fmt.Errorf("scene %s: %w", demoUntouched.name, err)
	}
	rep.OK = rep.OK && r.OK
	rep.Scenes = append(rep.Scenes, r)
	return rep, nil
}

var demoUntouched = demoScene{"other-runner", "GET /index.html from demo-runner while demo-scanner is quarantined", "passed", demoScenes[0].request}

// scanPorts is the port-scan trigger's threshold in the demo's config.
const scanPorts = 50

// runScanScene has the scanner hold one flow open, then connect to
// scanPorts distinct ports (the hub's dialer sends them all to the one
// web server: the trigger counts distinct destination ports, not open
// ones). The trigger quarantines the scanner, which resets its open flow.
func runScanScene(ctx context.Context, c *wg.Client, received *atomic.Int64, evePath string) (demoResult, error) {
	res := demoResult{Name: "port-scan", Expected: "quarantine"}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	before := received.Load()
	open, err := c.DialTCP(dctx, demoTarget)
	if err != nil {
		return res, err
	}
	defer open.Close()
	// The open flow ending is the sign the quarantine is in place: the
	// scan stops there, since the guard now drops the scanner's SYNs and
	// a connect would only wait for its timeout.
	openErr := make(chan error, 1)
	sctx, stop := context.WithCancel(dctx)
	defer stop()
	go func() {
		_, err := open.Read(make([]byte, 1))
		openErr <- err
		stop()
	}()
	start := time.Now()
	tried := 0
	for ; tried < scanPorts && sctx.Err() == nil; tried++ {
		conn, err := c.DialTCP(sctx, netip.AddrPortFrom(demoTarget.Addr(), uint16(9000+tried)))
		if err == nil {
			conn.Close()
		}
	}
	var oerr error
	select {
	case oerr = <-openErr:
	case <-time.After(5 * time.Second):
		open.Close()
		oerr = <-openErr
	}
	resetAt := time.Now()
	res.Sent = fmt.Sprintf("demo-scanner holds a flow open to port %d, then connects to ports 9000 and up: %d of them before its open flow ended (the open one counts too)",
		demoTarget.Port(), tried)
	switch {
	case oerr != nil && strings.Contains(oerr.Error(), "reset"):
		res.OpenFlow = "reset"
	case oerr != nil:
		res.OpenFlow = "error: " + oerr.Error()
	default:
		res.OpenFlow = "still open"
	}
	var ev *eve.Event
	for i := 0; i < 100 && ev == nil; i++ {
		ev = findInterruption(evePath, "port-scan")
		if ev == nil {
			time.Sleep(10 * time.Millisecond)
		}
	}
	res.Verdict = "not interrupted"
	if ev != nil {
		res.Verdict = ev.Interruption.Action
		res.Trigger = ev.Interruption.Trigger
		res.Rule = ev.Interruption.Reason
		if ev.Identity != nil {
			res.Identity = ev.Identity.Name
		}
	}
	res.VerdictMillis = ms(resetAt.Sub(start))
	res.ServerBytes = received.Load() - before
	res.OK = res.Verdict == res.Expected && res.OpenFlow == "reset" && res.Identity == "demo-scanner" && res.ServerBytes == 0
	return res, nil
}

// findInterruption returns the first interruption event of trigger.
func findInterruption(path, trigger string) *eve.Event {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(string(b), "\n") {
		var ev eve.Event
		if json.Unmarshal([]byte(line), &ev) == nil && ev.EventType == eve.TypeInterruption &&
			ev.Interruption != nil && ev.Interruption.Trigger == trigger {
			return &ev
		}
	}
	return nil
}

// dropWait is how long a scene waits for an answer after its drop event
// was written: a dropped flow never answers, and the demo must not hang.
const dropWait = 300 * time.Millisecond

func runScene(ctx context.Context, c *wg.Client, sc demoScene, received *atomic.Int64, evePath string) (demoResult, error) {
	res := demoResult{Name: sc.name, Sent: sc.sent, Expected: sc.expected}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := c.DialTCP(dctx, demoTarget)
	if err != nil {
		return res, err
	}
	defer conn.Close()
	port := uint16(netip.MustParseAddrPort(conn.LocalAddr().String()).Port())
	before := received.Load()
	start := time.Now()
	if _, err := io.WriteString(conn, sc.request); err != nil {
		return res, err
	}
	type answer struct {
		status int
		err    error
		at     time.Time
	}
	done := make(chan answer, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		a := answer{err: err, at: time.Now()}
		if err == nil {
			a.status = resp.StatusCode
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		done <- a
	}()
	var (
		ans      *answer
		dropSeen time.Time
		ev       *eve.Event
	)
	deadline := time.After(5 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for ans == nil {
		select {
		case a := <-done:
			ans = &a
		case <-tick.C:
			if ev == nil {
				ev = findEvent(evePath, port)
			}
			if ev != nil && ev.EventType == "drop" && dropSeen.IsZero() {
				dropSeen = time.Now()
			}
			if !dropSeen.IsZero() && time.Since(dropSeen) > dropWait {
				conn.Close()
				a := <-done
				a.err = errDropped
				ans = &a
			}
		case <-deadline:
			conn.Close()
			a := <-done
			a.err = errDropped
			ans = &a
		}
	}
	// A blocked flow's events are written when the verdict is applied; a
	// passed flow's only event is its flow record, written as it ends.
	conn.Close()
	for i := 0; i < 50 && (ev == nil || ev.Identity == nil); i++ {
		time.Sleep(10 * time.Millisecond)
		if e := findEvent(evePath, port); e != nil {
			ev = e
		}
	}
	switch {
	case ans.err == nil:
		res.Verdict, res.HTTPStatus = "passed", ans.status
		res.VerdictMillis = ms(ans.at.Sub(start))
	case errors.Is(ans.err, errDropped):
		res.Verdict = "dropped"
	case strings.Contains(ans.err.Error(), "reset"):
		res.Verdict = "reset"
		res.VerdictMillis = ms(ans.at.Sub(start))
	default:
		res.Verdict = "error: " + ans.err.Error()
	}
	if ev != nil {
		if ev.Alert != nil {
			res.Rule, res.SID = ev.Alert.Signature, int(ev.Alert.SignatureID)
		}
		if ev.Identity != nil {
			res.Identity = ev.Identity.Name
		}
		if res.Verdict != "passed" {
			res.VerdictMillis = ms(ev.Timestamp.Sub(start))
		}
	}
	res.ServerBytes = received.Load() - before
	res.OK = res.Verdict == sc.expected && (sc.expected == "passed" || res.ServerBytes == 0)
	return res, nil
}

var errDropped = errors.New("no answer: dropped")

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// findEvent returns the first drop event of the flow whose client port
// is port, else its first alert, else its flow record.
func findEvent(path string, port uint16) *eve.Event {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var alert, flow *eve.Event
	for _, line := range strings.Split(string(b), "\n") {
		var ev eve.Event
		if json.Unmarshal([]byte(line), &ev) != nil || ev.SrcPort != port {
			continue
		}
		switch ev.EventType {
		case "drop":
			return &ev
		case "alert":
			if alert == nil {
				alert = &ev
			}
		case "flow":
			flow = &ev
		}
	}
	if alert != nil {
		return alert
	}
	return flow
}

func (r *demoReport) print(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "interdict demo: a WireGuard hub on %s with the default rule pack\n", r.Hub)
	fmt.Fprintf(&b, "runner: %s\n\n", r.Runner)
	for _, s := range r.Scenes {
		mark := "ok"
		if !s.OK {
			mark = "UNEXPECTED"
		}
		fmt.Fprintf(&b, "[%s] %s: %s\n", mark, s.Name, s.Sent)
		v := s.Verdict
		if s.HTTPStatus != 0 {
			v += fmt.Sprintf(" (HTTP %d)", s.HTTPStatus)
		}
		if s.Verdict == "dropped" {
			v += " (the runner's connection gets no answer)"
		}
		fmt.Fprintf(&b, "    verdict   %s after %.1f ms\n", v, s.VerdictMillis)
		switch {
		case s.Trigger != "":
			fmt.Fprintf(&b, "    trigger   %s (%s)\n", s.Trigger, s.Rule)
		case s.Rule != "":
			fmt.Fprintf(&b, "    rule      %d %s\n", s.SID, s.Rule)
		}
		if s.OpenFlow != "" {
			fmt.Fprintf(&b, "    open flow %s\n", s.OpenFlow)
		}
		if s.Identity != "" {
			fmt.Fprintf(&b, "    identity  %s\n", s.Identity)
		}
		fmt.Fprintf(&b, "    server    received %d bytes of it\n\n", s.ServerBytes)
	}
	if r.OK {
		fmt.Fprintf(&b, "Every scene ended as expected. Run your own hub with `interdict run`.\n")
	} else {
		fmt.Fprintf(&b, "Some scenes did not end as expected (see UNEXPECTED above).\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// toOne is the demo hub's upstream dialer: every flow goes to the local
// web server, so nothing leaves loopback.
type toOne struct{ to netip.AddrPort }

func (d toOne) Dial(ctx context.Context, network string, _, _ netip.AddrPort) (net.Conn, error) {
	var nd net.Dialer
	return nd.DialContext(ctx, network, d.to.String())
}

// countingListener counts every byte the web server reads.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.n}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.n.Add(int64(n))
	return n, err
}

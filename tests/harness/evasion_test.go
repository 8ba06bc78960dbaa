package harness

// The evasion generator (tests/evasion) through the appliance's data path:
// the embedded default config's protocol policy around the enforce handler
// over the real engine, real client and server TCP stacks. A response
// variant is delivered if the client received every byte the server sent;
// a request variant if the server received every byte the client sent.
// Neither may happen: each must be stopped by a rule (an EVE drop with
// reason "rules") or refused as ambiguous or over a limit (reason
// "protocol <ANOMALY>").

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v4"

	"github.com/interdict/interdict/appliance/enforce"
	"github.com/interdict/interdict/appliance/policy"
	"github.com/interdict/interdict/configs"
	"github.com/interdict/interdict/inspect/detect"
	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/inspect/rules"
	"github.com/interdict/interdict/netstack"
	"github.com/interdict/interdict/tests/evasion"
)

// dropCounter counts the EVE drop events by kind as they are written.
type dropCounter struct {
	mu              sync.Mutex
	rules, protocol int
}

func (d *dropCounter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimSpace(p), []byte("\n")) {
		var ev struct {
			EventType string `json:"event_type"`
			Drop      *struct {
				Reason string `json:"reason"`
			} `json:"drop"`
		}
		if json.Unmarshal(line, &ev) != nil || ev.EventType != eve.TypeDrop || ev.Drop == nil {
			continue
		}
		d.mu.Lock()
		switch {
		case ev.Drop.Reason == "rules":
			d.rules++
		case strings.HasPrefix(ev.Drop.Reason, "protocol "):
			d.protocol++
		}
		d.mu.Unlock()
	}
	return len(p), nil
}

func (d *dropCounter) get() (int, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rules, d.protocol
}

// evasionServer answers "GET /v/N" with response variant N and records
// everything else it receives, handing each conn's bytes over at its end.
type evasionServer struct {
	resps []string
	got   chan []byte
	h2    atomic.Pointer[evasion.H2] // the HTTP/2 exchange the next conn plays
}

func (s *evasionServer) serve(c net.Conn) {
	defer c.Close()
	var rec []byte
	b := make([]byte, 32<<10)
	h2 := s.h2.Load()
	for {
		n, err := c.Read(b)
		rec = append(rec, b[:n]...)
		if h2 != nil && len(rec) >= len(h2.Client) {
			// The whole client side arrived: answer with the server's.
			_, _ = c.Write(h2.Server)
			s.got <- rec
			return
		}
		if bytes.HasPrefix(rec, []byte("GET /v/")) && bytes.Contains(rec, []byte("\r\n\r\n")) {
			i, _ := strconv.Atoi(string(rec[7 : bytes.IndexByte(rec[7:], ' ')+7]))
			_, _ = io.WriteString(c, s.resps[i])
			s.got <- rec
			return
		}
		if err != nil {
			s.got <- rec
			return
		}
	}
}

func TestEvasionThroughAppliance(t *testing.T) {
	var cfg struct {
		Policy policy.Config `yaml:"policy"`
	}
	require.NoError(t, yaml.Unmarshal(configs.Default, &cfg))
	set := &rules.Set{}
	require.NoError(t, set.Load(strings.NewReader(evasion.Rules), "evasion.rules", nil))
	require.Empty(t, set.Errors)
	e, err := detect.New(set.Rules, detect.Options{})
	require.NoError(t, err)

	reg := prometheus.NewRegistry()
	drops := &dropCounter{}
	w := eve.NewWriter(drops)
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := policy.New(cfg.Policy, policy.Options{Registerer: reg, Events: w, Logger: discard})
	require.NoError(t, err)
	h, err := enforce.New(e, enforce.Config{Events: w, Registerer: reg, OnResult: p.OnResult, Logger: discard})
	require.NoError(t, err)
	n := New(t, netstack.WithHandler(policy.Wrap(h, p)), netstack.WithMetrics(reg))
	t.Cleanup(p.Close)
	require.NoError(t, p.Attach(n.Appliance.Guard(), n.Appliance.Flows()))
	srv := &evasionServer{resps: evasion.Responses(), got: make(chan []byte, 1)}
	serve(t, n, httpAP, srv.serve)

	// detected and refused per class: responses, requests, HTTP/2
	// responses, HTTP/2 requests.
	var detected, refused [4]int
	var missed []string
	// outcome classifies one variant once both ends are done.
	outcome := func(class int, name string, delivered bool, r0, p0 int) {
		if delivered {
			missed = append(missed, name)
			return
		}
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			r, pr := drops.get()
			switch {
			case r > r0:
				detected[class]++
				return
			case pr > p0:
				refused[class]++
				return
			}
		}
		missed = append(missed, name+" (stopped without a drop event)")
	}
	exchange := func(req []byte) (clientGot, serverGot []byte) {
		c, err := n.Dial(t.Context(), httpAP)
		require.NoError(t, err)
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		go func() {
			_, _ = c.Write(req)
			_ = c.CloseWrite()
		}()
		clientGot, _ = io.ReadAll(c)
		select {
		case serverGot = <-srv.got:
		case <-time.After(10 * time.Second):
			t.Fatal("the server conn did not end")
		}
		return clientGot, serverGot
	}

	// The race run (make race, -short) takes every 5th variant; make test
	// runs them all.
	step := 1
	if testing.Short() {
		step = 5
	}
	for i, resp := range srv.resps {
		if i%step != 0 {
			continue
		}
		r0, p0 := drops.get()
		got, _ := exchange(fmt.Appendf(nil, "GET /v/%d HTTP/1.1\r\nHost: h\r\n\r\n", i))
		outcome(0, fmt.Sprintf("response %d %q", i, resp[:min(len(resp), 80)]), string(got) == resp, r0, p0)
	}
	for i, req := range evasion.Requests() {
		if i%step != 0 {
			continue
		}
		r0, p0 := drops.get()
		_, got := exchange([]byte(req))
		outcome(1, fmt.Sprintf("request %d %q", i, req[:min(len(req), 80)]), string(got) == req, r0, p0)
	}
	for _, v := range evasion.H2Variants() {
		r0, p0 := drops.get()
		srv.h2.Store(&v)
		clientGot, serverGot := exchange(v.Client)
		srv.h2.Store(nil)
		delivered, class := string(clientGot) == string(v.Server), 2
		if v.InRequest {
			delivered, class = string(serverGot) == string(v.Client), 3
		}
		outcome(class, "HTTP/2 "+v.Name, delivered, r0, p0)
	}
	for i, name := range []string{"HTTP/1 responses", "HTTP/1 requests", "HTTP/2 responses", "HTTP/2 requests"} {
		t.Logf("evasion variants through the appliance, %s: %d detected and blocked, %d refused as ambiguous or over a limit",
			name, detected[i], refused[i])
	}
	t.Logf("delivered: %d", len(missed))
	for _, m := range missed[:min(len(missed), 20)] {
		t.Log("delivered: " + m)
	}
	require.Empty(t, missed)
}

package evasion

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v4"

	"github.com/interdict/interdict/configs"
	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/detect"
	"github.com/interdict/interdict/inspect/rules"

	_ "github.com/interdict/interdict/inspect/http1"
)

// rejected is the set of anomalies the default policy refuses, read from
// the embedded default config so the test follows it.
func rejected(t *testing.T) map[string]bool {
	var c struct {
		Policy struct {
			Protocol struct {
				Anomalies map[string]string `yaml:"anomalies"`
			} `yaml:"protocol"`
		} `yaml:"policy"`
	}
	require.NoError(t, yaml.Unmarshal(configs.Default, &c))
	out := map[string]bool{}
	for k, v := range c.Policy.Protocol.Anomalies {
		if v != "alert" && v != "off" {
			out[k] = true
		}
	}
	require.NotEmpty(t, out)
	return out
}

type outcome int

const (
	detected outcome = iota
	refused
	missed
)

// run feeds req then resp in pieces. inReq says the forbidden content
// is in the request: it must be stopped before the request's last piece
// has passed, not when the response comes back.
func run(t *testing.T, e *detect.Engine, rej map[string]bool, req, resp string, piece int, inReq bool) (outcome, string) {
	f := e.NewFlow(inspect.FlowMeta{ID: 1, Proto: inspect.ProtoTCP})
	var anoms []string
	res := detected
	check := func(r inspect.Result) bool {
		if len(r.Alerts) > 0 {
			return true
		}
		for _, ev := range r.Events {
			if ev.Anomaly != nil {
				anoms = append(anoms, ev.Anomaly.Event)
				if rej[ev.Anomaly.Event] {
					res = refused
					return true
				}
			}
		}
		return false
	}
	for _, m := range []struct {
		dir  inspect.Direction
		data string
	}{{inspect.ToServer, req}, {inspect.ToClient, resp}} {
		for off := 0; off < len(m.data); off += piece {
			if check(f.Inspect(m.dir, []byte(m.data[off:min(off+piece, len(m.data))]))) {
				if inReq && m.dir == inspect.ToClient {
					return missed, fmt.Sprintf("only at the response %v", anoms)
				}
				return res, ""
			}
		}
	}
	if check(f.Close()) {
		// Found only at the end of the flow: the bytes were forwarded.
		return missed, fmt.Sprintf("only at close %v", anoms)
	}
	return missed, fmt.Sprintf("anomalies %v", anoms)
}

func TestEvasionVariants(t *testing.T) {
	set := &rules.Set{}
	require.NoError(t, set.Load(strings.NewReader(Rules), "evasion.rules", nil))
	require.Empty(t, set.Errors)
	e, err := detect.New(set.Rules, detect.Options{})
	require.NoError(t, err)
	rej := rejected(t)

	// counts per class (responses, requests, HTTP/2 downloads, HTTP/2
	// requests) and outcome, each variant counted once per cut.
	var counts [4][3]int
	var missedList []string
	pieces := []int{1 << 20, 1460, 7}
	if testing.Short() {
		// The race run (make race) takes the short suite; the full one
		// (make test) cuts every variant three ways.
		pieces = pieces[:2]
	}
	benign := "GET /ok HTTP/1.1\r\nHost: h\r\n\r\n"
	for i, resp := range Responses() {
		for _, piece := range pieces {
			o, why := run(t, e, rej, benign, resp, piece, false)
			counts[0][o]++
			if o == missed && len(missedList) < 20 {
				missedList = append(missedList, fmt.Sprintf("response %d piece %d: %q: %s", i, piece, resp[:min(len(resp), 120)], why))
			}
		}
	}
	for i, req := range Requests() {
		for _, piece := range pieces {
			if piece == 7 && len(req) > 100000 {
				piece = 997
			}
			o, why := run(t, e, rej, req, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", piece, true)
			counts[1][o]++
			if o == missed && len(missedList) < 40 {
				missedList = append(missedList, fmt.Sprintf("request %d piece %d: %q: %s", i, piece, req[:min(len(req), 120)], why))
			}
		}
	}
	for _, v := range H2Variants() {
		for _, piece := range pieces {
			o, why := run(t, e, rej, string(v.Client), string(v.Server), piece, v.InRequest)
			class := 2
			if v.InRequest {
				class = 3
			}
			counts[class][o]++
			if o == missed && len(missedList) < 60 {
				missedList = append(missedList, fmt.Sprintf("HTTP/2 %s piece %d: %s", v.Name, piece, why))
			}
		}
	}
	total := 0
	for i, name := range []string{"HTTP/1 responses", "HTTP/1 requests", "HTTP/2 responses", "HTTP/2 requests"} {
		c := counts[i]
		t.Logf("%s cut %d ways: %d detected, %d refused as ambiguous or over a limit, %d delivered uninspected",
			name, len(pieces), c[detected], c[refused], c[missed])
		total += c[missed]
	}
	for _, m := range missedList {
		t.Log(m)
	}
	require.Zero(t, total)
}

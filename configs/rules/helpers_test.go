package rules

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/detect"
	ir "github.com/interdict/interdict/inspect/rules"

	// The data path registers these; the pack's http, tls and dns rules
	// need them to see any buffer.
	_ "github.com/interdict/interdict/inspect/dns"
	_ "github.com/interdict/interdict/inspect/http1"
	_ "github.com/interdict/interdict/inspect/tls"
)

// Addresses: src is a workload inside the default $HOME_NET; ext is
// outside it; internal is inside it.
var (
	srcAddr      = netip.MustParseAddrPort("10.1.2.3:41000")
	extAddr      = netip.MustParseAddrPort("203.0.113.10:80")
	internalAddr = netip.MustParseAddrPort("10.9.9.9:80")
	resolverAddr = netip.MustParseAddrPort("10.0.0.2:53")
)

type pack struct {
	set     *ir.Set
	engine  *detect.Engine
	classes map[string]ir.Class
}

var (
	packOnce sync.Once
	packVal  *pack
	packErr  error
)

// loadPack loads the embedded files exactly as the appliance would: the
// pack's classification.config, then every .rules file in order, then the
// engine with the registered app-layer parsers.
func loadPack(t testing.TB) *pack {
	t.Helper()
	packOnce.Do(func() {
		p := &pack{set: &ir.Set{}}
		f, err := Files.Open(Classification)
		if err != nil {
			packErr = err
			return
		}
		defer f.Close()
		if p.classes, err = ir.LoadClassification(f, Classification); err != nil {
			packErr = err
			return
		}
		for _, name := range RuleFiles() {
			rf, err := Files.Open(name)
			if err != nil {
				packErr = err
				return
			}
			err = p.set.Load(rf, name, &ir.Options{Classification: p.classes})
			rf.Close()
			if err != nil {
				packErr = err
				return
			}
		}
		if p.engine, packErr = detect.New(p.set.Rules, detect.Options{}); packErr != nil {
			return
		}
		packVal = p
	})
	require.NoError(t, packErr)
	return packVal
}

// example is one flow: bytes towards the server, optionally answered.
type example struct {
	name string
	udp  bool
	dst  netip.AddrPort // zero: extAddr (TCP) or resolverAddr (UDP)
	// toServer is the client's stream (TCP) or one datagram per element
	// (UDP); toClient likewise, sent after each toServer element.
	toServer []string
	toClient []string
}

func tcp(name string, data ...string) example { return example{name: name, toServer: data} }

func to(dst netip.AddrPort, e example) example { e.dst = dst; return e }

func udp(name string, dgrams ...[]byte) example {
	e := example{name: name, udp: true}
	for _, d := range dgrams {
		e.toServer = append(e.toServer, string(d))
	}
	return e
}

func tlsFlow(name, sni string) example {
	return example{name: name, dst: netip.MustParseAddrPort("203.0.113.10:443"), toServer: []string{string(clientHello(sni))}}
}

// outcome is what a flow produced: the sids that alerted with their actions,
// and the strongest action of any Inspect call.
type outcome struct {
	sids   map[uint32]inspect.Action
	action inspect.Action
	// app is the app-layer protocol whose parser produced an event ("" if
	// none did): proof that an HTTP, DNS or TLS example was parsed, so a
	// negative cannot pass because the bytes were malformed.
	app string
}

// list returns the sids that fired, sorted (as ints, so failures print in
// decimal).
func (o outcome) list() []int {
	var s []int
	for sid := range o.sids {
		s = append(s, int(sid))
	}
	sort.Ints(s)
	return s
}

// wantApp is the app-layer protocol an example's bytes should be detected
// as.
func (ex example) wantApp() string {
	switch {
	case ex.udp:
		return "dns"
	case len(ex.toServer) > 0 && strings.HasPrefix(ex.toServer[0], "\x16\x03"):
		return "tls"
	case len(ex.toServer) > 0 && (strings.HasPrefix(ex.toServer[0], "GET ") || strings.HasPrefix(ex.toServer[0], "POST ")):
		return "http"
	}
	return ""
}

// run feeds an example through a new flow as the data path does: each
// direction's bytes in order, split into pieces of at most split bytes
// (0: as given), then Close.
func run(e *detect.Engine, ex example, split int) outcome {
	meta := inspect.FlowMeta{ID: 1, Proto: inspect.ProtoTCP, Src: srcAddr, Dst: ex.dst}
	if ex.udp {
		meta.Proto = inspect.ProtoUDP
		meta.Src = netip.MustParseAddrPort("10.1.2.3:53000")
		if !meta.Dst.IsValid() {
			meta.Dst = resolverAddr
		}
	} else if !meta.Dst.IsValid() {
		meta.Dst = extAddr
	}
	out := outcome{sids: map[uint32]inspect.Action{}}
	add := func(r inspect.Result) {
		if r.Action.Stronger(out.action) {
			out.action = r.Action
		}
		for _, a := range r.Alerts {
			out.sids[a.Rule.SID] = a.Rule.Action
		}
		for _, ev := range r.Events {
			switch {
			case ev.HTTP != nil:
				out.app = "http"
			case ev.DNS != nil:
				out.app = "dns"
			case ev.TLS != nil:
				out.app = "tls"
			}
		}
	}
	fl := e.NewFlow(meta)
	feed := func(dir inspect.Direction, data string) {
		if ex.udp || split <= 0 {
			add(fl.Inspect(dir, []byte(data)))
			return
		}
		for len(data) > 0 {
			n := min(split, len(data))
			add(fl.Inspect(dir, []byte(data[:n])))
			data = data[n:]
		}
	}
	toClient := ex.toClient
	if toClient == nil && ex.wantApp() == "http" {
		// Answer each request as a server would, so the to_client leg is
		// inspected too and the parser pairs request and response.
		for range ex.toServer {
			toClient = append(toClient, okResponse)
		}
	}
	for i, d := range ex.toServer {
		feed(inspect.ToServer, d)
		if i < len(toClient) {
			feed(inspect.ToClient, toClient[i])
		}
	}
	add(fl.Close())
	return out
}

// okResponse is a plain answer to any request.
const okResponse = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"

// req builds an HTTP/1.1 request. headers are "Name: value" lines; Host and
// a neutral User-Agent are added unless given. A body gets Content-Length.
func req(method, uri string, headers []string, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", method, uri)
	has := func(name string) bool {
		for _, h := range headers {
			if strings.HasPrefix(strings.ToLower(h), strings.ToLower(name)+":") {
				return true
			}
		}
		return false
	}
	if !has("Host") {
		b.WriteString("Host: api.example.com\r\n")
	}
	if !has("User-Agent") {
		b.WriteString("User-Agent: interdict-test/1.0\r\n")
	}
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	if body != "" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return b.String()
}

func get(uri string, headers ...string) string { return req("GET", uri, headers, "") }

func post(uri, body string, headers ...string) string {
	if len(headers) == 0 {
		headers = []string{"Content-Type: application/x-www-form-urlencoded"}
	}
	return req("POST", uri, headers, body)
}

// chunkedPost sends body parts as separate chunks, so a token spanning two
// parts has chunk framing in the middle of it on the wire.
func chunkedPost(uri string, parts ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: interdict-test/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n", uri)
	for _, p := range parts {
		fmt.Fprintf(&b, "%x\r\n%s\r\n", len(p), p)
	}
	b.WriteString("0\r\n\r\n")
	return b.String()
}

// dnsQuery builds a DNS query for an A record of name.
func dnsQuery(name string) []byte {
	b := []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
	for _, l := range strings.Split(name, ".") {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0, 0, 1, 0, 1)
}

// clientHello builds a TLS 1.2 record with a ClientHello carrying sni.
func clientHello(sni string) []byte {
	u16 := func(b []byte, n int) []byte { return binary.BigEndian.AppendUint16(b, uint16(n)) }
	var sniExt []byte
	sniExt = u16(sniExt, len(sni)+3)
	sniExt = append(sniExt, 0)
	sniExt = u16(sniExt, len(sni))
	sniExt = append(sniExt, sni...)
	var exts []byte
	exts = u16(exts, 0)
	exts = u16(exts, len(sniExt))
	exts = append(exts, sniExt...)

	body := []byte{3, 3}
	body = append(body, make([]byte, 32)...) // random
	body = append(body, 0)                   // session id
	body = append(body, 0, 2, 0x13, 0x01)    // one suite
	body = append(body, 1, 0)                // null compression
	body = u16(body, len(exts))
	body = append(body, exts...)

	hs := []byte{1, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}
	hs = append(hs, body...)
	rec := []byte{0x16, 3, 1}
	rec = u16(rec, len(hs))
	return append(rec, hs...)
}

// ruleFileSIDs maps each rule file to its sids, from the loaded set.
func ruleFileSIDs(p *pack) map[string][]uint32 {
	out := map[string][]uint32{}
	for _, r := range p.set.Rules {
		out[r.Info.File] = append(out[r.Info.File], r.Info.SID)
	}
	return out
}

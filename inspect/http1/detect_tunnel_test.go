package http1_test

import (
	"bytes"
	"crypto/tls"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
	"github.com/interdict/interdict/inspect/detect"
	"github.com/interdict/interdict/inspect/rules"
	_ "github.com/interdict/interdict/inspect/tls" // registers the TLS parser the tunnel is probed with
)

func engineFor(t *testing.T, text string) *detect.Engine {
	t.Helper()
	set := &rules.Set{}
	require.NoError(t, set.Load(strings.NewReader(text), "t.rules", nil))
	require.Empty(t, set.Errors)
	eng, err := detect.New(set.Rules, detect.Options{Protos: applayer.Protos()})
	require.NoError(t, err)
	require.Empty(t, eng.Rejected())
	return eng
}

var tunnelMeta = inspect.FlowMeta{Proto: inspect.ProtoTCP, Src: netip.MustParseAddrPort("10.0.0.1:40000"),
	Dst: netip.MustParseAddrPort("10.0.0.2:3128")}

// TestConnectTunnelIsInspected: after a CONNECT answered 200, what the
// tunnel carries is detected and parsed afresh: an HTTP/1 request in it
// is a transaction of its own (a rule that matched the CONNECT fires
// again on it), and HTTP/2 in it is HTTP/2, with its connection frames'
// alerts carrying what the frames said.
func TestConnectTunnelIsInspected(t *testing.T) {
	eng := engineFor(t, `alert http any any -> any any (msg:"host"; http.host; content:"a.example"; sid:1;)
alert http any any -> any any (msg:"inner"; http.uri; content:"/secret"; sid:2;)
alert http2 any any -> any any (msg:"goaway"; http2.errorcode:INTERNAL_ERROR; sid:3;)
alert tls any any -> any any (msg:"sni"; tls.sni; content:"secret.example"; sid:4;)
`)
	sids := func(r inspect.Result) (out []uint32) {
		for _, a := range r.Alerts {
			out = append(out, a.Rule.SID)
		}
		return out
	}

	f := eng.NewFlow(tunnelMeta)
	assert.Equal(t, []uint32{1}, sids(f.Inspect(inspect.ToServer, []byte("CONNECT a.example:80 HTTP/1.1\r\nHost: a.example:80\r\n\r\n"))))
	assert.Empty(t, sids(f.Inspect(inspect.ToClient, []byte("HTTP/1.1 200 OK\r\n\r\n"))))
	r := f.Inspect(inspect.ToServer, []byte("GET /secret HTTP/1.1\r\nHost: a.example\r\n\r\n"))
	assert.ElementsMatch(t, []uint32{1, 2}, sids(r), "the tunnelled request is inspected as HTTP")
	for _, a := range r.Alerts {
		assert.NotZero(t, a.TxID, "numbered after the CONNECT")
	}

	f = eng.NewFlow(tunnelMeta)
	f.Inspect(inspect.ToServer, []byte("CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n"))
	f.Inspect(inspect.ToClient, []byte("HTTP/1.1 200 OK\r\n\r\n"))
	var cli bytes.Buffer
	cli.WriteString(http2.ClientPreface)
	fr := http2.NewFramer(&cli, nil)
	fr.WriteSettings()
	fr.WriteGoAway(0, http2.ErrCodeInternal, nil)
	r = f.Inspect(inspect.ToServer, cli.Bytes())
	require.Equal(t, []uint32{3}, sids(r))
	assert.Equal(t, "http2", inspect.AppProtoOf(f))
	h := r.Alerts[0].HTTP
	require.NotNil(t, h, "the connection frame's alert carries its record")
	require.NotNil(t, h.H2Request.ErrorCode)
	assert.Equal(t, uint32(http2.ErrCodeInternal), *h.H2Request.ErrorCode)
	assert.Zero(t, h.StreamID)

	// TLS through the proxy: its SNI is read.
	f = eng.NewFlow(tunnelMeta)
	f.Inspect(inspect.ToServer, []byte("CONNECT secret.example:443 HTTP/1.1\r\nHost: secret.example:443\r\n\r\n"))
	f.Inspect(inspect.ToClient, []byte("HTTP/1.1 200 OK\r\n\r\n"))
	r = f.Inspect(inspect.ToServer, clientHello(t, "secret.example"))
	assert.Equal(t, []uint32{4}, sids(r))
	assert.Equal(t, "tls", inspect.AppProtoOf(f))
}

// TestConnectTunnelOfUnknownProtocol: a tunnel whose content no parser
// recognises is no anomaly of the proxy's HTTP port (the flow was read
// as HTTP), and its raw bytes are still inspected.
func TestConnectTunnelOfUnknownProtocol(t *testing.T) {
	set := &rules.Set{}
	require.NoError(t, set.Load(strings.NewReader(`alert tcp any any -> any any (msg:"raw"; content:"SSH-2.0-evil"; sid:1;)`+"\n"), "t.rules", nil))
	eng, err := detect.New(set.Rules, detect.Options{Protos: applayer.Protos(), HTTPPorts: []uint16{3128}})
	require.NoError(t, err)
	f := eng.NewFlow(tunnelMeta)
	f.Inspect(inspect.ToServer, []byte("CONNECT b.example:22 HTTP/1.1\r\nHost: b.example:22\r\n\r\n"))
	f.Inspect(inspect.ToClient, []byte("HTTP/1.1 200 OK\r\n\r\n"))
	var events []string
	var alerts int
	for _, c := range []struct {
		dir  inspect.Direction
		data string
	}{{inspect.ToServer, "SSH-2.0-evil\r\n"}, {inspect.ToClient, strings.Repeat("\x00\x01", 700)}, {inspect.ToServer, strings.Repeat("\x02", 2000)}} {
		r := f.Inspect(c.dir, []byte(c.data))
		alerts += len(r.Alerts)
		for _, e := range r.Events {
			if e.Anomaly != nil {
				events = append(events, e.Anomaly.Event)
			}
		}
	}
	assert.Equal(t, 1, alerts, "the tunnel's raw bytes are inspected")
	assert.NotContains(t, events, "HTTP_PORT_NOT_HTTP")
}

// clientHello is the first flight of a Go TLS client for sni.
func clientHello(t *testing.T, sni string) []byte {
	t.Helper()
	c1, c2 := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = tls.Client(c1, &tls.Config{ServerName: sni, MinVersion: tls.VersionTLS12}).Handshake()
	}()
	buf := make([]byte, 16<<10)
	n, err := c2.Read(buf)
	require.NoError(t, err)
	c2.Close()
	c1.Close()
	<-done
	return buf[:n]
}

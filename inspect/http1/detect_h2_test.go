package http1_test

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
	"github.com/interdict/interdict/inspect/detect"
	"github.com/interdict/interdict/inspect/http1"
	"github.com/interdict/interdict/inspect/rules"
)

func block(kv ...string) []byte {
	var b bytes.Buffer
	enc := hpack.NewEncoder(&b)
	for i := 0; i < len(kv); i += 2 {
		enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return b.Bytes()
}

// Suricata's http2.* keywords through the loader and the engine: each
// tests the frames or header fields of a stream (or, for the
// connection's own frames, of a transaction of their own) in the
// direction inspected, and a rule alerts once per transaction and
// direction. `alert http1` does not match HTTP/2.
func TestHTTP2Keywords(t *testing.T) {
	text := strings.Join([]string{
		`alert http2 any any -> any any (msg:"goaway"; http2.frametype:GOAWAY; sid:1;)`,
		`alert http2 any any -> any any (msg:"internal"; http2.errorcode:INTERNAL_ERROR; sid:2;)`,
		`alert http2 any any -> any any (msg:"window"; http2.window:>60000; sid:3;)`,
		`alert http2 any any -> any any (msg:"prio"; http2.priority:41; sid:4;)`,
		`alert http2 any any -> any any (msg:"name"; http2.header_name; content:":authority"; sid:5;)`,
		`alert http2 any any -> any any (msg:"header"; http2.header; content:":status: 404"; sid:6;)`,
		`alert http2 any any -> any any (msg:"settings"; http2.frametype:SETTINGS; sid:7;)`,
		`alert http2 any any -> any any (msg:"cancel"; http2.errorcode:!CANCEL; http2.frametype:RST_STREAM; sid:8;)`,
		`alert http1 any any -> any any (msg:"http1 only"; http.method; content:"GET"; sid:9;)`,
		`alert http any any -> any any (msg:"http"; http.method; content:"GET"; sid:10;)`,
		`alert http2 any any -> any any (msg:"streams"; http2.settings:SETTINGS_MAX_CONCURRENT_STREAMS >100; sid:11;)`,
		`alert http2 any any -> any any (msg:"push"; http2.settings:SETTINGS_ENABLE_PUSH; sid:12;)`,
		`alert http2 any any -> any any (msg:"range"; http2.settings:SETTINGS_MAX_CONCURRENT_STREAMS 42-68; sid:13;)`,
		`alert http2 any any -> any any (msg:"hdr"; frame:http2.hdr; content:"|00 00 04 08 00|"; startswith; sid:14;)`,
		`alert http2 any any -> any any (msg:"data"; frame:http2.data; content:"|00 00 ff ff|"; bsize:4; sid:15;)`,
		`alert http2 any any -> any any (msg:"pdu"; frame:http2.pdu; content:"|01 04 00 00 00 01|"; offset:3; depth:6; sid:16;)`,
	}, "\n")
	set := &rules.Set{}
	require.NoError(t, set.Load(strings.NewReader(text), "h2.rules", nil))
	require.Empty(t, set.Errors)
	eng, err := detect.New(set.Rules, detect.Options{Protos: []applayer.Proto{{Name: http1.AppProto2, Transport: inspect.ProtoTCP,
		Probe: http1.ProbeH2, New: func() applayer.Parser { return http1.New(http1.WithPriorKnowledge()) }, Buffers: http1.Buffers}}})
	require.NoError(t, err)
	require.Empty(t, eng.Rejected())

	var cli, srv bytes.Buffer
	cli.WriteString(http2.ClientPreface)
	cf, sf := http2.NewFramer(&cli, nil), http2.NewFramer(&srv, nil)
	cf.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 250})
	cf.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true, Priority: http2.PriorityParam{Weight: 41},
		BlockFragment: block(":method", "GET", ":scheme", "http", ":authority", "a.example", ":path", "/")})
	cf.WriteWindowUpdate(0, 65535)
	sf.WriteSettings()
	sf.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, BlockFragment: block(":status", "404")})
	sf.WriteRSTStream(1, http2.ErrCodeInternal)
	cf.WriteGoAway(1, http2.ErrCodeInternal, nil)

	f := eng.NewFlow(inspect.FlowMeta{Proto: inspect.ProtoTCP, Src: netip.MustParseAddrPort("10.0.0.1:40000"),
		Dst: netip.MustParseAddrPort("10.0.0.2:80")})
	type hit struct {
		sid uint32
		dir inspect.Direction
	}
	var got []hit
	for _, r := range []inspect.Result{f.Inspect(inspect.ToServer, cli.Bytes()[:len(cli.Bytes())-17]),
		f.Inspect(inspect.ToClient, srv.Bytes()), f.Inspect(inspect.ToServer, cli.Bytes()[len(cli.Bytes())-17:]), f.Close()} {
		for _, a := range r.Alerts {
			got = append(got, hit{a.Rule.SID, a.Dir})
			assert.Equal(t, "http2", a.AppProto)
		}
	}
	cs, sc := inspect.ToServer, inspect.ToClient
	assert.ElementsMatch(t, []hit{{14, cs}, {15, cs}, {16, sc}, {7, cs}, {11, cs}, {4, cs}, {5, cs}, {10, cs}, {3, cs}, {7, sc}, {6, sc}, {2, sc}, {8, sc}, {1, cs}, {2, cs}}, got)
}

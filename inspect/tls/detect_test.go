package tls_test

import (
	"crypto/sha1"
	cryptotls "crypto/tls"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/detect"
	"github.com/interdict/interdict/inspect/rules"
	itls "github.com/interdict/interdict/inspect/tls"
)

// TestTLSRules runs the TLS keywords through the rule loader and the
// engine over a real TLS 1.2 handshake: each rule that should fire does,
// each that should not does not.
func TestTLSRules(t *testing.T) {
	toServer, toClient, leaf, _ := itls.Handshake(t, cryptotls.VersionTLS12)
	sum := sha1.Sum(leaf.Raw)
	var fp []string
	for _, b := range sum {
		fp = append(fp, fmt.Sprintf("%02x", b))
	}
	text := strings.Join([]string{
		`alert tls any any -> any any (msg:"subject"; flow:to_client; tls.cert_subject; content:"CN=cert.interdict.test"; endswith; sid:1;)`,
		`alert tls any any -> any any (msg:"issuer"; tls.cert_issuer; content:"O=Interdict Test,"; sid:2;)`,
		`alert tls any any -> any any (msg:"serial"; tls.cert_serial; content:"00:9A:01:02:03"; bsize:14; sid:3;)`,
		`alert tls any any -> any any (msg:"fingerprint"; tls.cert_fingerprint; content:"` + strings.Join(fp, ":") + `"; sid:4;)`,
		`alert tls any any -> any any (msg:"certs"; tls.certs; content:"cert.interdict.test"; sid:5;)`,
		`alert tls any any -> any any (msg:"version 1.2"; tls.version:1.2; sid:6;)`,
		`alert tls any any -> any any (msg:"version 1.3"; tls.version:1.3; sid:7;)`,
		`alert tls any any -> any any (msg:"legacy subject"; tls.subject:"cert.interdict"; sid:8;)`,
		`alert tls any any -> any any (msg:"legacy subject negated"; tls.subject:!"cert.interdict"; sid:9;)`,
		`alert tls any any -> any any (msg:"ja3 string"; ja3.string; content:"771,"; startswith; sid:10;)`,
		`alert tls any any -> any any (msg:"ja3s"; ja3s.string; content:"771,"; startswith; sid:11;)`,
		`alert tls any any -> any any (msg:"wrong subject"; tls.cert_subject; content:"CN=other"; sid:12;)`,
		`alert tls any any -> any any (msg:"legacy issuerdn"; tls.issuerdn:"C=US"; sid:13;)`,
		`alert tls any any -> any any (msg:"ja4"; ja4.hash; content:"t12d"; startswith; sid:14;)`,
		`alert tls any any -> any any (msg:"san"; tls.subjectaltname; content:"alt.interdict.test"; bsize:18; sid:15;)`,
		`alert tls any any -> any any (msg:"random bytes"; flow:to_server; tls.random_bytes; bsize:28; sid:16;)`,
		`alert tls any any -> any any (msg:"two stand-ins"; ja4.hash; content:"_"; tls.random_time; bsize:4; sid:17;)`,
		`alert tls any any -> any any (msg:"alpn offered"; flow:to_server; tls.alpn; content:"http/1.1"; bsize:8; sid:18;)`,
		`alert tls any any -> any any (msg:"alpn chosen"; flow:to_client; tls.alpn; content:"h2"; bsize:2; sid:19;)`,
		`alert tls any any -> any any (msg:"alpn not chosen"; flow:to_client; tls.alpn; content:"http/1.1"; sid:20;)`,
	}, "\n")
	set := &rules.Set{}
	require.NoError(t, set.Load(strings.NewReader(text), "tls.rules", nil))
	require.Empty(t, set.Errors)
	eng, err := detect.New(set.Rules, detect.Options{})
	require.NoError(t, err)
	require.Empty(t, eng.Rejected())
	for _, chunk := range []int{3, 1 << 20} {
		f := eng.NewFlow(inspect.FlowMeta{Proto: inspect.ProtoTCP, Src: netip.MustParseAddrPort("10.0.0.1:40000"),
			Dst: netip.MustParseAddrPort("10.0.0.2:443")})
		got := map[uint32]int{}
		collect := func(r inspect.Result) {
			for _, a := range r.Alerts {
				got[a.Rule.SID]++
			}
		}
		// Interleave as on the wire: the client's hello, the server's
		// flight, the client's answer.
		hello := helloLen(toServer)
		for _, part := range []struct {
			dir  inspect.Direction
			data []byte
		}{{inspect.ToServer, toServer[:hello]}, {inspect.ToClient, toClient}, {inspect.ToServer, toServer[hello:]}} {
			for b := part.data; len(b) > 0; {
				n := min(chunk, len(b))
				collect(f.Inspect(part.dir, b[:n]))
				b = b[n:]
			}
		}
		collect(f.Close())
		var sids []int
		for sid, n := range got {
			assert.Equal(t, 1, n, "sid %d alerts once per flow", sid)
			sids = append(sids, int(sid))
		}
		sort.Ints(sids)
		assert.Equal(t, []int{1, 2, 3, 4, 5, 6, 8, 10, 11, 13, 14, 15, 16, 17, 18, 19}, sids, "chunk %d", chunk)
	}
}

// helloLen is the length of the first TLS record.
func helloLen(b []byte) int { return 5 + (int(b[3])<<8 | int(b[4])) }

// TestAppLayerEvent: app-layer-event matches the anomalies the parser
// raises, and a rule naming an event it never raises is refused.
func TestAppLayerEvent(t *testing.T) {
	text := `alert tls any any -> any any (msg:"bad record type"; app-layer-event:tls.invalid_record_type; sid:1;)
alert tls any any -> any any (msg:"sni type"; app-layer-event:tls.invalid_sni_type; sid:2;)
alert tls any any -> any any (msg:"never raised"; app-layer-event:tls.heartbeat_message; sid:3;)
alert tls any any -> any any (msg:"generic"; app-layer-event:applayer_mismatch_protocol_both_directions; sid:4;)
`
	set := &rules.Set{}
	require.NoError(t, set.Load(strings.NewReader(text), "ev.rules", nil))
	require.Len(t, set.Errors, 1)
	assert.Equal(t, 4, set.Errors[0].SID)
	eng, err := detect.New(set.Rules, detect.Options{})
	require.NoError(t, err)
	require.Len(t, eng.Rejected(), 1)
	assert.Equal(t, 3, eng.Rejected()[0].SID)
	assert.Contains(t, eng.Rejected()[0].Reason, "does not raise it")

	f := eng.NewFlow(inspect.FlowMeta{Proto: inspect.ProtoTCP, Src: netip.MustParseAddrPort("10.0.0.1:40000"),
		Dst: netip.MustParseAddrPort("10.0.0.2:443")})
	toServer, _, _, _ := itls.Handshake(t, cryptotls.VersionTLS12)
	hello := helloLen(toServer)
	var sids []uint32
	for _, r := range []inspect.Result{f.Inspect(inspect.ToServer, toServer[:hello]),
		// The server answers with a record of type 99: framing is lost.
		f.Inspect(inspect.ToClient, []byte{99, 3, 3, 0, 1, 0}), f.Close()} {
		for _, a := range r.Alerts {
			sids = append(sids, a.Rule.SID)
		}
	}
	assert.Equal(t, []uint32{1}, sids)
}

// TestSSLVersion: ssl_version matches each side's version, once per side
// (Suricata inspects the one TLS transaction in both directions); "!"
// negates the whole list; a TLS 1.3 client counts as tls1.3 by its
// supported_versions, its server by the version it chose.
func TestSSLVersion(t *testing.T) {
	text := `alert tcp any any -> any any (ssl_version:tls1.2; sid:1;)
alert tcp any any -> any any (ssl_version:!tls1.3,sslv3; sid:2;)
alert tcp any any -> any any (ssl_version:TLS1.3; sid:3;)
alert tcp any any -> any any (ssl_version:!tls1.2; sid:4;)
alert tcp any any -> any any (ssl_version:tls1.0,tls1.1; sid:5;)
alert tcp any any -> any any (flow:to_client; ssl_version:tls1.2,tls1.3; sid:6;)
alert tcp any any -> any any (ssl_version:tls9; sid:7;)
alert tcp any any -> any any (ssl_version:tls1.2,tls1.2; sid:8;)
`
	set := &rules.Set{}
	require.NoError(t, set.Load(strings.NewReader(text), "v.rules", nil))
	var bad []int
	for _, e := range set.Errors {
		bad = append(bad, e.SID)
	}
	assert.Equal(t, []int{7, 8}, bad)
	eng, err := detect.New(set.Rules, detect.Options{})
	require.NoError(t, err)
	for _, tc := range []struct {
		version uint16
		want    map[uint32]int
	}{
		{cryptotls.VersionTLS12, map[uint32]int{1: 2, 2: 2, 6: 1}},
		{cryptotls.VersionTLS13, map[uint32]int{3: 2, 4: 2, 6: 1}},
	} {
		toServer, toClient, _, _ := itls.Handshake(t, tc.version)
		f := eng.NewFlow(inspect.FlowMeta{Proto: inspect.ProtoTCP, Src: netip.MustParseAddrPort("10.0.0.1:40000"),
			Dst: netip.MustParseAddrPort("10.0.0.2:443")})
		got := map[uint32]int{}
		hello := helloLen(toServer)
		for _, r := range []inspect.Result{f.Inspect(inspect.ToServer, toServer[:hello]),
			f.Inspect(inspect.ToClient, toClient), f.Inspect(inspect.ToServer, toServer[hello:]), f.Close()} {
			for _, a := range r.Alerts {
				got[a.Rule.SID]++
			}
		}
		assert.Equal(t, tc.want, got, "version %x", tc.version)
	}
}

// Rule hooks (Suricata 8's tls:client_hello_done in the header) pin a
// rule to a handshake state: a contentless drop hooked at the client's
// hello fires there, in that direction, once; a hook the parser does
// not reach is refused, and one Suricata does not define is too.
func TestRuleHooks(t *testing.T) {
	text := `drop tls:client_hello_done any any -> any any (msg:"hello"; sid:1;)
alert tls:server_hello any any -> any any (msg:"server hello"; sid:2;)
alert tls:server_cert_done any any -> any any (msg:"cert"; tls.cert_subject; content:"cert.interdict.test"; sid:3;)
alert tls:client_hello_done any any -> any any (msg:"wrong sni"; tls.sni; content:"nope"; sid:4;)
alert tls:client_finished any any -> any any (msg:"not reached"; sid:5;)
alert tls:client_hello any any -> any any (msg:"no such hook"; sid:6;)
alert tls:<client_hello_done any any -> any any (msg:"firewall only"; sid:7;)
alert tls:client_hello_done any any -> any any (msg:"direction"; flow:to_client; sid:8;)
`
	set := &rules.Set{}
	require.NoError(t, set.Load(strings.NewReader(text), "hooks.rules", nil))
	var bad []int
	for _, e := range set.Errors {
		bad = append(bad, e.SID)
	}
	assert.Equal(t, []int{6, 7, 8}, bad)
	eng, err := detect.New(set.Rules, detect.Options{})
	require.NoError(t, err)
	require.Len(t, eng.Rejected(), 1)
	assert.Equal(t, 5, eng.Rejected()[0].SID)

	toServer, toClient, _, _ := itls.Handshake(t, cryptotls.VersionTLS12)
	f := eng.NewFlow(inspect.FlowMeta{Proto: inspect.ProtoTCP, Src: netip.MustParseAddrPort("10.0.0.1:40000"),
		Dst: netip.MustParseAddrPort("10.0.0.2:443")})
	type hit struct {
		sid uint32
		dir inspect.Direction
	}
	var got []hit
	hello := helloLen(toServer)
	// Byte by byte: a hook fires once its state is reached, not before.
	for _, part := range []struct {
		dir  inspect.Direction
		data []byte
	}{{inspect.ToServer, toServer[:hello]}, {inspect.ToClient, toClient}, {inspect.ToServer, toServer[hello:]}} {
		for i := range part.data {
			for _, a := range f.Inspect(part.dir, part.data[i:i+1]).Alerts {
				got = append(got, hit{a.Rule.SID, a.Dir})
			}
		}
	}
	assert.Equal(t, []hit{{1, inspect.ToServer}, {2, inspect.ToClient}, {3, inspect.ToClient}}, got)
}

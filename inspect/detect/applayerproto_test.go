package detect

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
	"github.com/interdict/interdict/inspect/rules"
)

// upgrading is fakeHTTP whose Units say http2 once a line "UPGRADE" was
// seen, as the HTTP parser's do after an h2c upgrade.
type upgrading struct {
	fakeHTTP
	h2 bool
}

func (p *upgrading) Feed(dir inspect.Direction, data []byte, emit func(*applayer.Unit)) {
	if bytes.Contains(data, []byte("UPGRADE")) {
		p.h2 = true
	}
	p.fakeHTTP.Feed(dir, data, func(u *applayer.Unit) {
		if p.h2 {
			u.AppProto = "http2"
		}
		emit(u)
	})
}

var upgradingProto = func() applayer.Proto {
	p := fakeProto
	p.New = func() applayer.Parser { return &upgrading{} }
	return p
}()

// app-layer-protocol as Suricata: a rule made only of it fires on the
// chunk where each direction's protocol becomes known and where it
// changes; original and final tell the protocols apart after a change;
// a negated test does not hold while the protocol is unknown.
func TestAppLayerProtocol(t *testing.T) {
	e := mustEngine(t, `alert tcp any any -> any any (msg:"http"; app-layer-protocol:http; sid:1;)
alert tcp any any -> any any (msg:"upgraded"; app-layer-protocol:http1,original; app-layer-protocol:http2,final; sid:2;)
alert tcp any any -> any any (msg:"not tls"; app-layer-protocol:!tls; sid:3;)
alert tcp any any -> any any (msg:"http1 with content"; app-layer-protocol:http1; content:"x1"; sid:4;)
alert tcp any any -> any any (msg:"failed"; app-layer-protocol:failed; sid:5;)
`, Options{Protos: []applayer.Proto{upgradingProto}})
	type hit struct {
		sid uint32
		dir inspect.Direction
	}
	run := func(steps ...any) []hit {
		f := e.NewFlow(tcpMeta)
		var got []hit
		for i := 0; i < len(steps); i += 2 {
			for _, a := range f.Inspect(steps[i].(inspect.Direction), []byte(steps[i+1].(string))).Alerts {
				got = append(got, hit{a.Rule.SID, a.Dir})
			}
		}
		return got
	}
	cs, sc := inspect.ToServer, inspect.ToClient
	assert.Equal(t, []hit{{1, cs}, {3, cs}, {1, sc}, {3, sc}, {2, sc}},
		run(cs, "GET /a\n", cs, "GET /b\n", sc, "200\n", sc, "UPGRADE\n", cs, "GET /c\n"))
	assert.ElementsMatch(t, []hit{{1, cs}, {3, cs}, {4, cs}}, run(cs, "GE", cs, "T /x1\n"), "unknown at the first chunk")
	// One direction unrecognised leaves the other to decide (as
	// Suricata): the protocol has failed once both have.
	assert.Empty(t, run(cs, "\x00\x01 binary\n", cs, "more\n"), "the server has not spoken yet")
	assert.ElementsMatch(t, []hit{{3, sc}, {5, sc}}, run(cs, "\x00\x01 binary\n", sc, "\x00\x02 junk\n"), "failed is known, and not tls")
}

func TestAppLayerProtocolRules(t *testing.T) {
	for _, tc := range []struct{ opt, reason string }{
		{`app-layer-protocol:http,sideways;`, "unknown mode"},
		{`app-layer-protocol:smtp;`, "no smtp parser"},
		{`app-layer-protocol:tls; app-layer-protocol:tls;`, "given twice"},
	} {
		set := &rules.Set{}
		require.NoError(t, set.Load(strings.NewReader(`alert tcp any any -> any any (msg:"x"; `+tc.opt+` sid:1;)`), "r", nil))
		require.Len(t, set.Errors, 1, tc.opt)
		assert.Contains(t, set.Errors[0].Reason, tc.reason)
	}
}

// With packets (replay, the appliance), a protocol-detection-only rule
// runs on the packet that ends detection, and again on the packet that
// changes the protocol: an h2c upgrade is seen once, on its packet.
func TestAppLayerProtocolChangeInPackets(t *testing.T) {
	e := mustEngine(t, `alert tcp any any -> any any (msg:"upgraded"; app-layer-protocol:http1,original; app-layer-protocol:http2,final; sid:2;)
`, Options{Protos: []applayer.Proto{upgradingProto}})
	cs, sc := inspect.ToServer, inspect.ToClient
	got := sidsOf(runPackets(t, e, append(handshake[:3:3],
		pkt{cs, "GET /a\n", true}, pkt{sc, "200\n", true}, pkt{sc, "UPGRADE\n", true},
		pkt{cs, "GET /b\n", true}, pkt{sc, "more\n", true})))
	assert.Equal(t, [][]uint32{nil, nil, nil, nil, nil, {2}, nil, nil}, got)
}

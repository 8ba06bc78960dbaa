package detect

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/interdict/interdict/inspect"
)

// TestXbits: a bit set in one flow is seen by another flow of the same
// host (or pair), in the direction the track names, until it expires.
func TestXbits(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	e := mustEngine(t, `alert tcp any any -> any any (msg:"mark client"; flow:to_server; content:"LOGIN"; xbits:set,seen,track ip_src,expire 10; noalert; sid:1;)
alert tcp any any -> any any (msg:"same client later"; flow:to_server; content:"GET"; xbits:isset,seen,track ip_src; sid:2;)
alert tcp any any -> any any (msg:"reply to marked"; flow:to_client; content:"OK"; xbits:isset,seen,track ip_dst; sid:3;)
alert tcp any any -> any any (msg:"pair"; flow:to_server; content:"PAIR"; xbits:set,p,track ip_pair; noalert; sid:4;)
alert tcp any any -> any any (msg:"pair back"; flow:to_client; content:"BACK"; xbits:isset,p,track ip_pair; sid:5;)
alert tcp any any -> any any (msg:"unmarked"; flow:to_server; content:"GET"; xbits:isnotset,seen,track ip_src; sid:6;)
`, Options{Now: func() time.Time { return now }})
	other := inspect.FlowMeta{ID: 9, Proto: inspect.ProtoTCP, Src: netip.MustParseAddrPort("192.168.1.99:40000"), Dst: tcpMeta.Dst}
	assert.Equal(t, [][]uint32{{6}}, run(e, tcpMeta, []chunk{{inspect.ToServer, "GET /"}}), "not set yet")
	run(e, tcpMeta, []chunk{{inspect.ToServer, "LOGIN"}, {inspect.ToServer, "PAIR"}})
	second := tcpMeta
	second.ID = 2
	assert.Equal(t, [][]uint32{{2}, {3}, {5}}, run(e, second, []chunk{{inspect.ToServer, "GET /"}, {inspect.ToClient, "OK"}, {inspect.ToClient, "BACK"}}),
		"a later flow of the same client sees the bits")
	assert.Equal(t, [][]uint32{{6}, nil}, run(e, other, []chunk{{inspect.ToServer, "GET /"}, {inspect.ToClient, "OK BACK"}}),
		"another client does not")
	now = now.Add(11 * time.Second)
	third := tcpMeta
	third.ID = 3
	assert.Equal(t, [][]uint32{{6}}, run(e, third, []chunk{{inspect.ToServer, "GET /"}}), "expired after 10 s")
}

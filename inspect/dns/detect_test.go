package dns_test

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/detect"
	"github.com/interdict/interdict/inspect/rules"
)

func name(n string) []byte {
	var b []byte
	for _, l := range strings.Split(n, ".") {
		b = append(append(b, byte(len(l))), l...)
	}
	return append(b, 0)
}

func msg(id, flags uint16, q string, qtype uint16, answers ...[]byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, id)
	b = binary.BigEndian.AppendUint16(b, flags)
	b = append(b, 0, 1, 0, byte(len(answers)), 0, 0, 0, 0)
	b = append(b, name(q)...)
	b = binary.BigEndian.AppendUint16(b, qtype)
	b = append(b, 0, 1)
	for _, a := range answers {
		b = append(b, a...)
	}
	return b
}

// Each message is a transaction; dns.query matches requests only,
// dns.query.name (Suricata 7's name of dns.queries.rrname) both;
// dns.rrtype reads the questions' types to the server and the answers'
// to the client; a DNS alert carries the message.
func TestDNSKeywords(t *testing.T) {
	text := `alert dns any any -> any any (msg:"q"; dns.query; content:"example"; sid:1;)
alert dns any any -> any any (msg:"qn"; dns.query.name; content:"example"; sid:2;)
alert dns any any -> any any (msg:"txt"; dns.rrtype:TXT; sid:3;)
alert dns any any -> any any (msg:"cname"; dns.rrtype:5; sid:4;)
alert dns any any -> any any (msg:"an"; dns.answer.name; content:"example"; sid:5;)
`
	set := &rules.Set{}
	require.NoError(t, set.Load(strings.NewReader(text), "dns.rules", nil))
	require.Empty(t, set.Errors)
	eng, err := detect.New(set.Rules, detect.Options{})
	require.NoError(t, err)
	f := eng.NewFlow(inspect.FlowMeta{Proto: inspect.ProtoUDP, Src: netip.MustParseAddrPort("10.0.0.1:5353"),
		Dst: netip.MustParseAddrPort("10.0.0.2:53")})
	cname := append([]byte{0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, byte(len(name("b.example")))}, name("b.example")...)
	type hit struct {
		sid uint32
		dir inspect.Direction
		tx  uint64
	}
	var got []hit
	for _, r := range []inspect.Result{f.Inspect(inspect.ToServer, msg(7, 0x0100, "a.example", 16)),
		f.Inspect(inspect.ToClient, msg(7, 0x8180, "a.example", 16, cname))} {
		for _, a := range r.Alerts {
			got = append(got, hit{a.Rule.SID, a.Dir, a.TxID})
			require.NotNil(t, a.DNS)
			assert.Equal(t, uint16(7), a.DNS.ID)
		}
	}
	cs, sc := inspect.ToServer, inspect.ToClient
	assert.ElementsMatch(t, []hit{{1, cs, 0}, {2, cs, 0}, {3, cs, 0}, {2, sc, 1}, {4, sc, 1}, {5, sc, 1}}, got)
}

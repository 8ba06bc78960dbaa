package dns

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// A response's record names and name-valued rdata reach the dns.*.rrname
// multi-buffers; dns.response.rrname gathers them all, in responses only.
func TestRRNameBuffers(t *testing.T) {
	// CNAME www.example.com -> web.example.com, MX 10 mail.example.com.
	var rr []byte
	rr = append(rr, 0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60)
	cname := wireName("web.example.com")
	rr = binary.BigEndian.AppendUint16(rr, uint16(len(cname)))
	rr = append(rr, cname...)
	mx := append([]byte{0, 10}, wireName("mail.example.com")...)
	rr = append(rr, 0xc0, 12, 0, 15, 0, 1, 0, 0, 0, 60)
	rr = binary.BigEndian.AppendUint16(rr, uint16(len(mx)))
	rr = append(rr, mx...)
	rr = append(rr, aRecord()...)
	msg := buildMsg(7, flagsAnswer|0x2000, []q{{wireName("www.example.com"), 1}}, 3, rr) // opcode 4 (NOTIFY)

	multi := map[applayer.Buffer][]string{}
	var opcode, rcode []byte
	p := New(false)
	p.Feed(inspect.ToClient, msg, func(u *applayer.Unit) {
		for b := applayer.DNSQueriesRRName; b <= applayer.DNSResponseRRName; b++ {
			multi[b] = nil
			for _, v := range u.Multi[b] {
				multi[b] = append(multi[b], string(v))
			}
		}
		opcode, rcode = append([]byte(nil), u.Buffers[applayer.DNSOpcode]...), append([]byte(nil), u.Buffers[applayer.DNSRcode]...)
	})
	assert.Equal(t, []string{"www.example.com"}, multi[applayer.DNSQueriesRRName])
	assert.Equal(t, []string{"www.example.com", "www.example.com", "www.example.com"}, multi[applayer.DNSAnswersRRName])
	assert.Equal(t, []string{"www.example.com", "www.example.com", "www.example.com", "www.example.com",
		"web.example.com", "mail.example.com"}, multi[applayer.DNSResponseRRName])
	assert.Equal(t, []byte{4}, opcode)
	assert.Equal(t, []byte{0}, rcode)

	p.Feed(inspect.ToServer, buildMsg(8, flagsQuery, []q{{wireName("a.example"), 1}}, 0, nil), func(u *applayer.Unit) {
		assert.Empty(t, u.Multi[applayer.DNSResponseRRName], "a query has no response names")
		assert.Len(t, u.Multi[applayer.DNSQueriesRRName], 1)
	})
}

package dns

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// rr builds a record named by a pointer to the question (offset 12).
func rr(rtype uint16, ttl uint32, rdata []byte) []byte {
	b := []byte{0xc0, 12}
	b = binary.BigEndian.AppendUint16(b, rtype)
	b = append(b, 0, 1)
	b = binary.BigEndian.AppendUint32(b, ttl)
	b = binary.BigEndian.AppendUint16(b, uint16(len(rdata)))
	return append(b, rdata...)
}

func TestAnswerRecords(t *testing.T) {
	var recs []byte
	recs = append(recs, rr(5, 30, wireName("cdn.example"))...)
	recs = append(recs, rr(1, 58, []byte{142, 251, 32, 68})...)
	recs = append(recs, rr(28, 60, []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})...)
	recs = append(recs, rr(15, 60, append([]byte{0, 10}, 0xc0, 12))...)
	recs = append(recs, rr(16, 60, []byte("\x03abc\x02de"))...)
	soa := append(append(wireName("ns.example"), wireName("host.example")...), make([]byte, 20)...)
	soa[len(soa)-1] = 9 // minimum
	recs = append(recs, rr(6, 60, soa)...)
	recs = append(recs, rr(99, 60, []byte("v=spf1"))...) // SPF: no rdata form in Suricata's log
	msg := buildMsg(1, flagsAnswer, []q{{wireName("www.example"), 1}}, 7, recs)

	var ev *inspect.DNSTx
	New(false).Feed(inspect.ToClient, msg, func(u *applayer.Unit) {
		require.NotNil(t, u.Event)
		ev = u.Event.DNS
	})
	require.NotNil(t, ev)
	want := []inspect.DNSRecord{
		{RRName: "www.example", RRType: "CNAME", TTL: 30, RData: "cdn.example", HasRData: true},
		{RRName: "www.example", RRType: "A", TTL: 58, RData: "142.251.32.68", HasRData: true},
		{RRName: "www.example", RRType: "AAAA", TTL: 60, RData: "2001:0db8:0000:0000:0000:0000:0000:0001", HasRData: true},
		{RRName: "www.example", RRType: "MX", TTL: 60, RData: "www.example", HasRData: true},
		{RRName: "www.example", RRType: "TXT", TTL: 60, RData: "abc", HasRData: true},
		{RRName: "www.example", RRType: "TXT", TTL: 60, RData: "de", HasRData: true},
		{RRName: "www.example", RRType: "SOA", TTL: 60, SOA: &inspect.DNSSOA{MName: "ns.example", RName: "host.example", Minimum: 9}},
		{RRName: "www.example", RRType: "SPF", TTL: 60},
	}
	assert.Equal(t, want, ev.Answers)
}

// TestRRTypeNames: record types are named as Suricata names them, the
// experimental and obsolete ones included; unknown ones are numbers.
func TestRRTypeNames(t *testing.T) {
	for n, want := range map[uint16]string{10: "NULL", 44: "SSHFP", 38: "A6", 23: "NSAPPTR", 65: "HTTPS", 1000: "1000"} {
		assert.Equal(t, want, RRTypeName(n), "%d", n)
	}
	n, ok := RRTypeByName("sshfp")
	assert.True(t, ok)
	assert.Equal(t, uint16(44), n)
}

package identity

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/dns/dnsmessage"
)

func TestQueryNameReadsOnlyPlainQueries(t *testing.T) {
	name := dnsmessage.MustNewName("db.example.test.")
	q := dnsmessage.Question{Name: name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}
	pack := func(m dnsmessage.Message) []byte {
		b, err := m.Pack()
		require.NoError(t, err)
		return b
	}
	opt := func(data int) dnsmessage.Resource {
		var rh dnsmessage.ResourceHeader
		require.NoError(t, rh.SetEDNS0(1232, dnsmessage.RCodeSuccess, false))
		return dnsmessage.Resource{Header: rh, Body: &dnsmessage.OPTResource{Options: []dnsmessage.Option{{Code: 10, Data: make([]byte, data)}}}}
	}
	txt := dnsmessage.Resource{Header: dnsmessage.ResourceHeader{Name: name, Type: dnsmessage.TypeTXT, Class: dnsmessage.ClassINET},
		Body: &dnsmessage.TXTResource{TXT: []string{"secret"}}}

	_, got, ok := queryName(pack(dnsmessage.Message{Questions: []dnsmessage.Question{q}}))
	require.True(t, ok)
	assert.Equal(t, "db.example.test", dnsName(got.Name))
	_, _, ok = queryName(pack(dnsmessage.Message{Questions: []dnsmessage.Question{q}, Additionals: []dnsmessage.Resource{opt(8)}}))
	assert.True(t, ok, "a query with an EDNS cookie")

	for why, b := range map[string][]byte{
		"not DNS":           []byte("exfiltrated secret data"),
		"a response":        pack(dnsmessage.Message{Header: dnsmessage.Header{Response: true}, Questions: []dnsmessage.Question{q}}),
		"an UPDATE":         pack(dnsmessage.Message{Header: dnsmessage.Header{OpCode: 5}, Questions: []dnsmessage.Question{q}}),
		"two questions":     pack(dnsmessage.Message{Questions: []dnsmessage.Question{q, q}}),
		"an answer record":  pack(dnsmessage.Message{Questions: []dnsmessage.Question{q}, Answers: []dnsmessage.Resource{txt}}),
		"a TXT additional":  pack(dnsmessage.Message{Questions: []dnsmessage.Question{q}, Additionals: []dnsmessage.Resource{txt}}),
		"large OPT payload": pack(dnsmessage.Message{Questions: []dnsmessage.Question{q}, Additionals: []dnsmessage.Resource{opt(maxOPTData + 1)}}),
	} {
		_, _, ok := queryName(b)
		assert.False(t, ok, why)
	}
}

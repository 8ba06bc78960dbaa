package eve

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
)

// TestDNSVersion2: with DNSVersion2 a request is written as one query
// record per question and a response as one answer record, in
// Suricata's version 2 format; alerts keep the version 3 object, and
// without the option dns events are version 3.
func TestDNSVersion2(t *testing.T) {
	meta := &inspect.FlowMeta{ID: 1, Proto: inspect.ProtoUDP, Src: netip.MustParseAddrPort("10.0.0.1:5000"), Dst: netip.MustParseAddrPort("10.0.0.2:53")}
	ts := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	query := &inspect.DNSTx{Type: "query", ID: 7, Flags: 0x0100, Queries: []inspect.DNSQuestion{{RRName: "a.example", RRType: "A"}, {RRName: "b.example", RRType: "AAAA"}}}
	answer := &inspect.DNSTx{Type: "answer", ID: 7, Flags: 0x8180, RCode: "NOERROR", Queries: []inspect.DNSQuestion{{RRName: "a.example", RRType: "A"}},
		Answers: []inspect.DNSRecord{{RRName: "a.example", RRType: "A", TTL: 60, RData: "192.0.2.1", HasRData: true}}}
	write := func(v2 bool) []map[string]any {
		var buf bytes.Buffer
		w := NewWriter(&buf)
		w.SetOptions(Options{DNSVersion2: v2})
		for i, d := range []*inspect.DNSTx{query, answer} {
			ev, ok := NewAppEvent(ts, meta, &inspect.Event{TxID: uint64(i), DNS: d})
			require.True(t, ok)
			require.NoError(t, w.Write(&ev))
		}
		a := Base(ts, TypeAlert, meta, inspect.ToServer)
		a.DNS = DNSObject(query, 0)
		require.NoError(t, w.Write(&a))
		var out []map[string]any
		sc := bufio.NewScanner(&buf)
		for sc.Scan() {
			var m map[string]any
			require.NoError(t, json.Unmarshal(sc.Bytes(), &m))
			out = append(out, m["dns"].(map[string]any))
		}
		return out
	}

	// Version 2 records have the flow's addresses, client first.
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.SetOptions(Options{DNSVersion2: true})
	ev, _ := NewAppEvent(ts, meta, &inspect.Event{Dir: inspect.ToClient, TxID: 1, DNS: answer})
	require.NoError(t, w.Write(&ev))
	var rec map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &rec))
	assert.Equal(t, "10.0.0.1", rec["src_ip"])
	assert.Equal(t, "10.0.0.2", rec["dest_ip"])

	got := write(true)
	require.Len(t, got, 4)
	assert.Equal(t, map[string]any{"version": 2.0, "type": "query", "id": 7.0, "rrname": "a.example", "rrtype": "A", "tx_id": 0.0, "opcode": 0.0}, got[0])
	assert.Equal(t, "b.example", got[1]["rrname"])
	assert.Equal(t, "AAAA", got[1]["rrtype"])
	assert.Equal(t, "answer", got[2]["type"])
	assert.Equal(t, "a.example", got[2]["rrname"])
	assert.Equal(t, "8180", got[2]["flags"])
	assert.Equal(t, true, got[2]["qr"])
	assert.Equal(t, "NOERROR", got[2]["rcode"])
	assert.Equal(t, []any{"192.0.2.1"}, got[2]["grouped"].(map[string]any)["A"])
	assert.Len(t, got[2]["answers"], 1)
	assert.Nil(t, got[2]["tx_id"], "answers carry no tx_id in version 2")
	assert.Equal(t, 3.0, got[3]["version"], "alerts keep version 3")

	got = write(false)
	require.Len(t, got, 3)
	assert.Equal(t, "request", got[0]["type"])
	assert.Equal(t, 3.0, got[0]["version"])
}

// TestDNSFilter: requests: no, responses: no and a types list drop dns
// events as Suricata's dns logger does; a types list keeps a message
// with one question of a listed type, and in version 2 only those
// questions.
func TestDNSFilter(t *testing.T) {
	meta := &inspect.FlowMeta{ID: 1, Proto: inspect.ProtoUDP, Src: netip.MustParseAddrPort("10.0.0.1:5000"), Dst: netip.MustParseAddrPort("10.0.0.2:53")}
	ts := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	msgs := []*inspect.DNSTx{
		{Type: "query", ID: 1, Queries: []inspect.DNSQuestion{{RRName: "a.example", RRType: "A"}}},
		{Type: "answer", ID: 1, Flags: 0x8180, Queries: []inspect.DNSQuestion{{RRName: "a.example", RRType: "A"}}},
		{Type: "query", ID: 2, Queries: []inspect.DNSQuestion{{RRName: "a.example", RRType: "MX"}, {RRName: "a.example", RRType: "A"}}},
	}
	kinds := func(o Options) (out []string) {
		var buf bytes.Buffer
		w := NewWriter(&buf)
		w.SetOptions(o)
		for i, d := range msgs {
			ev, _ := NewAppEvent(ts, meta, &inspect.Event{TxID: uint64(i), DNS: d})
			require.NoError(t, w.Write(&ev))
		}
		a := Base(ts, TypeAlert, meta, inspect.ToServer)
		a.DNS = DNSObject(msgs[0], 0)
		require.NoError(t, w.Write(&a))
		sc := bufio.NewScanner(&buf)
		for sc.Scan() {
			var m map[string]any
			require.NoError(t, json.Unmarshal(sc.Bytes(), &m))
			d := m["dns"].(map[string]any)
			kind, _ := d["type"].(string)
			if m["event_type"] == "alert" {
				kind = "alert"
			}
			if q, ok := d["rrtype"].(string); ok {
				kind += ":" + q
			}
			out = append(out, kind)
		}
		return out
	}
	assert.Equal(t, []string{"request", "response", "request", "alert"}, kinds(Options{}))
	assert.Equal(t, []string{"response", "alert"}, kinds(Options{DNSNoRequests: true}))
	assert.Equal(t, []string{"request", "request", "alert"}, kinds(Options{DNSNoResponses: true}))
	assert.Equal(t, []string{"request", "alert"}, kinds(Options{DNSTypes: []string{"MX"}}))
	assert.Equal(t, []string{"query:MX", "alert"}, kinds(Options{DNSTypes: []string{"MX"}, DNSVersion2: true}))
}

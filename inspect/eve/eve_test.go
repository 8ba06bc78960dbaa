package eve

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
)

var (
	testTS   = time.Date(2026, 11, 22, 10, 53, 0, 123456789, time.UTC)
	testMeta = inspect.FlowMeta{
		ID: 42, Proto: inspect.ProtoTCP,
		Src:      netip.MustParseAddrPort("10.0.0.1:40000"),
		Dst:      netip.MustParseAddrPort("192.0.2.7:80"),
		Identity: &inspect.Identity{Name: "laptop", Key: "hGq3ZxZ2yJ0bq1Hc9aIYQk3kC1Jv8rDfjO3yS0Yvq0A=", Tags: []string{"ci", "linux"}},
	}
	testRule = &inspect.RuleInfo{
		GID: 1, SID: 2001, Rev: 3, Msg: `ET TEST "quoted" <tag> & more`, Action: inspect.ActionDrop,
		Category: "Attempted Administrator Privilege Gain", Severity: 1,
		Metadata: map[string][]string{"created_at": {"2024_01_01"}},
	}
)

func encode(t *testing.T, ev Event) (string, map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, NewWriter(&buf).Write(&ev))
	line := buf.String()
	require.True(t, strings.HasSuffix(line, "\n"), "one object per line")
	require.Equal(t, 1, strings.Count(line, "\n"))
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(line), &m))
	return line, m
}

func TestTimestampFormat(t *testing.T) {
	loc := time.FixedZone("x", -(5*3600 + 30*60))
	tests := []struct {
		name string
		ts   time.Time
		want string
	}{
		{"utc", testTS, "2026-11-22T10:53:00.123456+0000"},
		{"negative offset", testTS.In(loc), "2026-11-22T05:23:00.123456-0530"},
		{"whole second", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "2026-01-02T03:04:05.000000+0000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Time{tt.ts}.MarshalJSON()
			require.NoError(t, err)
			assert.Equal(t, `"`+tt.want+`"`, string(b))
			var back Time
			require.NoError(t, back.UnmarshalJSON(b))
			assert.True(t, back.Equal(tt.ts.Truncate(time.Microsecond)))
		})
	}
}

func TestAlertFields(t *testing.T) {
	tests := []struct {
		name            string
		dir             inspect.Direction
		enforce         bool
		srcIP, destIP   string
		srcPort, dstPrt float64
		action          string
	}{
		{"to_server ips", inspect.ToServer, true, "10.0.0.1", "192.0.2.7", 40000, 80, "blocked"},
		{"to_client ips: server is src", inspect.ToClient, true, "192.0.2.7", "10.0.0.1", 80, 40000, "blocked"},
		{"to_server ids: would drop", inspect.ToServer, false, "10.0.0.1", "192.0.2.7", 40000, 80, "allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := inspect.Alert{Rule: testRule, Dir: tt.dir, AppProto: "http", TxID: 3}
			line, m := encode(t, NewAlert(testTS, &testMeta, &a, tt.enforce))
			assert.Equal(t, "2026-11-22T10:53:00.123456+0000", m["timestamp"])
			assert.Equal(t, "alert", m["event_type"])
			assert.EqualValues(t, 42, m["flow_id"])
			assert.Equal(t, tt.srcIP, m["src_ip"])
			assert.Equal(t, tt.destIP, m["dest_ip"])
			assert.Equal(t, tt.srcPort, m["src_port"])
			assert.Equal(t, tt.dstPrt, m["dest_port"])
			assert.Equal(t, "TCP", m["proto"])
			assert.Equal(t, "http", m["app_proto"])
			assert.Equal(t, tt.dir.String(), m["direction"])
			assert.EqualValues(t, 3, m["tx_id"])
			al := m["alert"].(map[string]any)
			assert.Equal(t, tt.action, al["action"])
			assert.EqualValues(t, 1, al["gid"])
			assert.EqualValues(t, 2001, al["signature_id"])
			assert.EqualValues(t, 3, al["rev"])
			assert.Equal(t, testRule.Msg, al["signature"])
			assert.Equal(t, testRule.Category, al["category"])
			assert.EqualValues(t, 1, al["severity"])
			assert.Equal(t, map[string]any{"created_at": []any{"2024_01_01"}}, al["metadata"])
			assert.Equal(t, map[string]any{"name": "laptop", "key": "hGq3ZxZ2yJ0bq1Hc9aIYQk3kC1Jv8rDfjO3yS0Yvq0A=", "tags": []any{"ci", "linux"}}, m["identity"])
			assert.Contains(t, line, `<tag> & more`, "no HTML escaping, as Suricata")
			for _, k := range []string{"flow", "drop", "http", "dns", "tls", "stats", "anomaly"} {
				assert.NotContains(t, m, k)
			}
		})
	}
}

func TestAlertRawStreamHasNoTxID(t *testing.T) {
	a := inspect.Alert{Rule: &inspect.RuleInfo{SID: 1}, Dir: inspect.ToServer}
	_, m := encode(t, NewAlert(testTS, &testMeta, &a, true))
	assert.NotContains(t, m, "tx_id")
	assert.NotContains(t, m, "app_proto")
	assert.EqualValues(t, 1, m["alert"].(map[string]any)["gid"], "gid defaults to 1")
	assert.Equal(t, "allowed", m["alert"].(map[string]any)["action"])
}

func TestProtoAndICMP(t *testing.T) {
	tests := []struct {
		name  string
		meta  inspect.FlowMeta
		proto string
		port  bool
	}{
		{"udp", inspect.FlowMeta{Proto: inspect.ProtoUDP, Src: netip.MustParseAddrPort("10.0.0.1:53000"), Dst: netip.MustParseAddrPort("10.0.0.2:53")}, "UDP", true},
		{"icmp4", inspect.FlowMeta{Proto: inspect.ProtoICMP, Src: netip.MustParseAddrPort("10.0.0.1:0"), Dst: netip.MustParseAddrPort("10.0.0.2:0")}, "ICMP", false},
		{"icmp6", inspect.FlowMeta{Proto: inspect.ProtoICMP, Src: netip.MustParseAddrPort("[2001:db8::1]:0"), Dst: netip.MustParseAddrPort("[2001:db8::2]:0")}, "IPv6-ICMP", false},
		{"v4-mapped is logged as v4", inspect.FlowMeta{Proto: inspect.ProtoTCP, Src: netip.MustParseAddrPort("[::ffff:10.0.0.1]:1"), Dst: netip.MustParseAddrPort("[::ffff:10.0.0.2]:2")}, "TCP", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, m := encode(t, Base(testTS, TypeFlow, &tt.meta, inspect.ToServer))
			assert.Equal(t, tt.proto, m["proto"])
			assert.Equal(t, tt.meta.Src.Addr().Unmap().String(), m["src_ip"])
			_, hasPort := m["src_port"]
			assert.Equal(t, tt.port, hasPort)
			assert.NotContains(t, m, "identity")
		})
	}
}

func TestAppEvents(t *testing.T) {
	tests := []struct {
		name string
		in   inspect.Event
		typ  string
		key  string
		want map[string]any
	}{
		{"http", inspect.Event{Dir: inspect.ToClient, TxID: 1, HTTP: &inspect.HTTPTx{Hostname: "example.com", URL: "/a?b=1", Method: "GET", Protocol: "HTTP/1.1", UserAgent: "curl/8", ContentType: "text/html", Referer: "http://r/", Status: 200, Length: 12}},
			"http", "http", map[string]any{"hostname": "example.com", "url": "/a?b=1", "http_method": "GET", "protocol": "HTTP/1.1", "http_user_agent": "curl/8", "http_content_type": "text/html", "http_refer": "http://r/", "status": 200.0, "length": 12.0}},
		{"dns", inspect.Event{Dir: inspect.ToServer, DNS: &inspect.DNSTx{Type: "query", ID: 77, RRName: "example.com", RRType: "A",
			Flags: 0x0100, Queries: []inspect.DNSQuestion{{RRName: "example.com", RRType: "A"}}}},
			"dns", "dns", map[string]any{"version": 3.0, "type": "request", "tx_id": 0.0, "id": 77.0, "flags": "100", "rd": true, "opcode": 0.0,
				"rcode": "NOERROR", "queries": []any{map[string]any{"rrname": "example.com", "rrtype": "A"}}}},
		{"dns answer", inspect.Event{Dir: inspect.ToClient, TxID: 3, DNS: &inspect.DNSTx{Type: "answer", ID: 78, RRName: "x.example", RRType: "AAAA",
			RCode: "NXDOMAIN", Flags: 0x8183}},
			"dns", "dns", map[string]any{"version": 3.0, "type": "response", "tx_id": 3.0, "id": 78.0, "flags": "8183", "qr": true, "rd": true, "ra": true,
				"opcode": 0.0, "rcode": "NXDOMAIN", "queries": []any{map[string]any{"rrname": "x.example", "rrtype": "AAAA"}}}},
		{"dns answer records", inspect.Event{Dir: inspect.ToClient, DNS: &inspect.DNSTx{Type: "answer", ID: 1, RCode: "NOERROR", Flags: 0x8180,
			Answers: []inspect.DNSRecord{{RRName: "a.example", RRType: "A", TTL: 58, RData: "192.0.2.1", HasRData: true},
				{RRName: "a.example", RRType: "SRV", TTL: 5, SRV: &inspect.DNSSRV{Priority: 1, Weight: 2, Port: 443, Name: "s.example"}}},
			Additionals: []inspect.DNSRecord{{RRName: "", RRType: "OPT"}}}},
			"dns", "dns", map[string]any{"version": 3.0, "type": "response", "tx_id": 0.0, "id": 1.0, "flags": "8180", "qr": true, "rd": true, "ra": true,
				"opcode": 0.0, "rcode": "NOERROR",
				"answers": []any{map[string]any{"rrname": "a.example", "rrtype": "A", "ttl": 58.0, "rdata": "192.0.2.1"},
					map[string]any{"rrname": "a.example", "rrtype": "SRV", "ttl": 5.0, "srv": map[string]any{"priority": 1.0, "weight": 2.0, "port": 443.0, "name": "s.example"}}},
				"grouped": map[string]any{"A": []any{"192.0.2.1"}, "SRV": []any{map[string]any{"priority": 1.0, "weight": 2.0, "port": 443.0, "name": "s.example"}}}}},
		{"http2 reset", inspect.Event{Dir: inspect.ToClient, HTTP: &inspect.HTTPTx{Hostname: "a", URL: "/", Method: "GET", Protocol: "HTTP/2",
			StreamID: 3, H2Request: inspect.HTTP2Frames{ErrorCode: ptr(uint32(2)), HasMultiple: "error_code"},
			H2Response: inspect.HTTP2Frames{Priority: ptr(uint8(16)), ErrorCode: ptr(uint32(99))}}},
			"http", "http", map[string]any{"hostname": "a", "url": "/", "http_method": "GET", "protocol": "HTTP/2", "version": "2", "length": 0.0,
				"http2": map[string]any{"stream_id": 3.0, "request": map[string]any{"error_code": "INTERNALERROR", "has_multiple": "error_code"},
					"response": map[string]any{"error_code": "unknown-99", "priority": 16.0}}}},
		{"http2 connection settings", inspect.Event{Dir: inspect.ToServer, HTTP: &inspect.HTTPTx{Protocol: "HTTP/2", Connection: true,
			H2Request: inspect.HTTP2Frames{Settings: []inspect.HTTP2Setting{{ID: 3, Value: 100}, {ID: 0x77, Value: 1}, {ID: 4, Value: 65535}}}}},
			"http", "http", map[string]any{"protocol": "HTTP/2", "version": "2", "length": 0.0,
				"http2": map[string]any{"stream_id": 0.0, "request": map[string]any{"settings": []any{
					map[string]any{"settings_id": "SETTINGSMAXCONCURRENTSTREAMS", "settings_value": 100.0},
					map[string]any{"settings_id": "SETTINGSINITIALWINDOWSIZE", "settings_value": 65535.0}}}}}},
		{"tls", inspect.Event{TLS: &inspect.TLSTx{SNI: "example.org", Version: "TLS 1.3"}},
			"tls", "tls", map[string]any{"sni": "example.org", "version": "TLS 1.3"}},
		{"anomaly", inspect.Event{Anomaly: &inspect.Anomaly{AppProto: "http", Event: "REQUEST_CONTENT_LENGTH_AND_TRANSFER_ENCODING"}},
			"anomaly", "anomaly", map[string]any{"type": "applayer", "event": "REQUEST_CONTENT_LENGTH_AND_TRANSFER_ENCODING", "layer": "proto_parser"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, ok := NewAppEvent(testTS, &testMeta, &tt.in)
			require.True(t, ok)
			_, m := encode(t, ev)
			assert.Equal(t, tt.typ, m["event_type"])
			assert.Equal(t, tt.want, m[tt.key])
			if tt.typ == "http" {
				assert.Equal(t, "10.0.0.1", m["src_ip"], "http is logged in the request's direction")
			}
		})
	}
	_, ok := NewAppEvent(testTS, &testMeta, &inspect.Event{})
	assert.False(t, ok)
}

func TestDropEvent(t *testing.T) {
	_, m := encode(t, NewDrop(testTS, &testMeta, inspect.ToServer, testRule, 100))
	assert.Equal(t, "drop", m["event_type"])
	assert.Equal(t, map[string]any{"reason": "rules", "len": 100.0}, m["drop"])
	assert.EqualValues(t, 2001, m["alert"].(map[string]any)["signature_id"])
	assert.Equal(t, "blocked", m["alert"].(map[string]any)["action"])

	_, m = encode(t, NewDrop(testTS, &testMeta, inspect.ToClient, nil, 0))
	assert.Equal(t, map[string]any{"reason": "flow drop"}, m["drop"])
	assert.NotContains(t, m, "alert")
	assert.Equal(t, "192.0.2.7", m["src_ip"])
}

func TestFlowEvent(t *testing.T) {
	ev := Base(testTS, TypeFlow, &testMeta, inspect.ToServer)
	ev.Flow = &Flow{PktsToServer: 3, PktsToClient: 2, BytesToServer: 300, BytesToClient: 200,
		Start: Time{testTS}, End: Time{testTS.Add(2 * time.Second)}, Age: 2, State: "closed", Reason: "shutdown", Alerted: false}
	_, m := encode(t, ev)
	f := m["flow"].(map[string]any)
	assert.Equal(t, map[string]any{"pkts_toserver": 3.0, "pkts_toclient": 2.0, "bytes_toserver": 300.0, "bytes_toclient": 200.0,
		"start": "2026-11-22T10:53:00.123456+0000", "end": "2026-11-22T10:53:02.123456+0000", "age": 2.0,
		"state": "closed", "reason": "shutdown", "alerted": false}, f, "alerted is logged even when false")
}

func TestConcurrentWritersKeepLinesWhole(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	const writers, each = 8, 200
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := inspect.Alert{Rule: &inspect.RuleInfo{SID: uint32(i + 1), Msg: strings.Repeat("x", 500)}}
			for range each {
				ev := NewAlert(testTS, &testMeta, &a, false)
				assert.NoError(t, w.Write(&ev))
			}
		}()
	}
	wg.Wait()
	counts := map[float64]int{}
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), "line %q", sc.Text())
		counts[m["alert"].(map[string]any)["signature_id"].(float64)]++
	}
	require.Len(t, counts, writers)
	for sid, n := range counts {
		assert.Equal(t, each, n, "sid %v", sid)
	}
}

func TestReopenAfterRotate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "eve.json")
	w, err := OpenFile(path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Close() })

	ev := Base(testTS, TypeStats, &testMeta, inspect.ToServer)
	ev.Stats = &Stats{Uptime: 1}
	require.NoError(t, w.Write(&ev))
	require.NoError(t, os.Rename(path, path+".1"))
	ev.Stats.Uptime = 2
	require.NoError(t, w.Write(&ev), "still writes to the renamed file before reopen")
	require.NoError(t, w.Reopen())
	ev.Stats.Uptime = 3
	require.NoError(t, w.Write(&ev))
	require.NoError(t, w.Close())

	old, err := os.ReadFile(path + ".1")
	require.NoError(t, err)
	cur, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, 2, strings.Count(string(old), "\n"))
	assert.Contains(t, string(old), `"uptime":2`)
	assert.Equal(t, 1, strings.Count(string(cur), "\n"))
	assert.Contains(t, string(cur), `"uptime":3`)
	assert.NoError(t, w.Reopen(), "reopen after close is a no-op")

	_, err = OpenFile(filepath.Join(dir, "missing", "eve.json"))
	assert.ErrorContains(t, err, "missing")
}

func BenchmarkWriteAlert(b *testing.B) {
	w := NewWriter(discard{})
	a := inspect.Alert{Rule: testRule, Dir: inspect.ToServer, AppProto: "http", TxID: 1}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ev := NewAlert(testTS, &testMeta, &a, true)
			if err := w.Write(&ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func TestVerdictObject(t *testing.T) {
	for _, tc := range []struct {
		a       inspect.Action
		enforce bool
		p       inspect.Proto
		want    Verdict
	}{
		{inspect.ActionAlert, true, inspect.ProtoTCP, Verdict{Action: "alert"}},
		{inspect.ActionDrop, true, inspect.ProtoTCP, Verdict{Action: "drop"}},
		{inspect.ActionDrop, false, inspect.ProtoTCP, Verdict{Action: "alert"}},
		{inspect.ActionPass, true, inspect.ProtoUDP, Verdict{Action: "pass"}},
		{inspect.ActionReject, true, inspect.ProtoTCP, Verdict{Action: "drop", RejectTarget: "to_client", Reject: []string{"tcp-reset"}}},
		{inspect.ActionRejectBoth, false, inspect.ProtoUDP, Verdict{Action: "alert", RejectTarget: "both", Reject: []string{"icmp-prohib"}}},
		{inspect.ActionRejectDst, true, inspect.ProtoTCP, Verdict{Action: "drop", RejectTarget: "to_server", Reject: []string{"tcp-reset"}}},
	} {
		assert.Equal(t, tc.want, *VerdictObject(tc.a, tc.enforce, tc.p), "%v enforce=%v", tc.a, tc.enforce)
	}
}

func ptr[T any](v T) *T { return &v }

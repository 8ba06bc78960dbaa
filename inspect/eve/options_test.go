package eve

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
)

func TestXFFAddress(t *testing.T) {
	cases := []struct {
		header, deployment, want string
	}{
		{"10.2.2.2, 10.3.3.3", XFFReverse, "10.3.3.3"},
		{"10.2.2.2, 10.3.3.3", XFFForward, "10.2.2.2"},
		{"10.2.2.2,10.3.3.3", XFFReverse, "10.3.3.3"},
		{"192.0.2.1:8080", XFFReverse, "192.0.2.1"},
		{"[2001:db8::1]:443", XFFReverse, "2001:db8::1"},
		{"2001:db8::1", XFFForward, "2001:db8::1"},
		{"unknown", XFFReverse, ""},
		{"10.2.2.2, not-an-ip", XFFReverse, ""},
		{"", XFFReverse, ""},
	}
	for _, tc := range cases {
		x := &XFF{Deployment: tc.deployment}
		require.NoError(t, x.Validate())
		assert.Equal(t, tc.want, x.Address(tc.header), "%q %s", tc.header, tc.deployment)
	}
	bad := &XFF{Mode: "sideways"}
	assert.Error(t, bad.Validate())
	bad = &XFF{Deployment: "backward"}
	assert.Error(t, bad.Validate())
}

// The writer puts the X-Forwarded-For address where the xff option says,
// as Suricata: alert.xff or http xff (extra-data), or in place of the
// address of the side the data came from (overwrite).
func TestWriterXFF(t *testing.T) {
	meta := &inspect.FlowMeta{ID: 1, Proto: inspect.ProtoTCP,
		Src: netip.MustParseAddrPort("10.16.1.11:46676"), Dst: netip.MustParseAddrPort("82.165.177.154:80")}
	tx := &inspect.HTTPTx{URL: "/", XFF: "10.2.2.2, 10.3.3.3"}
	rule := &inspect.RuleInfo{SID: 1, Msg: "t"}
	toClient := NewAlert(time.Unix(0, 0), meta, &inspect.Alert{Rule: rule, Dir: inspect.ToClient, AppProto: "http", HTTP: tx}, false)
	toServer := NewAlert(time.Unix(0, 0), meta, &inspect.Alert{Rule: rule, Dir: inspect.ToServer, AppProto: "http", HTTP: tx}, false)
	httpEv, ok := NewAppEvent(time.Unix(0, 0), meta, &inspect.Event{HTTP: tx})
	require.True(t, ok)

	got := writeEvents(t, Options{AlertXFF: &XFF{Mode: XFFExtraData, Deployment: XFFReverse}, HTTPXFF: &XFF{Mode: XFFExtraData, Deployment: XFFForward}}, &toClient, &httpEv)
	assert.Equal(t, "10.3.3.3", got[0]["alert"].(map[string]any)["xff"])
	assert.Equal(t, "10.2.2.2", got[1]["xff"])
	assert.Equal(t, "82.165.177.154", got[0]["src_ip"], "extra-data leaves the addresses")

	got = writeEvents(t, Options{AlertXFF: &XFF{Mode: XFFOverwrite, Deployment: XFFReverse}}, &toClient, &toServer, &httpEv)
	assert.Equal(t, "10.3.3.3", got[0]["dest_ip"], "data to the client: its address is replaced")
	assert.Equal(t, "82.165.177.154", got[0]["src_ip"])
	assert.Equal(t, "10.3.3.3", got[1]["src_ip"])
	assert.NotContains(t, got[0]["alert"], "xff")
	assert.Equal(t, "10.16.1.11", got[2]["src_ip"], "http events untouched without their own option")

	got = writeEvents(t, Options{}, &toClient)
	assert.NotContains(t, got[0]["alert"], "xff")
	assert.Equal(t, "10.16.1.11", toClient.DestIP, "the caller's event is not changed")
}

// The http object as Suricata 8 writes it: the media type without
// parameters, the Host header's port, the X-Forwarded-For header, the
// redirect; without the extended option only the basic fields.
func TestHTTPObjectForms(t *testing.T) {
	meta := &inspect.FlowMeta{ID: 1, Proto: inspect.ProtoTCP,
		Src: netip.MustParseAddrPort("10.0.0.1:40000"), Dst: netip.MustParseAddrPort("10.0.0.2:80")}
	tx := &inspect.HTTPTx{Hostname: "h", Port: 8080, URL: "/a", Method: "GET", Protocol: "HTTP/1.1", UserAgent: "ua",
		ContentType: "text/html; charset=utf-8", Status: 302, Redirect: "/b", XFF: "192.0.2.1", Length: 0}
	ev, ok := NewAppEvent(time.Unix(0, 0), meta, &inspect.Event{HTTP: tx})
	require.True(t, ok)
	encode := func(basic bool) map[string]any {
		return writeEvents(t, Options{HTTPBasic: basic}, &ev)[0]["http"].(map[string]any)
	}
	assert.Equal(t, map[string]any{"hostname": "h", "http_port": 8080.0, "url": "/a", "http_user_agent": "ua",
		"xff": "192.0.2.1", "http_content_type": "text/html", "http_method": "GET", "protocol": "HTTP/1.1",
		"status": 302.0, "redirect": "/b", "length": 0.0}, encode(false))
	assert.Equal(t, map[string]any{"hostname": "h", "http_port": 8080.0, "url": "/a", "http_user_agent": "ua",
		"xff": "192.0.2.1", "http_content_type": "text/html"}, encode(true))
}

func TestHTTPHeadersLogged(t *testing.T) {
	meta := &inspect.FlowMeta{ID: 1, Proto: inspect.ProtoTCP,
		Src: netip.MustParseAddrPort("10.0.0.1:40000"), Dst: netip.MustParseAddrPort("10.0.0.2:80")}
	tx := &inspect.HTTPTx{URL: "/", RequestHeaders: []inspect.HTTPHeader{{Name: "Host", Value: "h"}}}
	ev, ok := NewAppEvent(time.Unix(0, 0), meta, &inspect.Event{HTTP: tx})
	require.True(t, ok)
	m := writeEvents(t, Options{HTTPBasic: true}, &ev)[0]
	assert.Equal(t, []any{map[string]any{"name": "Host", "value": "h"}}, m["http"].(map[string]any)["request_headers"])
	assert.NotContains(t, m["http"], "response_headers")

	alert := NewAlert(time.Unix(0, 0), meta, &inspect.Alert{Rule: &inspect.RuleInfo{SID: 1}, AppProto: "http", HTTP: tx}, false)
	assert.Nil(t, alert.HTTP.RequestHeaders, "alerts carry no dumped headers, as Suricata's")
}

// writeEvents writes evs through a Writer with options o and decodes the
// lines.
func writeEvents(t *testing.T, o Options, evs ...*Event) []map[string]any {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.SetOptions(o)
	for _, ev := range evs {
		require.NoError(t, w.Write(ev))
	}
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var m map[string]any
		require.NoError(t, json.Unmarshal(line, &m))
		out = append(out, m)
	}
	return out
}

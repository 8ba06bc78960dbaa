package eve

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
)

// HTTP/2 transactions, the PROXY header that opened a flow and fileinfo
// records as an EVE consumer reads them.
func TestEvasionRecords(t *testing.T) {
	meta := &inspect.FlowMeta{ID: 7, Proto: inspect.ProtoTCP,
		Src: netip.MustParseAddrPort("10.0.0.2:40000"), Dst: netip.MustParseAddrPort("10.0.0.1:80")}
	ts := time.Unix(0, 0).UTC()
	decode := func(ev Event) map[string]any {
		b, err := json.Marshal(ev)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m))
		return m
	}

	ev, ok := NewAppEvent(ts, meta, &inspect.Event{HTTP: &inspect.HTTPTx{Method: "GET", URL: "/", Protocol: "HTTP/2", StreamID: 3,
		Proxy: &inspect.ProxyHeader{Version: 1, Command: "PROXY", Transport: "TCP4",
			Src: netip.MustParseAddrPort("192.0.2.1:1234"), Dst: netip.MustParseAddrPort("192.0.2.2:80")}}})
	require.True(t, ok)
	m := decode(ev)
	assert.Equal(t, "http2", m["app_proto"])
	assert.Equal(t, map[string]any{"stream_id": 3.0}, m["http"].(map[string]any)["http2"])
	assert.Equal(t, map[string]any{"version": 1.0, "command": "PROXY", "transport": "TCP4",
		"src_ip": "192.0.2.1", "src_port": 1234.0, "dest_ip": "192.0.2.2", "dest_port": 80.0}, m["proxy"])

	ev, ok = NewAppEvent(ts, meta, &inspect.Event{Dir: inspect.ToClient, TxID: 3, File: &inspect.FileInfo{
		Filename: "eicar.com", Size: 68, SHA256: "275a", Magic: "text/plain; charset=utf-8", State: "CLOSED"}})
	require.True(t, ok)
	m = decode(ev)
	assert.Equal(t, "fileinfo", m["event_type"])
	assert.Equal(t, "http", m["app_proto"])
	assert.Equal(t, map[string]any{"filename": "eicar.com", "size": 68.0, "sha256": "275a", "magic": "text/plain; charset=utf-8",
		"state": "CLOSED", "stored": false, "tx_id": 3.0}, m["fileinfo"])
}

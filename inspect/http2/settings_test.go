package http2

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/interdict/interdict/inspect"
)

// TestHeaderTableSizeLastWins: a client SETTINGS frame that gives the
// header table size twice (0, then 4096, as nghttp2 sends it) leaves
// the server's encoder 4096 bytes: the last value applies (RFC 9113
// 6.5.3). Its header blocks, which start with table size updates to 0
// and 4096 (RFC 7541 4.2), decode without an HPACK anomaly; one that
// asks for more than the client allowed is still refused.
func TestHeaderTableSizeLastWins(t *testing.T) {
	var cli bytes.Buffer
	cli.WriteString(Preface)
	require.NoError(t, http2.NewFramer(&cli, nil).WriteSettings(
		http2.Setting{ID: http2.SettingHeaderTableSize, Val: 0}, http2.Setting{ID: http2.SettingHeaderTableSize, Val: 4096}))

	response := func(size uint32) []byte {
		var srv, hb bytes.Buffer
		enc := hpack.NewEncoder(&hb)
		enc.SetMaxDynamicTableSizeLimit(size)
		enc.SetMaxDynamicTableSize(0)
		enc.SetMaxDynamicTableSize(size)
		require.NoError(t, enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"}))
		require.NoError(t, enc.WriteField(hpack.HeaderField{Name: "server", Value: "nghttpd"}))
		fr := http2.NewFramer(&srv, nil)
		require.NoError(t, fr.WriteSettings())
		require.NoError(t, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true, EndStream: true}))
		return srv.Bytes()
	}

	r := newRec()
	c := NewConn(r, 64<<10)
	c.Feed(inspect.ToServer, cli.Bytes())
	c.Feed(inspect.ToClient, response(4096))
	assert.Empty(t, r.anoms)
	assert.Equal(t, []string{":status=200", "server=nghttpd"}, r.headers[1])

	r = newRec()
	c = NewConn(r, 64<<10)
	c.Feed(inspect.ToServer, cli.Bytes())
	c.Feed(inspect.ToClient, response(8192))
	assert.Contains(t, r.anoms, AnomHPACK, "a size over the client's last value")
}

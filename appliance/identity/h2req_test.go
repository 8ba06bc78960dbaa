package identity

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	xhttp2 "golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/interdict/interdict/inspect"
)

// clientH2 is a client's preface, SETTINGS and one request header block
// on stream 1 whose HPACK starts with a dynamic table size update to
// table bytes.
func clientH2(t *testing.T, table uint32, kv ...string) []byte {
	var buf, hb bytes.Buffer
	buf.WriteString(xhttp2.ClientPreface)
	fr := xhttp2.NewFramer(&buf, nil)
	require.NoError(t, fr.WriteSettings())
	enc := hpack.NewEncoder(&hb)
	enc.SetMaxDynamicTableSizeLimit(table)
	enc.SetMaxDynamicTableSize(table)
	for i := 0; i < len(kv); i += 2 {
		require.NoError(t, enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]}))
	}
	require.NoError(t, fr.WriteHeaders(xhttp2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true}))
	return buf.Bytes()
}

// TestH2ReqsTableBeforeServerSettings: a client whose server allowed a
// larger HPACK table, in SETTINGS sent before the flow was known to be
// HTTP/2, has its requests read, not refused as HPACK errors; a table
// over the largest the parser takes is refused.
func TestH2ReqsTableBeforeServerSettings(t *testing.T) {
	for table, want := range map[uint32]frameResult{4096: frameOK, 16384: frameOK, 64 << 10: frameOK, 128 << 10: frameBad} {
		h := newH2Reqs()
		var paths []string
		res := h.feed(inspect.ToServer, clientH2(t, table, ":method", "GET", ":path", "/a", "x-api-key", "k"), func(fields []hpack.HeaderField) bool {
			paths = append(paths, h2Head(fields).path)
			return true
		})
		assert.Equal(t, want, res, "table %d", table)
		if want == frameOK {
			assert.Equal(t, []string{"/a"}, paths, "table %d", table)
		}
	}
}

package identity

import (
	"strings"

	xhttp2 "golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/http2"
)

// h2Reqs reads the requests of an HTTP/2 cleartext connection (prior
// knowledge, or after an "Upgrade: h2c" the server accepted) with
// inspect/http2's push parser, so that each request header block the
// client sends is checked like an HTTP/1 request head. It is made only
// for a connection that speaks HTTP/2: its buffers are bounded by
// http2.MaxFrame per direction.
//
// Both directions are fed: the server's SETTINGS bound the HPACK table
// the client's encoder may use, which the decoder of the client's
// header blocks must follow. What the server sends is not checked, and
// its anomalies stop only the reading of its direction.
type h2Reqs struct {
	c *http2.Conn
	// During a feed of the client's bytes: fn is called with each
	// request header block, res is what the feed found.
	fn  func(fields []hpack.HeaderField) bool
	res frameResult
	// client is set while the client's bytes are fed: a PUSH_PROMISE
	// the server sends is reported as a request too, and is no use of a
	// token by the client.
	client bool
}

func newH2Reqs() *h2Reqs {
	h := &h2Reqs{}
	// The same bound as an HTTP/1 request head's: a header list the
	// check cannot hold fails it.
	h.c = http2.NewConn(h, maxPending)
	// The server's SETTINGS may have passed before the flow was known to
	// speak HTTP/2 (a server that writes first). Until its own are read,
	// the client's encoder is allowed the largest HPACK table the parser
	// takes: the bound only validates table size updates (it decodes
	// nothing otherwise), and a table over the server's bound fails at
	// the server; a smaller bound would refuse requests the server takes.
	h.c.Feed(inspect.ToClient, maxTableSettings)
	return h
}

// maxTableSettings is a SETTINGS frame with SETTINGS_HEADER_TABLE_SIZE
// 64 KiB (the parser's maximum).
var maxTableSettings = []byte{0, 0, 6, byte(xhttp2.FrameSettings), 0, 0, 0, 0, 0,
	0, byte(xhttp2.SettingHeaderTableSize), 0, 1, 0, 0}

// feed parses bytes of one direction. For the client's, fn is called
// with each complete request header block (HEADERS and CONTINUATION,
// trailers too) and returns false to refuse it, which stops the walk
// (frameStop); HTTP/2 that does not parse is frameBad and the rest of
// the connection is not read.
func (h *h2Reqs) feed(dir inspect.Direction, b []byte, fn func(fields []hpack.HeaderField) bool) frameResult {
	if dir != inspect.ToServer {
		h.c.Feed(dir, b)
		return frameOK
	}
	h.client, h.fn, h.res = true, fn, frameOK
	h.c.Feed(dir, b)
	h.client, h.fn = false, nil
	return h.res
}

// fromServer follows a read from the server: the answer that switches
// the connection to another protocol and, once it speaks HTTP/2, the
// server's frames (after the 101's head for an Upgrade: h2c).
func fromServer(r *reqFramer, h **h2Reqs, b []byte) {
	switch {
	case *h != nil:
		(*h).feed(inspect.ToClient, b, nil)
	case r.st != frOpaque:
		r.response(b)
		if r.h2 {
			*h = newH2Reqs()
			if _, next := headEnd(b, 0); next > 0 {
				(*h).feed(inspect.ToClient, b[next:], nil)
			}
		}
	}
}

// h2Head is what the egress policy reads of an HTTP/2 request header
// block, as parseHead reads an HTTP/1 head: :authority wins over host,
// the path without its query.
func h2Head(fields []hpack.HeaderField) reqHead {
	var h reqHead
	var host string
	for _, f := range fields {
		switch f.Name {
		case ":method":
			h.method = f.Value
		case ":path":
			h.path = f.Value
		case ":authority":
			h.host = f.Value
		case "host":
			host = f.Value
		}
	}
	if q := strings.IndexAny(h.path, "?#"); q >= 0 {
		h.path = h.path[:q]
	}
	if h.host == "" {
		h.host = host
	}
	if k := strings.LastIndexByte(h.host, '@'); k >= 0 {
		h.host = h.host[k+1:]
	}
	h.host = normHost(h.host)
	return h
}

// Headers implements http2.Handler.
func (h *h2Reqs) Headers(dir inspect.Direction, _ uint32, fields []hpack.HeaderField, _ bool) {
	if !h.client || dir != inspect.ToServer || h.res != frameOK {
		return
	}
	if !h.fn(fields) {
		h.res = frameStop
	}
}

// Anomaly implements http2.Handler.
func (h *h2Reqs) Anomaly(dir inspect.Direction, _ string) {
	if h.client && dir == inspect.ToServer && h.res == frameOK {
		h.res = frameBad
	}
}

// Data implements http2.Handler.
func (h *h2Reqs) Data(inspect.Direction, uint32, []byte, bool) {}

// Reset implements http2.Handler.
func (h *h2Reqs) Reset(uint32) {}

// Event implements http2.Handler.
func (h *h2Reqs) Event(inspect.Direction, string) {}

// Frame implements http2.Handler.
func (h *h2Reqs) Frame(inspect.Direction, uint32, http2.FrameInfo) {}

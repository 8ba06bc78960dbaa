package evasion

import (
	"bytes"
	"fmt"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// H2 is an HTTP/2 cleartext exchange: what the client sends and what the
// server answers, with the forbidden content on one side.
type H2 struct {
	Name           string
	Client, Server []byte
	// InRequest says the forbidden content is in Client (else in Server).
	InRequest bool
}

// h2w writes one direction's frames.
type h2w struct {
	buf bytes.Buffer
	fr  *http2.Framer
	hb  bytes.Buffer
	enc *hpack.Encoder
}

func newH2W(preface bool) *h2w {
	w := &h2w{}
	if preface {
		w.buf.WriteString(http2.ClientPreface)
	}
	w.fr = http2.NewFramer(&w.buf, nil)
	w.enc = hpack.NewEncoder(&w.hb)
	_ = w.fr.WriteSettings()
	return w
}

func (w *h2w) block(kv ...string) []byte {
	w.hb.Reset()
	for i := 0; i < len(kv); i += 2 {
		_ = w.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return append([]byte(nil), w.hb.Bytes()...)
}

// headers writes a header block in HEADERS plus cont CONTINUATION frames,
// padded.
func (w *h2w) headers(stream uint32, end bool, cont int, kv ...string) {
	b := w.block(kv...)
	n := len(b) / (cont + 1)
	_ = w.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: b[:n], EndStream: end, EndHeaders: cont == 0, PadLength: 3})
	b = b[n:]
	for i := 0; i < cont; i++ {
		k := len(b)
		if i < cont-1 {
			k = n
		}
		_ = w.fr.WriteContinuation(stream, i == cont-1, b[:k])
		b = b[k:]
	}
}

// data writes b in DATA frames of at most size bytes, padded by pad.
func (w *h2w) data(stream uint32, b []byte, size, pad int) {
	for len(b) > 0 {
		k := min(size, len(b))
		_ = w.fr.WriteDataPadded(stream, k == len(b), b[:k], make([]byte, pad))
		b = b[k:]
	}
}

func get(path string) []string {
	return []string{":method", "GET", ":scheme", "http", ":authority", "h", ":path", path}
}

// H2Variants are HTTP/2 cleartext variants (prior knowledge, after a PROXY
// header, after Upgrade: h2c): forbidden URIs and EICAR uploads in
// requests, EICAR downloads in responses, in any coding, split over
// CONTINUATION and one-byte padded DATA frames, and in a pushed stream.
func H2Variants() []H2 {
	var out []H2
	ok200 := func() []byte {
		s := newH2W(false)
		s.headers(1, true, 0, ":status", "204")
		return s.buf.Bytes()
	}
	// Requests.
	for _, path := range []string{"/forbidden", "/%66orbidden", "/a/../forbidden", "//forbidden?q"} {
		for _, cont := range []int{0, 3} {
			c := newH2W(true)
			c.headers(1, true, cont, get(path)...)
			out = append(out, H2{Name: "request " + path, Client: c.buf.Bytes(), Server: ok200(), InRequest: true})
		}
	}
	for _, coding := range []string{"", "gzip", "br", "zstd", "deflate-raw"} {
		for _, size := range []int{1 << 14, 1} {
			c := newH2W(true)
			kv := []string{":method", "POST", ":scheme", "http", ":authority", "h", ":path", "/up"}
			if coding != "" {
				kv = append(kv, "content-encoding", ceHeader[coding])
			}
			c.headers(1, false, 1, kv...)
			c.data(1, Encode(coding, []byte(EICAR)), size, 2)
			out = append(out, H2{Name: "upload " + coding, Client: c.buf.Bytes(), Server: ok200(), InRequest: true})
		}
	}
	{
		c := newH2W(false)
		c.buf.Reset()
		c.buf.WriteString("PROXY TCP4 192.0.2.1 192.0.2.2 1234 80\r\n" + http2.ClientPreface)
		_ = c.fr.WriteSettings()
		c.headers(1, true, 0, get("/forbidden")...)
		out = append(out, H2{Name: "PROXY then prior knowledge", Client: c.buf.Bytes(), Server: ok200(), InRequest: true})
	}
	for _, cont := range []int{0, 4} {
		c := newH2W(false)
		c.buf.Reset()
		c.buf.WriteString("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n" + http2.ClientPreface)
		_ = c.fr.WriteSettings()
		c.headers(3, true, cont, get("/forbidden")...)
		out = append(out, H2{Name: fmt.Sprintf("h2c upgrade, path over %d CONTINUATION frames", cont), Client: c.buf.Bytes(), Server: ok200(), InRequest: true})
	}
	{
		// The path enters HPACK's dynamic table from a trailer block
		// (a server refuses the pseudo-header there, but its table
		// keeps the entry); the next request names it by index only.
		c := newH2W(true)
		c.headers(1, false, 0, ":method", "POST", ":scheme", "http", ":authority", "h", ":path", "/ok")
		_ = c.fr.WriteData(1, false, []byte("x"))
		_ = c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.block(":path", "/forbidden"), EndStream: true, EndHeaders: true})
		c.headers(3, true, 0, get("/forbidden")...)
		out = append(out, H2{Name: "HPACK entry from trailers", Client: c.buf.Bytes(), Server: ok200(), InRequest: true})
	}
	{
		// A dynamic table size update to zero before the block, which
		// is split over CONTINUATION frames.
		c := newH2W(true)
		c.enc.SetMaxDynamicTableSize(0)
		c.headers(1, true, 2, get("/forbidden")...)
		out = append(out, H2{Name: "HPACK table size zero", Client: c.buf.Bytes(), Server: ok200(), InRequest: true})
	}
	// Responses to a benign request.
	for _, coding := range []string{"", "gzip", "x-gzip", "br", "zstd", "deflate-zlib", "br-gzip"} {
		for _, size := range []int{1 << 14, 1} {
			c := newH2W(true)
			c.headers(1, true, 0, get("/ok")...)
			s := newH2W(false)
			kv := []string{":status", "200"}
			if coding != "" {
				kv = append(kv, "content-encoding", ceHeader[coding])
			}
			s.headers(1, false, 2, kv...)
			s.data(1, Encode(coding, []byte(EICAR)), size, 1)
			out = append(out, H2{Name: "download " + coding, Client: c.buf.Bytes(), Server: s.buf.Bytes()})
		}
	}
	{
		c := newH2W(true)
		c.headers(1, true, 0, get("/ok")...)
		s := newH2W(false)
		_ = s.fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, BlockFragment: s.block(get("/pushed.js")...), EndHeaders: true})
		s.headers(1, true, 0, ":status", "204")
		s.headers(2, false, 0, ":status", "200", "content-encoding", "gzip")
		s.data(2, Encode("gzip", []byte(EICAR)), 16, 0)
		out = append(out, H2{Name: "pushed download", Client: c.buf.Bytes(), Server: s.buf.Bytes()})
	}
	{
		c := newH2W(false)
		c.buf.Reset()
		c.buf.WriteString("GET /ok HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n" + http2.ClientPreface)
		_ = c.fr.WriteSettings()
		s := newH2W(false)
		s.buf.Reset()
		s.buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
		_ = s.fr.WriteSettings()
		s.headers(1, false, 0, ":status", "200", "content-encoding", "br")
		s.data(1, Encode("br", []byte(EICAR)), 5, 0)
		out = append(out, H2{Name: "h2c upgrade download", Client: c.buf.Bytes(), Server: s.buf.Bytes()})
	}
	return out
}

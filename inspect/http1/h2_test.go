package http1

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
	ih2 "github.com/interdict/interdict/inspect/http2"
)

// h2w writes frames of one direction.
type h2w struct {
	buf bytes.Buffer
	fr  *http2.Framer
	hb  bytes.Buffer
	enc *hpack.Encoder
}

func newH2W() *h2w {
	w := &h2w{}
	w.fr = http2.NewFramer(&w.buf, nil)
	w.enc = hpack.NewEncoder(&w.hb)
	return w
}

func (w *h2w) headers(stream uint32, end bool, kv ...string) {
	w.hb.Reset()
	for i := 0; i < len(kv); i += 2 {
		w.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	block := w.hb.Bytes()
	// Split the block over HEADERS and a CONTINUATION.
	cut := len(block) / 2
	w.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: block[:cut], EndStream: end, EndHeaders: false})
	w.fr.WriteContinuation(stream, true, block[cut:])
}

func (w *h2w) data(stream uint32, end bool, b []byte, pad int) {
	w.fr.WriteDataPadded(stream, end, b, make([]byte, pad))
}

const eicarTest = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

func TestHTTP2PriorKnowledge(t *testing.T) {
	cli, srv := newH2W(), newH2W()
	cli.buf.WriteString(http2.ClientPreface)
	cli.fr.WriteSettings()
	cli.headers(1, true, ":method", "GET", ":scheme", "http", ":authority", "Example.COM:8080", ":path", "/a/../forbidden", "user-agent", "curl/8")
	cli.headers(3, false, ":method", "POST", ":scheme", "http", ":authority", "h", ":path", "/up", "content-encoding", "gzip")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(eicarTest))
	zw.Close()
	cli.data(3, true, gz.Bytes(), 7)
	srv.fr.WriteSettings()
	srv.headers(1, false, ":status", "200", "content-type", "text/plain")
	srv.data(1, false, []byte(eicarTest[:20]), 3)
	srv.data(1, true, []byte(eicarTest[20:]), 0)
	srv.headers(3, true, ":status", "204")

	for _, split := range []func([]byte) [][]byte{nil, byteAtATime} {
		r := runSplit([]step{{inspect.ToServer, cli.buf.String()}, {inspect.ToClient, srv.buf.String()}}, split, WithPriorKnowledge())
		final := r.final()
		// Each frame of the connection (SETTINGS) is a transaction of its
		// own, as in Suricata: streams are found by their URI.
		req1 := byURI(final, inspect.ToServer, "/forbidden")
		assert.Equal(t, "/forbidden", req1["http.uri"])
		assert.Equal(t, "example.com", req1["http.host"])
		assert.Equal(t, "GET", req1["http.method"])
		assert.Equal(t, "curl/8", req1["http.user_agent"])
		assert.Equal(t, eicarTest, byURI(final, inspect.ToServer, "/up")["http.request_body"], "gzip request body decoded")
		resp1 := byURI(final, inspect.ToClient, "/forbidden")
		assert.Equal(t, eicarTest, resp1["http.response_body"])
		assert.Equal(t, "200", resp1["http.stat_code"])
		assert.Equal(t, "/forbidden", resp1["http.uri"], "the response Unit keeps the request's buffers")
		evs := r.events()
		require.Len(t, evs, 2)
		assert.Equal(t, "HTTP/2", evs[0].Protocol)
		assert.Equal(t, []uint32{1, 3}, []uint32{evs[0].StreamID, evs[1].StreamID})
		assert.Empty(t, r.anomalies())
	}
}

func TestHTTP2Upgrade(t *testing.T) {
	cli, srv := newH2W(), newH2W()
	cli.buf.WriteString("GET /first HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n")
	cli.buf.WriteString(http2.ClientPreface)
	cli.fr.WriteSettings()
	cli.headers(3, true, ":method", "GET", ":scheme", "http", ":authority", "h", ":path", "/forbidden")
	srv.buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
	srv.fr.WriteSettings()
	srv.headers(1, false, ":status", "200")
	srv.data(1, true, []byte(eicarTest), 0)
	for _, split := range []func([]byte) [][]byte{nil, byteAtATime} {
		r := runSplit([]step{{inspect.ToServer, cli.buf.String()}, {inspect.ToClient, srv.buf.String()}}, split)
		final := r.final()
		// As Suricata: the HTTP/1 transaction ends with its 101, and
		// stream 1 is an HTTP/2 transaction of its own that mimics the
		// upgraded request and carries the answer.
		assert.Equal(t, "101", final[key{inspect.ToClient, 0}]["http.stat_code"])
		assert.Equal(t, "HTTP/1.1", final[key{inspect.ToServer, 0}]["http.protocol"])
		var h2first map[string]string
		uris := map[string]bool{}
		for k, b := range final {
			if k.tx != 0 && b["http.uri"] == "/first" && k.dir == inspect.ToClient {
				h2first = b
			}
			if k.dir == inspect.ToServer && b["http.protocol"] == "HTTP/2" {
				uris[b["http.uri"]] = true
			}
		}
		require.NotNil(t, h2first)
		assert.Equal(t, eicarTest, h2first["http.response_body"], "stream 1 answers the upgraded request")
		assert.Equal(t, "h", h2first["http.host"], "with the request's headers")
		assert.Equal(t, map[string]bool{"/first": true, "/forbidden": true}, uris, "stream 1 mimics the upgraded request; stream 3 after the preface")
		var logged []string
		for _, ev := range r.events() {
			logged = append(logged, ev.Protocol+" "+ev.URL)
		}
		assert.Contains(t, logged, "HTTP/1.1 /first")
		assert.Contains(t, logged, "HTTP/2 /first")
		assert.Empty(t, r.anomalies())
	}
}

func TestHTTP2Malformed(t *testing.T) {
	bigFrame := func() string {
		w := newH2W()
		w.buf.WriteString(http2.ClientPreface)
		w.fr.WriteRawFrame(http2.FrameHeaders, http2.FlagHeadersEndHeaders, 1, make([]byte, 70<<10))
		return w.buf.String()
	}
	bomb := func() string {
		// One big dynamic-table entry referenced many times: a small
		// block that decodes to megabytes.
		w := newH2W()
		w.buf.WriteString(http2.ClientPreface)
		w.hb.Reset()
		w.enc.SetMaxDynamicTableSizeLimit(4096)
		w.enc.WriteField(hpack.HeaderField{Name: "x", Value: strings.Repeat("a", 4000)})
		for i := 0; i < 2000; i++ {
			w.enc.WriteField(hpack.HeaderField{Name: "x", Value: strings.Repeat("a", 4000)})
		}
		w.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: w.hb.Bytes()[:min(w.hb.Len(), 16000)], EndHeaders: true})
		return w.buf.String()
	}
	badHPACK := func() string {
		w := newH2W()
		w.buf.WriteString(http2.ClientPreface)
		w.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0xff, 0xff, 0xff, 0xff, 0xff}, EndHeaders: true})
		return w.buf.String()
	}
	badOrder := func() string {
		w := newH2W()
		w.buf.WriteString(http2.ClientPreface)
		w.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0x82}, EndHeaders: false})
		w.fr.WriteData(1, true, []byte("x"))
		return w.buf.String()
	}
	for _, tc := range []struct {
		name, data string
		want       []string
	}{
		{"bad preface", "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", []string{"HTTP2_PREFACE_INVALID"}},
		{"frame over the bound", bigFrame(), []string{"HTTP2_FRAME_TOO_LARGE", ih2.EvLongFrameData}},
		{"HPACK bomb", bomb(), []string{"HTTP2_HEADER_LIST_TOO_LARGE"}},
		{"HPACK invalid", badHPACK(), []string{"HTTP2_HPACK_INVALID"}},
		{"DATA inside a header block", badOrder(), []string{"HTTP2_FRAME_INVALID"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, split := range []func([]byte) [][]byte{nil, byteAtATime} {
				r := runSplit([]step{{inspect.ToServer, tc.data}}, split, WithPriorKnowledge())
				assert.Equal(t, tc.want, r.anomalies())
			}
		})
	}
}

func TestProbeH2(t *testing.T) {
	assert.Equal(t, 2, int(ProbeH2(inspect.ToServer, []byte(http2.ClientPreface))))
	assert.Equal(t, 1, int(ProbeH2(inspect.ToServer, []byte("PRI * HT"))))
	assert.Equal(t, 0, int(Probe(inspect.ToServer, []byte(http2.ClientPreface))), "the preface is not HTTP/1")
	assert.Equal(t, 2, int(Probe(inspect.ToServer, []byte("PRI /forbidden HTTP/1.1\r\n"))), "PRI as an HTTP/1 method is")
}

// At most maxDecoders compressed bodies are decoded at once on a flow;
// one more is refused, and finished ones free their place.
func TestHTTP2DecoderBound(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(eicarTest))
	zw.Close()
	cli, srv := newH2W(), newH2W()
	cli.buf.WriteString(http2.ClientPreface)
	for i := 0; i < maxDecoders+2; i++ {
		cli.headers(uint32(1+2*i), true, ":method", "GET", ":scheme", "http", ":authority", "h", ":path", "/")
	}
	// maxDecoders+1 responses start their compressed bodies at once.
	for i := 0; i <= maxDecoders; i++ {
		srv.headers(uint32(1+2*i), false, ":status", "200", "content-encoding", "gzip")
		srv.data(uint32(1+2*i), false, gz.Bytes()[:5], 0)
	}
	r := run([]step{{inspect.ToServer, cli.buf.String()}, {inspect.ToClient, srv.buf.String()}}, WithPriorKnowledge())
	assert.Equal(t, []string{"RESPONSE_TOO_MANY_COMPRESSED_BODIES"}, r.anomalies())

	// Sequential streams reuse the places.
	cli2, srv2 := newH2W(), newH2W()
	cli2.buf.WriteString(http2.ClientPreface)
	for i := 0; i < 3*maxDecoders; i++ {
		cli2.headers(uint32(1+2*i), true, ":method", "GET", ":scheme", "http", ":authority", "h", ":path", "/")
		srv2.headers(uint32(1+2*i), false, ":status", "200", "content-encoding", "gzip")
		srv2.data(uint32(1+2*i), true, gz.Bytes(), 0)
	}
	p := New(WithPriorKnowledge())
	rec := &recorder{}
	p.Feed(inspect.ToServer, cli2.buf.Bytes(), rec.emit)
	p.Feed(inspect.ToClient, srv2.buf.Bytes(), rec.emit)
	assert.Empty(t, rec.anomalies())
	assert.Zero(t, p.decoders, "every finished body gave its decoder back")

	// Each layer of a stacked coding holds a decoder: two bodies of five
	// layers are more than a flow decodes at once.
	cli4, srv4 := newH2W(), newH2W()
	cli4.buf.WriteString(http2.ClientPreface)
	for i := uint32(1); i <= 3; i += 2 {
		cli4.headers(i, true, ":method", "GET", ":scheme", "http", ":authority", "h", ":path", "/")
		srv4.headers(i, false, ":status", "200", "content-encoding", "gzip, gzip, gzip, gzip, gzip")
		srv4.data(i, false, gz.Bytes()[:5], 0)
	}
	r = run([]step{{inspect.ToServer, cli4.buf.String()}, {inspect.ToClient, srv4.buf.String()}}, WithPriorKnowledge())
	assert.Contains(t, r.anomalies(), "RESPONSE_TOO_MANY_COMPRESSED_BODIES")

	// A message without a body holds no decoder, however many are open.
	cli3 := newH2W()
	cli3.buf.WriteString(http2.ClientPreface)
	for i := 0; i < 2*maxDecoders; i++ {
		cli3.headers(uint32(1+2*i), true, ":method", "GET", ":scheme", "http", ":authority", "h", ":path", "/", "content-encoding", "zstd")
	}
	p = New(WithPriorKnowledge())
	rec = &recorder{}
	p.Feed(inspect.ToServer, cli3.buf.Bytes(), rec.emit)
	assert.Empty(t, rec.anomalies())
	assert.Zero(t, p.decoders)
}

// A server may answer before the request body is in: the rest of the
// upload is still inspected, and the transaction is logged once.
func TestHTTP2AnswerBeforeUpload(t *testing.T) {
	cli, srv := newH2W(), newH2W()
	cli.buf.WriteString(http2.ClientPreface)
	cli.headers(1, false, ":method", "POST", ":scheme", "http", ":authority", "h", ":path", "/up")
	cli.data(1, false, []byte("harmless start "), 0)
	srv.headers(1, true, ":status", "200")
	late := newH2W()
	late.data(1, true, []byte(eicarTest), 0)
	r := run([]step{{inspect.ToServer, cli.buf.String()}, {inspect.ToClient, srv.buf.String()}, {inspect.ToServer, late.buf.String()}}, WithPriorKnowledge())
	assert.Equal(t, "harmless start "+eicarTest, r.final()[key{inspect.ToServer, 0}]["http.request_body"])
	assert.Len(t, r.events(), 1)
}

// The HTTP/2 mode never panics on frames of any shape and keeps its
// bounds; a seed is a valid exchange.
func FuzzHTTP2Streams(f *testing.F) {
	cli, srv := newH2W(), newH2W()
	cli.fr.WriteSettings()
	cli.headers(1, false, ":method", "POST", ":scheme", "http", ":authority", "h", ":path", "/a", "content-encoding", "gzip")
	cli.data(1, true, []byte("\x1f\x8b\x08\x00"), 3)
	srv.headers(1, false, ":status", "200", "content-encoding", "br")
	srv.data(1, true, []byte("xyz"), 0)
	f.Add(cli.buf.Bytes(), srv.buf.Bytes(), uint16(5))
	f.Fuzz(func(t *testing.T, c, s []byte, piece uint16) {
		p := New(WithPriorKnowledge(), WithMaxHeaderBytes(1024), WithMaxBodyBytes(256))
		rec := &recorder{}
		p.Feed(inspect.ToServer, []byte(http2.ClientPreface), rec.emit)
		n := int(piece%64) + 1
		for len(c) > 0 || len(s) > 0 {
			k := min(n, len(c))
			p.Feed(inspect.ToServer, c[:k], rec.emit)
			c = c[k:]
			k = min(n, len(s))
			p.Feed(inspect.ToClient, s[:k], rec.emit)
			s = s[k:]
			require.LessOrEqual(t, len(p.h2.streams), ih2.MaxStreams)
			require.True(t, p.decoders >= 0 && p.decoders <= maxDecoders)
		}
		p.Close(rec.emit)
		require.Zero(t, p.decoders, "every decoder closed with the flow")
	})
}

// Suricata's http2 events: userinfo in :authority, :authority and host
// that differ in one header block, a frame of 64 KiB or more. None stops
// parsing: the request is still read.
func TestHTTP2Events(t *testing.T) {
	req := func(kv ...string) string {
		w := newH2W()
		w.buf.WriteString(http2.ClientPreface)
		w.headers(1, true, append([]string{":method", "GET", ":scheme", "http", ":path", "/x"}, kv...)...)
		return w.buf.String()
	}
	long := func() string {
		w := newH2W()
		w.buf.WriteString(http2.ClientPreface)
		w.headers(1, false, ":method", "POST", ":scheme", "http", ":authority", "a", ":path", "/up")
		w.fr.WriteData(1, true, bytes.Repeat([]byte("x"), 1<<16))
		return w.buf.String()
	}
	for _, tc := range []struct {
		name, data, uri string
		want            []string
	}{
		{"userinfo", req(":authority", "user:pw@example.com"), "/x", []string{ih2.EvUserinfoInURI}},
		{"authority and host differ", req(":authority", "example.com", "host", "foo.com"), "/x", []string{ih2.EvAuthorityHostMismatch}},
		{"authority and host agree", req(":authority", "Example.com", "host", "example.COM"), "/x", nil},
		{"long frame", long(), "/up", []string{ih2.EvLongFrameData}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runSplit([]step{cs(tc.data)}, nil, WithPriorKnowledge())
			assert.Equal(t, tc.want, r.anomalies())
			assert.Equal(t, tc.uri, r.final()[key{inspect.ToServer, 0}]["http.uri"], "the request is still read")
		})
	}
}

// http.request_header and http.response_header of HTTP/2 hold the
// pseudo-header fields too, first, as Suricata's do.
func TestHTTP2PseudoHeaderLines(t *testing.T) {
	cli, srv := newH2W(), newH2W()
	cli.buf.WriteString(http2.ClientPreface)
	cli.headers(1, true, ":method", "GET", ":scheme", "http", ":authority", "u:p@example.com", ":path", "/x", "user-agent", "curl/8")
	srv.headers(1, true, ":status", "404", "server", "s")
	var req, resp []string
	p := New(WithPriorKnowledge())
	emit := func(u *applayer.Unit) {
		req, resp = req[:0], resp[:0]
		for _, l := range u.Multi[applayer.HTTPRequestHeader] {
			req = append(req, string(l))
		}
		for _, l := range u.Multi[applayer.HTTPResponseHeader] {
			resp = append(resp, string(l))
		}
	}
	p.Feed(inspect.ToServer, cli.buf.Bytes(), emit)
	p.Feed(inspect.ToClient, srv.buf.Bytes(), emit)
	assert.Equal(t, []string{":method: GET", ":scheme: http", ":authority: u:p@example.com", ":path: /x", "user-agent: curl/8"}, req)
	assert.Equal(t, []string{":status: 404", "server: s"}, resp)
}

// byURI is the last view from dir of the transaction whose URI is uri.
func byURI(final map[key]map[string]string, dir inspect.Direction, uri string) map[string]string {
	for k, b := range final {
		if k.dir == dir && b["http.uri"] == uri {
			return b
		}
	}
	return nil
}

// A stream the client resets is logged with its error code, and the
// first priority of each side, as Suricata's http2 logger writes them.
func TestHTTP2ResetLogged(t *testing.T) {
	cli, srv := newH2W(), newH2W()
	cli.buf.WriteString(http2.ClientPreface)
	cli.headers(1, false, ":method", "POST", ":scheme", "http", ":authority", "a", ":path", "/up")
	cli.fr.WritePriority(1, http2.PriorityParam{Weight: 9})
	srv.headers(1, false, ":status", "200")
	cli2 := newH2W()
	cli2.fr.WriteRSTStream(1, http2.ErrCodeCancel)
	r := runSplit([]step{cs(cli.buf.String()), sc(srv.buf.String()), cs(cli2.buf.String())}, nil, WithPriorKnowledge())
	evs := r.events()
	require.Len(t, evs, 1)
	require.NotNil(t, evs[0].H2Request.ErrorCode)
	assert.Equal(t, uint32(http2.ErrCodeCancel), *evs[0].H2Request.ErrorCode)
	require.NotNil(t, evs[0].H2Request.Priority)
	assert.Equal(t, uint8(9), *evs[0].H2Request.Priority)
	assert.Nil(t, evs[0].H2Response.ErrorCode)
}

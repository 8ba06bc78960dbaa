package http1

import (
	"bytes"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// AppProto is the EVE app_proto name.
const AppProto = "http"

const (
	// DefaultMaxHeaderBytes bounds the start line plus headers kept per
	// message. libhtp's hard field limit is 18000 bytes; 16 KiB covers real
	// browsers' headers with cookies while bounding the per-flow cost.
	DefaultMaxHeaderBytes = 16 << 10
	// DefaultMaxBodyBytes bounds the body bytes kept for inspection per
	// message, close to Suricata's request/response-body-limit (100 KiB).
	DefaultMaxBodyBytes = 64 << 10
	// maxPending bounds requests waiting for their response (pipelining).
	// Real clients pipeline a handful at most; each pending request keeps
	// its buffers, so this multiplies the per-flow memory bound.
	maxPending = 8
	// maxHeaders bounds header fields per message (libhtp flags >1024).
	maxHeaders = 256
)

// Option configures a Parser.
type Option func(*config)

type config struct {
	maxHeader int
	maxBody   int
}

// WithMaxHeaderBytes sets the bound on start line plus headers kept per
// message; values below 256 are raised to 256.
func WithMaxHeaderBytes(n int) Option {
	return func(c *config) { c.maxHeader = max(n, 256) }
}

// WithMaxBodyBytes sets the bound on body bytes kept for inspection per
// message; 0 disables body buffers.
func WithMaxBodyBytes(n int) Option {
	return func(c *config) { c.maxBody = max(n, 0) }
}

// Buffers lists the sticky buffers this parser fills.
var Buffers = []applayer.Buffer{
	applayer.HTTPMethod, applayer.HTTPURI, applayer.HTTPURIRaw, applayer.HTTPProtocol,
	applayer.HTTPRequestLine, applayer.HTTPHost, applayer.HTTPHostRaw, applayer.HTTPHeader,
	applayer.HTTPHeaderRaw, applayer.HTTPHeaderNames, applayer.HTTPUserAgent, applayer.HTTPCookie,
	applayer.HTTPContentType, applayer.HTTPContentLen, applayer.HTTPAccept, applayer.HTTPAcceptEnc,
	applayer.HTTPAcceptLang, applayer.HTTPConnection, applayer.HTTPReferer, applayer.HTTPStart,
	applayer.HTTPRequestBody, applayer.HTTPStatCode, applayer.HTTPStatMsg, applayer.HTTPResponseLine,
	applayer.HTTPResponseBody, applayer.HTTPLocation, applayer.HTTPServer,
	applayer.HTTPRequestHeader, applayer.HTTPResponseHeader,
}

func init() {
	applayer.Register(applayer.Proto{
		Name:      AppProto,
		Transport: inspect.ProtoTCP,
		Probe:     Probe,
		New:       func() applayer.Parser { return New() },
		Buffers:   Buffers,
	})
}

// methods recognised by the probe, as Suricata's HTTP probing patterns do;
// WebDAV methods included because they carry exploits too.
var methods = [][]byte{
	[]byte("GET "), []byte("POST "), []byte("HEAD "), []byte("PUT "), []byte("DELETE "),
	[]byte("OPTIONS "), []byte("CONNECT "), []byte("TRACE "), []byte("PATCH "),
	[]byte("PROPFIND "), []byte("PROPPATCH "), []byte("MKCOL "), []byte("COPY "),
	[]byte("MOVE "), []byte("LOCK "), []byte("UNLOCK "), []byte("SEARCH "),
	[]byte("REPORT "), []byte("CHECKOUT "), []byte("MERGE "), []byte("SUBSCRIBE "),
	[]byte("NOTIFY "), []byte("M-SEARCH "),
}

var httpSlash = []byte("HTTP/")

// Probe recognises HTTP by content: a known method followed by a space
// towards the server, "HTTP/" towards the client. Leading CRLFs, which
// RFC 9112 2.2 lets a server ignore, are skipped.
func Probe(dir inspect.Direction, data []byte) applayer.ProbeResult {
	for len(data) > 0 && (data[0] == '\r' || data[0] == '\n') {
		data = data[1:]
	}
	if len(data) == 0 {
		return applayer.ProbeMore
	}
	if dir == inspect.ToClient {
		return prefixProbe(data, httpSlash)
	}
	res := applayer.ProbeNo
	for _, m := range methods {
		switch prefixProbe(data, m) {
		case applayer.ProbeYes:
			return applayer.ProbeYes
		case applayer.ProbeMore:
			res = applayer.ProbeMore
		}
	}
	return res
}

func prefixProbe(data, want []byte) applayer.ProbeResult {
	if len(data) >= len(want) {
		if bytes.Equal(data[:len(want)], want) {
			return applayer.ProbeYes
		}
		return applayer.ProbeNo
	}
	if bytes.Equal(data, want[:len(data)]) {
		return applayer.ProbeMore
	}
	return applayer.ProbeNo
}

package http1

import (
	"bytes"
	"errors"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
	"github.com/interdict/interdict/inspect/decode"
	"github.com/interdict/interdict/inspect/http2"
	"github.com/interdict/interdict/inspect/proxyproto"
)

// AppProto is the EVE app_proto name.
const AppProto = "http"

// Limits bound what the parser keeps per message. Past a bound the
// parser reports an anomaly (the policy's default for these is reject, so
// nothing over a limit reaches the other side uninspected) and keeps
// following the framing. The defaults are at least what nginx and Apache
// accept by default; Go's net/http accepts up to 1 MiB of header section,
// which HeaderSection can be raised to.
type Limits struct {
	// StartLine bounds a request or status line (anomaly
	// REQUEST_LINE_TOO_LONG / RESPONSE_LINE_TOO_LONG). nginx: 8 KiB
	// (large_client_header_buffers), Apache: 8190 (LimitRequestLine).
	StartLine int
	// HeaderLine bounds one header line (REQUEST_FIELD_TOO_LONG). nginx:
	// 8 KiB, Apache: 8190 (LimitRequestFieldSize). The default is
	// libhtp's field limit (FieldLimit), so the event comes at the byte
	// Suricata raises it.
	HeaderLine int
	// HeaderCount bounds header fields per message
	// (REQUEST_TOO_MANY_HEADERS). Apache: 100 (LimitRequestFields); nginx
	// and Go count none, only bytes.
	HeaderCount int
	// HeaderSection bounds start line plus headers
	// (REQUEST_HEADER_SECTION_TOO_LARGE). nginx: 4 x 8 KiB = 32 KiB.
	HeaderSection int
	// ChunkLine bounds a chunk-size line with its extensions
	// (INVALID_REQUEST_CHUNK_LEN). Go's net/http: 4 KiB.
	ChunkLine int
	// Decoded bounds the decoded bytes of one compressed body
	// (REQUEST_DECOMPRESSION_BOMB); a body decoding to more than 200
	// times its size past 1 MiB is one too.
	Decoded int64
	// FileInfo turns on EVE fileinfo records (name, size, SHA-256, MIME
	// type, state) for message bodies; hashing costs a pass over every
	// decoded body byte.
	FileInfo bool
	// FileMatch computes what the file keywords (filesize, filemd5,
	// filesha1, filesha256) match: each file's size and digests, handed
	// to detection when the file is complete. Rule sets that use them
	// turn it on.
	FileMatch bool
	// Frames fills the frame:http1.request and frame:http1.response
	// buffers (applayer.HTTP1FrameRequest): a copy of the message per
	// Unit, so only rule sets that use them turn it on.
	Frames bool
	// HeaderLog puts every header of the request ("request"), the
	// response ("response") or both ("both") in the transaction record,
	// as Suricata's http logger with dump-all-headers; "" none.
	HeaderLog string
	// Body is the body inspection window per message: a body longer than
	// this is inspected in windows of this size that overlap by a
	// quarter, so no byte of a body goes uninspected (see doc.go).
	Body int
	// DecoderMemory bounds the memory the body decoders of every flow
	// hold together (REQUEST_DECODER_MEMORY_EXHAUSTED): 0 is
	// DefaultDecoderMemory, negative unlimited. It sizes the Budget
	// ruleset.WithHTTPLimits makes when Budget is nil.
	DecoderMemory int64
	// Budget is the decoder memory the parsers share; nil is a
	// process-wide budget of DefaultDecoderMemory.
	Budget *decode.Budget
}

// DefaultDecoderMemory is the default decoder memory of all flows
// together: 32 br bodies with the largest (16 MiB) window, 128 with the
// 4 MiB window of br's quality 11, 64 zstd bodies with the 8 MiB window
// browsers accept, or ~4000 gzip bodies at once, within what a host
// running an IPS spares. Without a bound, a few hundred connections each
// sending a body that asks for the largest window allocate gigabytes.
const DefaultDecoderMemory = 512 << 20

// defaultBudget is the budget of parsers made without one.
var defaultBudget = decode.NewBudget(DefaultDecoderMemory)

// NewBudget returns a decoder memory budget for Limits.DecoderMemory
// (0: DefaultDecoderMemory; negative: unlimited).
func NewBudget(memory int64) *decode.Budget {
	if memory == 0 {
		memory = DefaultDecoderMemory
	}
	return decode.NewBudget(max(memory, 0))
}

// DefaultLimits are the limits New uses.
var DefaultLimits = Limits{
	StartLine:     16 << 10,
	HeaderLine:    FieldLimit,
	HeaderCount:   256,
	HeaderSection: 64 << 10,
	ChunkLine:     4 << 10,
	Decoded:       256 << 20,
	Body:          DefaultMaxBodyBytes,
}

const (
	// FieldLimit is libhtp's field limit (its config.rs field_limit):
	// a start line or header line, with its line end, longer than this
	// is REQUEST_FIELD_TOO_LONG / RESPONSE_FIELD_TOO_LONG in Suricata.
	// libhtp stops parsing the connection there; this parser raises the
	// event and goes on reading, so no later header escapes inspection
	// (the policy rejects the message by default).
	FieldLimit = 18000
	// DefaultMaxHeaderBytes is DefaultLimits.HeaderSection.
	DefaultMaxHeaderBytes = 64 << 10
	// DefaultMaxBodyBytes is the body inspection window, close to
	// Suricata's request/response-body-limit (100 KiB).
	DefaultMaxBodyBytes = 64 << 10
	// maxPending bounds requests waiting for their response (pipelining).
	// Real clients pipeline a handful at most; each pending request keeps
	// its buffers, so this multiplies the per-flow memory bound.
	maxPending = 8
	// maxDecoders bounds the decoders live at once per flow: one per
	// coding layer of each compressed body being decoded (HTTP/1 has at
	// most two bodies, a request and a response; HTTP/2 one per stream;
	// "br, gzip" is two layers). Each holds a history of up to 64 KiB
	// (deflate), a br window (up to 16 MiB) or a zstd window (up to
	// 8 MiB), so this caps a flow's decoder memory at 8 windows, 128 MiB
	// at worst (BenchmarkFlowMemoryWindows: 17 MB for one br body with a
	// full 16 MiB window, 148 KB for gzip). All flows together are
	// bounded by Limits.DecoderMemory.
	maxDecoders = 8
	// minLimit is the smallest start line, header line or section kept.
	minLimit = 256
)

// Option configures a Parser.
type Option func(*config)

type config struct {
	Limits
	maxHeader int
	maxBody   int
	h2        bool // HTTP/2 with prior knowledge
}

// WithLimits sets every limit; zero fields keep their default, and line
// and section bounds below 256 are raised to 256.
func WithLimits(l Limits) Option {
	return func(c *config) {
		d := DefaultLimits
		pick := func(v, def int) int {
			if v <= 0 {
				return def
			}
			return v
		}
		c.StartLine = max(pick(l.StartLine, d.StartLine), minLimit)
		c.HeaderLine = max(pick(l.HeaderLine, d.HeaderLine), minLimit)
		c.HeaderCount = pick(l.HeaderCount, d.HeaderCount)
		c.ChunkLine = max(pick(l.ChunkLine, d.ChunkLine), 32)
		c.maxHeader = max(pick(l.HeaderSection, d.HeaderSection), minLimit)
		c.Decoded = d.Decoded
		c.FileInfo = l.FileInfo
		c.FileMatch = l.FileMatch
		c.Frames = l.Frames
		c.HeaderLog = l.HeaderLog
		if l.Budget != nil {
			c.Budget = l.Budget
		}
		if l.Decoded > 0 {
			c.Decoded = l.Decoded
		}
		if l.Body > 0 {
			c.maxBody = l.Body
		}
	}
}

// WithMaxHeaderBytes sets the bound on start line plus headers kept per
// message; values below 256 are raised to 256.
func WithMaxHeaderBytes(n int) Option {
	return func(c *config) { c.maxHeader = max(n, minLimit) }
}

// WithMaxBodyBytes sets the body inspection window per message; 0
// disables body buffers.
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
	applayer.HTTPRequestHeader, applayer.HTTPResponseHeader, applayer.FileName,
	applayer.FileSize, applayer.FileMD5, applayer.FileSHA1, applayer.FileSHA256,
}

func init() {
	applayer.Register(applayer.Proto{
		Name:      AppProto,
		Transport: inspect.ProtoTCP,
		Probe:     Probe,
		New:       func() applayer.Parser { return New() },
		Buffers:   Buffers,
		Events:    EventNames(),
	})
}

// methods are recognised by the probe at once, in any case; any other
// token method needs its request line to end in an HTTP version.
var methods = []string{
	"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "CONNECT", "TRACE", "PATCH",
	"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH",
	"REPORT", "CHECKOUT", "MERGE", "SUBSCRIBE", "NOTIFY", "M-SEARCH",
}

var httpSlash = []byte("HTTP/")

// probeLine is how much of a token-started request line without its end
// the probe waits for before taking it for HTTP: past it the parser and
// its limits judge the line, rather than the flow going uninspected.
const probeLine = 1024

// Probe recognises HTTP by content, so an attacker cannot steer it off
// HTTP: towards the server, an optional PROXY header (v1 or v2), empty
// lines (RFC 9112 2.2) and blanks, then any token method (RFC 9110 9.1) in any case,
// a run of spaces or tabs, and either a well-known method or a line that
// ends in an HTTP version; towards the client, "HTTP/" in any case.
func Probe(dir inspect.Direction, data []byte) applayer.ProbeResult {
	proxied := false
	if dir == inspect.ToServer && proxyproto.Detect(data) {
		proxied = true
		_, n, err := proxyproto.Parse(data)
		switch {
		case errors.Is(err, proxyproto.ErrMore):
			return applayer.ProbeMore
		case err != nil:
			// A broken PROXY header: the parser reports it, and the
			// default policy rejects the flow.
			return applayer.ProbeYes
		}
		data = data[n:]
	}
	skipped := 0
	for len(data) > 0 && (data[0] == '\r' || data[0] == '\n' || dir == inspect.ToServer && isLineSpace(data[0])) {
		data = data[1:]
		skipped++
	}
	if len(data) == 0 {
		if skipped >= probeLine {
			// Servers skip any number of empty lines (nginx) and
			// blanks before the method (IIS): undecided at the probe
			// bound, the request that follows would pass uninspected.
			return applayer.ProbeYes
		}
		return applayer.ProbeMore
	}
	if dir == inspect.ToClient {
		n := min(len(data), len(httpSlash))
		if !bytes.EqualFold(data[:n], httpSlash[:n]) {
			return applayer.ProbeNo
		}
		if n < len(httpSlash) {
			return applayer.ProbeMore
		}
		return applayer.ProbeYes
	}
	if r := prefixProbe(data, []byte(http2.Preface)); r != applayer.ProbeNo {
		// The HTTP/2 preface at the start is ProbeH2's; after a PROXY
		// header it is this parser's, which switches to HTTP/2 at it.
		if proxied {
			return r
		}
		return applayer.ProbeNo
	}
	i := 0
	for i < len(data) && isToken(data[i]) {
		i++
	}
	switch {
	case i == len(data):
		return applayer.ProbeMore
	case i == 0 || !isLineSpace(data[i]):
		return applayer.ProbeNo
	}
	for _, m := range methods {
		if equalFoldString(data[:i], m) {
			return applayer.ProbeYes
		}
	}
	line := data
	if nl := bytes.IndexByte(data, '\n'); nl >= 0 {
		line = trimEOL(data[:nl+1])
	} else if len(data) < probeLine {
		return applayer.ProbeMore
	} else {
		return applayer.ProbeYes
	}
	if _, _, ok := splitProtocol(line[i:]); ok {
		return applayer.ProbeYes
	}
	return applayer.ProbeNo
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

// isLineSpace is whitespace between the fields of a request line: SP and
// HTAB, and VT and FF, which Apache (HttpProtocolOptions Unsafe) splits
// on as well, so a request line cut by them is still HTTP here.
func isLineSpace(c byte) bool { return isSpace(c) || c == '\v' || c == '\f' }

// trimLineSpace trims request-line whitespace (isLineSpace) at both ends.
func trimLineSpace(b []byte) []byte {
	for len(b) > 0 && isLineSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isLineSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// splitProtocol splits the rest of a request line after the method into
// target and protocol: the protocol is the last whitespace-separated field
// when it starts with "HTTP/" in any case.
func splitProtocol(rest []byte) (target, proto []byte, ok bool) {
	rest = trimLineSpace(rest)
	i := len(rest)
	for i > 0 && !isLineSpace(rest[i-1]) {
		i--
	}
	if i == 0 || len(rest)-i < len(httpSlash) || !bytes.EqualFold(rest[i:i+len(httpSlash)], httpSlash) {
		return rest, nil, false
	}
	return trimLineSpace(rest[:i]), rest[i:], true
}

package applayer

import (
	"bytes"
	"strings"

	"github.com/interdict/interdict/inspect"
)

// Buffer names one sticky buffer (Suricata's names, e.g. "http.uri").
type Buffer uint8

const (
	BufNone Buffer = iota
	HTTPMethod
	HTTPURI    // normalised: percent-decoded, dot segments removed, // folded
	HTTPURIRaw // as on the wire
	HTTPProtocol
	HTTPRequestLine
	HTTPHost    // normalised: lower case, no port
	HTTPHostRaw // as in the Host header (or absolute URI)
	HTTPHeader  // all request or response headers "Name: value\r\n", without Cookie (Suricata's http_header)
	HTTPHeaderRaw
	HTTPHeaderNames // "\r\nName1\r\nName2\r\n\r\n"
	HTTPUserAgent
	HTTPCookie
	HTTPContentType
	HTTPContentLen
	HTTPAccept
	HTTPAcceptEnc
	HTTPAcceptLang
	HTTPConnection
	HTTPReferer
	HTTPStart // request or response line plus headers, raw, up to the blank line
	HTTPRequestBody
	HTTPStatCode
	HTTPStatMsg
	HTTPResponseLine
	HTTPResponseBody // http.response_body; file.data with flow:to_client maps here for HTTP
	HTTPLocation
	HTTPServer
	TLSSNI
	// DNSQuery is a multi-buffer (as in Suricata 8): each question name
	// of a message to the server, dotted, without the trailing dot.
	DNSQuery
	// TLS buffers. The certificate ones describe the server's first
	// (leaf) certificate, in Suricata's spelling: subject and issuer as
	// "C=US, O=..., CN=...", serial as "0A:1B:..", fingerprint as SHA-1
	// "aa:bb:..". TLSVersion is the hello's 2-byte version field (the
	// negotiated one to the client), for the tls.version keyword.
	TLSCertSubject
	TLSCertIssuer
	TLSCertSerial
	TLSCertFingerprint
	TLSVersion
	JA3Hash
	JA3String
	JA3SHash
	JA3SString
	JA4Hash
	// TLSRandom is the hello's 32-byte random (the client's to the
	// server, the server's to the client); TLSRandomTime its first 4
	// bytes, TLSRandomBytes the other 28.
	TLSRandom
	TLSRandomTime
	TLSRandomBytes
	// SSHProto and SSHSoftware are the protocol and software versions of
	// a side's SSH identification line ("2.0", "OpenSSH_9.6").
	SSHProto
	SSHSoftware
	// HTTPRequestHeader and HTTPResponseHeader are multi-buffers: one
	// instance per header line "Name: value" (repeated names merged), in
	// Unit.Multi; Unit.Buffers leaves them nil.
	HTTPRequestHeader
	HTTPResponseHeader
	// TLSCerts is a multi-buffer: each certificate of the server's chain,
	// DER-encoded, leaf first.
	TLSCerts
	// TLSSubjectAltName is a multi-buffer: each dNSName of the server
	// certificate's subjectAltName.
	TLSSubjectAltName
	// FileName is file.name, a multi-buffer: the names of the files of
	// the Unit's direction (Suricata's rule, for HTTP: the response's
	// Content-Disposition filename, else the request's path without the
	// query; a request body is a file for PUT, and a multipart/form-data
	// body holds one per part with a filename, named by it). Set on the
	// Units of the direction whose message carries the file, from its
	// first body byte.
	FileName
	// FileSize, FileMD5, FileSHA1 and FileSHA256 describe a file once it
	// is complete, for filesize and filemd5/filesha1/filesha256: its
	// size as 8 bytes big-endian and its raw digests. A parser sets them
	// only when asked to (they cost a pass over every body byte).
	FileSize
	FileMD5
	FileSHA1
	FileSHA256
	// DNS multi-buffers (Suricata 8): the names of the question, answer,
	// authority and additional records, and DNSResponseRRName, in
	// responses, every record name plus the rdata that is a name (CNAME,
	// PTR, MX, NS, SOA's mname). DNSOpcode and DNSRcode are one byte
	// each, for dns.opcode and dns.rcode.
	DNSQueriesRRName
	DNSAnswersRRName
	DNSAuthoritiesRRName
	DNSAdditionalsRRName
	DNSResponseRRName
	DNSOpcode
	DNSRcode
	// AppLayerEvent is a multi-buffer detection fills from a Unit's
	// Anomalies: one "proto.event_name" (lower case, Suricata's spelling)
	// per anomaly, for the app-layer-event keyword. A parser may fill it
	// too, with the events its transaction raised in earlier Units.
	AppLayerEvent
	// SSLVersion is one byte per direction, for ssl_version: the class
	// (SSLVersionSSLv2 ... SSLVersionTLS13) of the version that side's
	// hello settled on, absent while unknown.
	SSLVersion
	// AppHook is a multi-buffer: the states (Suricata's rule hook names,
	// "client_hello_done") the Unit's transaction has reached in the
	// Unit's direction, for rules with an explicit hook.
	AppHook
	// HTTP/2 multi-buffers of a stream's frames in the Unit's direction,
	// for Suricata's http2.* keywords: each frame type seen (1 byte),
	// each RST_STREAM/GOAWAY error code (4 bytes, big-endian), each
	// PRIORITY/HEADERS weight (1 byte), each WINDOW_UPDATE increment (4
	// bytes); HTTP2HeaderName and HTTP2Header are the direction's header
	// fields, pseudo-headers included, as "name" and "name: value".
	HTTP2FrameType
	HTTP2ErrorCode
	HTTP2Priority
	HTTP2Window
	HTTP2HeaderName
	HTTP2Header
	// HTTP2Settings: each parameter of the direction's SETTINGS frames,
	// 2 bytes of identifier and 4 of value, big-endian.
	HTTP2Settings
	// HTTP2FrameHdr, HTTP2FrameData and HTTP2FramePDU are Suricata's
	// frames of HTTP/2 (frame:http2.hdr, http2.data, http2.pdu): the 9-byte
	// header, the payload and the whole of one frame other than DATA,
	// set on the Unit emitted for that frame only.
	HTTP2FrameHdr
	HTTP2FrameData
	HTTP2FramePDU
	// DNSRRType is a multi-buffer for dns.rrtype: the record type (2
	// bytes, big-endian) of each question of a message to the server,
	// of each answer of one to the client.
	DNSRRType
	// HTTP1FrameRequest and HTTP1FrameResponse are Suricata's frames of
	// HTTP/1 (frame:http1.request, http1.response): a message as far as
	// it was seen, its start line and header lines as received followed
	// by its body window (de-chunked and decoded, as the body buffers),
	// set on the Units of the message's own direction. A parser fills
	// them only when asked to (a copy per Unit).
	HTTP1FrameRequest
	HTTP1FrameResponse
	// TLSALPN is a multi-buffer for tls.alpn: each ALPN protocol the
	// ClientHello offers (to the server), the one the ServerHello chose
	// (to the client).
	TLSALPN
	// FileData is a multi-buffer for file.data in a rule that names no
	// direction: the files of the Unit's direction, one instance each
	// (Suricata inspects each file as its own buffer). To the server: a
	// PUT body, or each part of a multipart/form-data body that has a
	// filename; to the client: the response body.
	FileData
	NumBuffers
)

var bufferNames = [NumBuffers]string{
	BufNone: "", HTTPMethod: "http.method", HTTPURI: "http.uri", HTTPURIRaw: "http.uri.raw",
	HTTPProtocol: "http.protocol", HTTPRequestLine: "http.request_line", HTTPHost: "http.host",
	HTTPHostRaw: "http.host.raw", HTTPHeader: "http.header", HTTPHeaderRaw: "http.header.raw",
	HTTPHeaderNames: "http.header_names", HTTPUserAgent: "http.user_agent", HTTPCookie: "http.cookie",
	HTTPContentType: "http.content_type", HTTPContentLen: "http.content_len", HTTPAccept: "http.accept",
	HTTPAcceptEnc: "http.accept_enc", HTTPAcceptLang: "http.accept_lang", HTTPConnection: "http.connection",
	HTTPReferer: "http.referer", HTTPStart: "http.start", HTTPRequestBody: "http.request_body",
	HTTPStatCode: "http.stat_code", HTTPStatMsg: "http.stat_msg", HTTPResponseLine: "http.response_line",
	HTTPResponseBody: "http.response_body", HTTPLocation: "http.location", HTTPServer: "http.server",
	TLSSNI: "tls.sni", DNSQuery: "dns.query",
	TLSCertSubject: "tls.cert_subject", TLSCertIssuer: "tls.cert_issuer", TLSCertSerial: "tls.cert_serial",
	TLSCertFingerprint: "tls.cert_fingerprint", TLSVersion: "tls.version", JA3Hash: "ja3.hash",
	JA3String: "ja3.string", JA3SHash: "ja3s.hash", JA3SString: "ja3s.string", TLSCerts: "tls.certs",
	JA4Hash: "ja4.hash", TLSRandom: "tls.random", TLSRandomTime: "tls.random_time", TLSRandomBytes: "tls.random_bytes",
	TLSSubjectAltName: "tls.subjectaltname", SSHProto: "ssh.proto", SSHSoftware: "ssh.software",
	AppLayerEvent: "app-layer-event", FileName: "file.name",
	FileSize: "file.size", FileMD5: "file.md5", FileSHA1: "file.sha1", FileSHA256: "file.sha256",
	DNSQueriesRRName: "dns.queries.rrname", DNSAnswersRRName: "dns.answers.rrname",
	DNSAuthoritiesRRName: "dns.authorities.rrname", DNSAdditionalsRRName: "dns.additionals.rrname",
	DNSResponseRRName: "dns.response.rrname", DNSOpcode: "dns.opcode", DNSRcode: "dns.rcode",
	HTTPRequestHeader: "http.request_header", HTTPResponseHeader: "http.response_header",
	SSLVersion: "ssl_version", AppHook: "app-hook",
	HTTP2FrameType: "http2.frametype", HTTP2ErrorCode: "http2.errorcode", HTTP2Priority: "http2.priority",
	HTTP2Window: "http2.window", HTTP2HeaderName: "http2.header_name", HTTP2Header: "http2.header",
	HTTP2Settings: "http2.settings", DNSRRType: "dns.rrtype",
	HTTP1FrameRequest: "frame:http1.request", HTTP1FrameResponse: "frame:http1.response",
	TLSALPN: "tls.alpn", FileData: "file.data",
	HTTP2FrameHdr: "frame:http2.hdr", HTTP2FrameData: "frame:http2.data", HTTP2FramePDU: "frame:http2.pdu",
}

// SSLVersion classes, the values of the SSLVersion buffer (Suricata's
// detect-ssl-version.c: the TLS 1.3 drafts count as tls1.3).
const (
	SSLVersionSSLv2 byte = 1 + iota
	SSLVersionSSLv3
	SSLVersionTLS10
	SSLVersionTLS11
	SSLVersionTLS12
	SSLVersionTLS13
)

// IsMulti reports whether b is a multi-buffer: a rule on it is evaluated
// against each instance in Unit.Multi and matches if any instance does.
func (b Buffer) IsMulti() bool {
	return b == HTTPRequestHeader || b == HTTPResponseHeader || b == TLSCerts || b == AppLayerEvent || b == DNSQuery || b == AppHook || b >= HTTP2FrameType && b <= HTTP2Settings ||
		b == TLSSubjectAltName || b >= DNSQueriesRRName && b <= DNSResponseRRName || b == DNSRRType || b == TLSALPN || b == FileData || b == FileName
}

// IsHTTP2 reports whether b is one of the HTTP/2 frame and header
// multi-buffers.
func (b Buffer) IsHTTP2() bool { return b >= HTTP2FrameType && b <= HTTP2FramePDU }

// IsTLS reports whether the TLS parser fills b.
func (b Buffer) IsTLS() bool {
	return b == TLSSNI || b >= TLSCertSubject && b <= TLSRandomBytes || b == TLSCerts || b == TLSSubjectAltName || b == SSLVersion || b == TLSALPN
}

func (b Buffer) String() string {
	if b < NumBuffers {
		return bufferNames[b]
	}
	return "invalid"
}

// BufferByName looks up a sticky buffer by its Suricata name.
func BufferByName(name string) (Buffer, bool) {
	for i, n := range bufferNames {
		if n != "" && n == name {
			return Buffer(i), true
		}
	}
	return BufNone, false
}

// Unit is what a parser hands to detection: the buffers of one transaction
// as far as they are known now. Request buffers stay set when the response
// arrives, so a rule that mixes request and response buffers can match.
// A body buffer holds the body seen so far, up to the parser's bound; a
// parser emits a new Unit each time a body grows, and detection dedupes
// alerts per transaction and rule.
type Unit struct {
	Dir      inspect.Direction
	TxID     uint64 // increases per transaction within a flow, from 0
	AppProto string
	Buffers  [NumBuffers][]byte // nil: absent in this transaction
	// Multi holds the instances of multi-buffers (see Buffer.IsMulti);
	// empty: absent. Like Buffers, request instances stay set on the
	// response's Unit.
	Multi [NumBuffers][][]byte
	// Event, when set, is the transaction's EVE record; it is set on the
	// Unit that completes the transaction (or the request, for protocols
	// logged per request such as DNS queries).
	Event *inspect.Event
	// Record, on a Unit without Event, is the transaction's fields for
	// the http object of an alert on it: an HTTP/2 connection frame
	// (stream 0), which is inspected but not logged on its own.
	Record    *inspect.HTTPTx
	Anomalies []inspect.Anomaly
	// BodyOffset is where, in the body of Dir's message, the body buffer
	// of that direction starts. A parser that inspects a long body in
	// windows moves it forward; detection then treats the buffer as new
	// rather than grown.
	BodyOffset int64
}

// Parser parses one flow, both directions. It is not safe for concurrent
// use; detection calls it serially. Buffers in emitted Units may alias the
// parser's memory and are valid only during emit.
type Parser interface {
	Feed(dir inspect.Direction, data []byte, emit func(*Unit))
	// Close flushes what only the end of the flow reveals.
	Close(emit func(*Unit))
}

// Probe result for protocol detection.
type ProbeResult uint8

const (
	ProbeNo   ProbeResult = iota // not this protocol
	ProbeMore                    // need more bytes to decide
	ProbeYes
)

// Proto is a registered app-layer protocol.
type Proto struct {
	Name      string // EVE app_proto: "http", "tls", "dns"
	Transport inspect.Proto
	// Probe looks at the first bytes of a flow in one direction.
	Probe   func(dir inspect.Direction, data []byte) ProbeResult
	New     func() Parser
	Buffers []Buffer // the sticky buffers it fills
	// Events are the anomaly names the parser can raise, lower case
	// (app-layer-event:PROTO.NAME). nil: not declared, and any name is
	// accepted for this protocol.
	Events []string
	// Hooks are the states (rule hooks) the parser marks in AppHook; a
	// rule on another hook of this protocol is refused.
	Hooks []string
}

var registry []Proto

// Register adds a protocol; parsers call it from init.
func Register(p Proto) { registry = append(registry, p) }

// Protos returns the registered protocols.
func Protos() []Proto { return registry }

// EventNames lower-cases anomaly names for Proto.Events.
func EventNames(names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.ToLower(n)
	}
	return out
}

// HostPort is the port a Host header or absolute URI authority names
// ("h:8080", "[::1]:8080", with or without userinfo), or 0 when it names
// none or one out of 1..65535 (EVE http.http_port).
func HostPort(authority []byte) int {
	if i := bytes.LastIndexByte(authority, '@'); i >= 0 {
		authority = authority[i+1:]
	}
	if len(authority) > 0 && authority[0] == '[' {
		i := bytes.IndexByte(authority, ']')
		if i < 0 {
			return 0
		}
		authority = authority[i+1:]
	}
	i := bytes.LastIndexByte(authority, ':')
	if i < 0 || i == len(authority)-1 {
		return 0
	}
	n := 0
	for _, c := range bytes.TrimRight(authority[i+1:], " \t") {
		if c < '0' || c > '9' {
			return 0
		}
		if n = n*10 + int(c-'0'); n > 65535 {
			return 0
		}
	}
	return n
}

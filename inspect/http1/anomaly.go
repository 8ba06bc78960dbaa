package http1

import (
	"slices"
	"strings"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// anom is an HTTP anomaly; name gives Suricata's app-layer event name for
// the direction it was seen in (decode-events: http.<name lower case>).
type anom uint8

const (
	anomCLAndTE anom = iota
	anomDuplicateCL
	anomInvalidCL
	anomInvalidTE
	anomHeaderInvalid
	anomMissingColon
	anomFieldFolding
	anomFieldTooLong
	anomTooManyHeaders
	anomChunkLen
	anomRequestLineInvalid
	anomMissingProtocol
	anomMissingHost
	anomResponseInvalidProtocol
	anomResponseInvalidStatus
	anomUnmatchedResponse
	anomTooManyPipelined
	anomStartLineTooLong
	anomHeaderSectionTooLarge
	anomProxyInvalid
	anomEncodingUnsupported
	anomEncodingInvalid
	anomDecompressionBomb
	anomBareCR
	anomTEInHTTP10
	anomTooManyDecoders
	anomChunkExtension
	anomAuthUnrecognized
	anomHeaderRepetition
	anomLeadingWhitespace
	anomMethodDelim
	anomURIDelim
	anomBodyUnexpected
	anomContinueSeen
	anomHostAmbiguous
	anomDoubleEncodedURI
	anomTooManyLayers
	anomAbnormalCE
	anomHeaderHostInvalid
	anomURIHostInvalid
	anomAbnormalTE
	anomMultipartByteranges
	anomRangeInvalid
	anomMultipartInvalid
	anomTECoding
	anomCEAmbiguous
	anomURIEncodingAmbiguous
	anomConnectEarly
	anomBodyIsRequest
	anomDecoderMemory
	numAnoms
)

// names per anomaly: request form, response form.
var anomNames = [numAnoms][2]string{
	// Not a libhtp event (libhtp only flags the transaction as smuggling);
	// named as the inspect.Anomaly contract's example so rules and EVE
	// consumers can key on it.
	anomCLAndTE:                 {"REQUEST_CONTENT_LENGTH_AND_TRANSFER_ENCODING", "RESPONSE_CONTENT_LENGTH_AND_TRANSFER_ENCODING"},
	anomDuplicateCL:             {"DUPLICATE_CONTENT_LENGTH_FIELD_IN_REQUEST", "DUPLICATE_CONTENT_LENGTH_FIELD_IN_RESPONSE"},
	anomInvalidCL:               {"INVALID_CONTENT_LENGTH_FIELD_IN_REQUEST", "INVALID_CONTENT_LENGTH_FIELD_IN_RESPONSE"},
	anomInvalidTE:               {"INVALID_TRANSFER_ENCODING_VALUE_IN_REQUEST", "INVALID_TRANSFER_ENCODING_VALUE_IN_RESPONSE"},
	anomHeaderInvalid:           {"REQUEST_HEADER_INVALID", "RESPONSE_HEADER_INVALID"},
	anomMissingColon:            {"REQUEST_FIELD_MISSING_COLON", "RESPONSE_FIELD_MISSING_COLON"},
	anomFieldFolding:            {"INVALID_REQUEST_FIELD_FOLDING", "INVALID_RESPONSE_FIELD_FOLDING"},
	anomFieldTooLong:            {"REQUEST_FIELD_TOO_LONG", "RESPONSE_FIELD_TOO_LONG"},
	anomTooManyHeaders:          {"REQUEST_TOO_MANY_HEADERS", "RESPONSE_TOO_MANY_HEADERS"},
	anomChunkLen:                {"INVALID_REQUEST_CHUNK_LEN", "INVALID_RESPONSE_CHUNK_LEN"},
	anomRequestLineInvalid:      {"REQUEST_LINE_INVALID", "REQUEST_LINE_INVALID"},
	anomMissingProtocol:         {"REQUEST_LINE_MISSING_PROTOCOL", "REQUEST_LINE_MISSING_PROTOCOL"},
	anomMissingHost:             {"MISSING_HOST_HEADER", "MISSING_HOST_HEADER"},
	anomResponseInvalidProtocol: {"RESPONSE_INVALID_PROTOCOL", "RESPONSE_INVALID_PROTOCOL"},
	anomResponseInvalidStatus:   {"RESPONSE_INVALID_STATUS", "RESPONSE_INVALID_STATUS"},
	anomUnmatchedResponse:       {"UNABLE_TO_MATCH_RESPONSE_TO_REQUEST", "UNABLE_TO_MATCH_RESPONSE_TO_REQUEST"},
	// Ours: the pipelining bound dropped a request's state.
	anomTooManyPipelined: {"REQUEST_TOO_MANY_PIPELINED", "REQUEST_TOO_MANY_PIPELINED"},
	// Ours: a start line or the whole header section over its limit.
	anomStartLineTooLong:      {"REQUEST_LINE_TOO_LONG", "RESPONSE_LINE_TOO_LONG"},
	anomHeaderSectionTooLarge: {"REQUEST_HEADER_SECTION_TOO_LARGE", "RESPONSE_HEADER_SECTION_TOO_LARGE"},
	// Ours: a PROXY protocol header that does not parse.
	anomProxyInvalid: {"PROXY_HEADER_INVALID", "PROXY_HEADER_INVALID"},
	// Ours: a Content-Encoding not decoded here (not gzip, deflate, br or
	// zstd, or more than 5 layers), a body its coding cannot decode (or with data after the
	// compressed stream), and output past rules.http.decoded or 200:1.
	anomEncodingUnsupported: {"REQUEST_CONTENT_ENCODING_UNSUPPORTED", "RESPONSE_CONTENT_ENCODING_UNSUPPORTED"},
	anomEncodingInvalid:     {"REQUEST_CONTENT_ENCODING_INVALID", "RESPONSE_CONTENT_ENCODING_INVALID"},
	anomDecompressionBomb:   {"REQUEST_DECOMPRESSION_BOMB", "RESPONSE_DECOMPRESSION_BOMB"},
	// Ours: a CR not followed by LF in the start line or a header, and
	// Transfer-Encoding in an HTTP/1.0 message (RFC 9112 6.1: a recipient
	// of one must treat the framing as faulty; clients differ).
	anomBareCR:     {"REQUEST_BARE_CR", "RESPONSE_BARE_CR"},
	anomTEInHTTP10: {"REQUEST_TRANSFER_ENCODING_IN_HTTP10", "RESPONSE_TRANSFER_ENCODING_IN_HTTP10"},
	// Ours: more compressed bodies at once than a flow may decode.
	anomTooManyDecoders: {"REQUEST_TOO_MANY_COMPRESSED_BODIES", "RESPONSE_TOO_MANY_COMPRESSED_BODIES"},
	// libhtp's warnings (Suricata's rules/http-events.rules), raised where
	// libhtp raises them:
	// a chunk-size line with an extension (";name=value").
	anomChunkExtension: {"REQUEST_CHUNK_EXTENSION", "RESPONSE_CHUNK_EXTENSION"},
	// Authorization whose scheme is not Basic, Digest or Bearer.
	anomAuthUnrecognized: {"REQUEST_AUTH_UNRECOGNIZED", "REQUEST_AUTH_UNRECOGNIZED"},
	// A header name seen a second time in one message.
	anomHeaderRepetition: {"REQUEST_HEADER_REPETITION", "RESPONSE_HEADER_REPETITION"},
	// Spaces or tabs before the method (IIS accepts them).
	anomLeadingWhitespace: {"REQUEST_LINE_LEADING_WHITESPACE", "REQUEST_LINE_LEADING_WHITESPACE"},
	// Whitespace other than SP between method and target, or a target
	// ended by whitespace other than SP.
	anomMethodDelim: {"METHOD_DELIM_NON_COMPLIANT", "METHOD_DELIM_NON_COMPLIANT"},
	anomURIDelim:    {"URI_DELIM_NON_COMPLIANT", "URI_DELIM_NON_COMPLIANT"},
	// A line after a request without a body that is not a request line:
	// libhtp (and here) it is read as that request's body.
	anomBodyUnexpected: {"REQUEST_BODY_UNEXPECTED", "RESPONSE_BODY_UNEXPECTED"},
	// A second 100 Continue for one request.
	anomContinueSeen: {"100_CONTINUE_ALREADY_SEEN", "100_CONTINUE_ALREADY_SEEN"},
	// An absolute request target whose host is not the Host header's.
	anomHostAmbiguous: {"HOST_HEADER_AMBIGUOUS", "HOST_HEADER_AMBIGUOUS"},
	// A path or query that still holds a valid %XX once decoded (see
	// doubleEncoded).
	anomDoubleEncodedURI: {"DOUBLE_ENCODED_URI", "DOUBLE_ENCODED_URI"},
	// A Content-Encoding libhtp would read as more layers than its
	// default limit, or with a coding it does not know (see
	// libhtpCodings).
	anomTooManyLayers: {"TOO_MANY_ENCODING_LAYERS", "TOO_MANY_ENCODING_LAYERS"},
	anomAbnormalCE:    {"ABNORMAL_CE_HEADER", "ABNORMAL_CE_HEADER"},
	// A Host header or target authority whose host or port libhtp finds
	// invalid (see libhtpHostport).
	anomHeaderHostInvalid: {"REQUEST_HEADER_HOST_INVALID", "REQUEST_HEADER_HOST_INVALID"},
	anomURIHostInvalid:    {"REQUEST_URI_HOST_INVALID", "REQUEST_URI_HOST_INVALID"},
	// A response's Transfer-Encoding naming chunked with other codings
	// (libhtp raises it for responses only).
	anomAbnormalTE: {"RESPONSE_ABNORMAL_TRANSFER_ENCODING", "RESPONSE_ABNORMAL_TRANSFER_ENCODING"},
	// A response without Content-Length or Transfer-Encoding whose
	// Content-Type is multipart/byteranges.
	anomMultipartByteranges: {"RESPONSE_MULTIPART_BYTERANGES", "RESPONSE_MULTIPART_BYTERANGES"},
	// A response body whose Content-Range does not parse or is out of
	// order (see validContentRange); Suricata's, not libhtp's.
	anomRangeInvalid: {"RANGE_INVALID", "RANGE_INVALID"},
	// A multipart/form-data request body without a boundary parameter,
	// with no delimiter line, or with a part header line that is not a
	// header (see splitMultipart): its files cannot be read as a server
	// reads them.
	anomMultipartInvalid: {"MULTIPART_GENERIC_ERROR", "MULTIPART_GENERIC_ERROR"},
	// Ours: a transfer coding besides chunked ("gzip, chunked"). Its
	// body is not decoded here, and the endpoints differ: nginx and Go
	// refuse it, Apache hands the coded body on, curl decodes it when it
	// asked for it (--tr-encoding).
	anomTECoding: {"REQUEST_TRANSFER_CODING_UNSUPPORTED", "RESPONSE_TRANSFER_CODING_UNSUPPORTED"},
	// Ours: a Content-Encoding holding a control character ("gzip\v",
	// "gzip\x00"): curl trims trailing whitespace of any kind and reads a
	// C string, so it decodes "gzip"; browsers see an unknown coding and
	// keep the raw body.
	anomCEAmbiguous: {"REQUEST_CONTENT_ENCODING_AMBIGUOUS", "RESPONSE_CONTENT_ENCODING_AMBIGUOUS"},
	// Ours: a request target with IIS %u escapes or overlong UTF-8
	// ("%c0%af" for "/"): IIS-style servers decode them to other
	// characters, the others do not, so http.uri cannot say which path
	// the server serves.
	anomURIEncodingAmbiguous: {"REQUEST_URI_ENCODING_AMBIGUOUS", "REQUEST_URI_ENCODING_AMBIGUOUS"},
	// Ours: an HTTP request (or more bytes than are held) sent after a
	// CONNECT before its answer. Clients wait for the answer; a server
	// that is no proxy reads the bytes as a pipelined request, a proxy
	// as tunnel data, and only the answer tells which.
	anomConnectEarly: {"REQUEST_BEFORE_CONNECT_RESPONSE", "REQUEST_BEFORE_CONNECT_RESPONSE"},
	// Ours: a GET, HEAD, OPTIONS, DELETE or TRACE body that starts with a
	// request line (see bodyIsRequest).
	anomBodyIsRequest: {"REQUEST_BODY_IS_REQUEST", "REQUEST_BODY_IS_REQUEST"},
	// Ours: a compressed body whose decoder would take the decoder memory
	// of all flows past rules.http.decoder_memory (decode.Budget).
	anomDecoderMemory: {"REQUEST_DECODER_MEMORY_EXHAUSTED", "RESPONSE_DECODER_MEMORY_EXHAUSTED"},
}

// anomAliases are Suricata's names for anomalies this parser names
// otherwise; app-layer-event rules match either.
var anomAliases = [numAnoms][2]string{
	anomDecompressionBomb: {"COMPRESSION_BOMB", "COMPRESSION_BOMB"},
	anomEncodingInvalid:   {"GZIP_DECOMPRESSION_FAILED", "GZIP_DECOMPRESSION_FAILED"},
	anomTEInHTTP10:        {"", "RESPONSE_CHUNKED_OLD_PROTO"},
}

// suricataOnly are the documented http events (Suricata's
// app-layer-htp.c table and rules/http-events.rules) this parser never
// raises: libhtp internals, multipart and range parsing, LZMA, the TCP
// port comparison the parser has no port for, port and host syntax
// checks. app-layer-event accepts them (a Suricata rule set loads), and
// they never match.
var suricataOnly = []string{
	"UNKNOWN_ERROR", "REQUEST_SERVER_PORT_TCP_PORT_MISMATCH",
	"REQUEST_LINE_INCOMPLETE",
	"LZMA_MEMLIMIT_REACHED", "FILE_NAME_TOO_LONG",
	"MULTIPART_NO_FILEDATA", "MULTIPART_INVALID_HEADER", "TOO_MANY_WARNINGS", "FAILED_PROTOCOL_CHANGE",
	"REQUEST_TOO_MANY_LZMA_LAYERS", "RESPONSE_TOO_MANY_LZMA_LAYERS",
	"INVALID_AUTHORITY_PORT", "INVALID_SERVER_PORT_IN_REQUEST",
}

// EventNames are the names app-layer-event:http.NAME accepts, lower
// case: every name the parser raises, Suricata's aliases, and the
// documented events it never raises.
func EventNames() []string {
	var names []string
	for a := anom(0); a < numAnoms; a++ {
		names = append(names, anomNames[a][0], anomNames[a][1])
		for _, al := range anomAliases[a] {
			if al != "" {
				names = append(names, al)
			}
		}
	}
	names = append(names, suricataOnly...)
	slices.Sort(names)
	return applayer.EventNames(slices.Compact(names)...)
}

// eventBufs are each anomaly's app-layer-event instances per direction
// ("http.name" lower case, with its alias), made once: the parser hands
// them to detection for every Unit of a transaction that raised it.
var eventBufs = func() (out [numAnoms][2][][]byte) {
	for a := anom(0); a < numAnoms; a++ {
		for d := 0; d < 2; d++ {
			out[a][d] = append(out[a][d], []byte(strings.ToLower(AppProto+"."+anomNames[a][d])))
			if al := anomAliases[a][d]; al != "" {
				out[a][d] = append(out[a][d], []byte(strings.ToLower(AppProto+"."+al)))
			}
		}
	}
	return out
}()

func (a anom) name(dir inspect.Direction) string {
	return anomNames[a][dir&1]
}

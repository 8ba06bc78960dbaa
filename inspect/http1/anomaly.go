package http1

import "github.com/interdict/interdict/inspect"

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
)

// names per anomaly: request form, response form.
var anomNames = [...][2]string{
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
}

func (a anom) name(dir inspect.Direction) string {
	return anomNames[a][dir&1]
}

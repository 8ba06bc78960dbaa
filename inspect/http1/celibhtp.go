package http1

import (
	"bytes"
	"strings"
)

// libhtpLayerLimit is Suricata's default request- and
// response-body-decompress-layer-limit (libhtp's DEFAULT_LAYER_LIMIT).
const libhtpLayerLimit = 2

// libhtpCodings reads a Content-Encoding value as libhtp's
// request/response content-encoding processing does, for the warnings it
// raises there; what is decoded is decided by decode.ParseCodings, which
// follows the clients (up to decode.MaxCodings layers). A value that is
// exactly one coding name (any case) is taken whole. Otherwise it is
// split at commas and spaces and each non-empty member is a layer:
// past libhtpLayerLimit layers libhtp raises TOO_MANY_ENCODING_LAYERS and
// stops reading; a member holding "gzip" or "deflate" that is not
// exactly gzip, x-gzip, deflate or x-deflate (case-sensitive) or a
// member it does not know is ABNORMAL_CE_HEADER. libhtp knows br only
// as a whole value and zstd not at all; both are known here, as they are
// decoded, so their messages raise nothing.
func libhtpCodings(v []byte) (tooMany, abnormal bool) {
	v = trimSpace(v)
	for _, name := range []string{"gzip", "x-gzip", "deflate", "x-deflate", "lzma", "br", "zstd", "inflate", "none", "identity"} {
		if strings.EqualFold(string(v), name) {
			return false, false
		}
	}
	layers := 0
	for _, f := range bytes.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
		if layers++; layers > libhtpLayerLimit {
			return true, abnormal
		}
		switch s := string(f); {
		case bytes.Contains(bytes.ToLower(f), []byte("gzip")):
			abnormal = abnormal || s != "gzip" && s != "x-gzip"
		case bytes.Contains(bytes.ToLower(f), []byte("deflate")):
			abnormal = abnormal || s != "deflate" && s != "x-deflate"
		case s == "lzma", s == "inflate", s == "none", s == "identity", s == "br", s == "zstd":
		default:
			abnormal = true
		}
	}
	return false, abnormal
}

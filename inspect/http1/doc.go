// Package http1 parses HTTP/1.0 and HTTP/1.1 for detection: it fills
// Suricata's http.* sticky buffers from both directions of a flow, fed in
// chunks of any size, and reports protocol anomalies and one EVE record per
// transaction.
//
// Design choices, and where they follow Suricata/libhtp:
//   - A Unit is emitted as soon as a buffer is complete: after the request
//     or status line (method, uri, protocol, line), after the blank line
//     ending the headers (every header buffer), and each time a body grows
//     (once per Feed). Rules can match before the rest of a message arrives,
//     which is what lets the data path hold bytes until a verdict.
//   - http.uri is the request target normalised as libhtp does by default:
//     the path is percent-decoded (every valid %XX, including %2F and %00;
//     invalid escapes stay as they are), then backslashes become slashes,
//     runs of slashes are folded into one and dot segments are removed
//     (RFC 3986 5.2.4). The query is percent-decoded once (+ stays +) and
//     the fragment stays raw, as in libhtp's normalised URI. For an absolute
//     URI (GET http://host/p) http.uri is the path and query only and the
//     host comes from the URI, as libhtp does. CONNECT's authority form is
//     kept as is.
//   - http.host is lower case, without port, userinfo or trailing dots;
//     http.host.raw is the Host header's value (or the absolute URI's
//     authority) as sent.
//   - Header values are trimmed of spaces and tabs; folded lines are joined
//     with one space; repeated headers are merged into the first one as
//     "v1, v2", like libhtp's header table. http.header is "Name: value\r\n"
//     per header without Cookie (requests) or Set-Cookie (responses) and
//     without a final blank line; http.start is the start line plus every
//     header in the same form and a final "\r\n"; http.header.raw is the
//     header lines as received including the blank line; http.cookie is
//     Cookie in requests and Set-Cookie in responses.
//   - In a to_client Unit, the buffers both directions have (header,
//     header.raw, header_names, cookie, content_type, content_len,
//     connection, start) come from the response; request-only buffers
//     (method, uri, host, user_agent, request_body, ...) stay set from the
//     request, so a rule can mix them.
//   - Framing follows RFC 9112 6.3: HEAD, 1xx, 204 and 304 responses have
//     no body; Transfer-Encoding chunked wins over Content-Length (and is
//     flagged); a response without either runs to the end of the
//     connection; a 2xx to CONNECT hands the tunnel to protocol
//     detection (tunnel.go: TLS, HTTP/2, HTTP inside are parsed, as
//     Suricata changes the flow's protocol); a 101 turns the flow into
//     an opaque tunnel, except one to "Upgrade: h2c", after which
//     stream 1 is an HTTP/2 transaction that mimics the upgraded request
//     (upgrade.go). Responses pair with requests in order (pipelining).
//   - What an endpoint may read differently from us is an anomaly the
//     appliance's policy refuses by default (docs/http-evasion.md): every
//     limit, ambiguous framing, bare CR, a PROXY header that does not
//     parse, a non-HTTP answer, a body that does not decode.
//   - Anomalies carry libhtp's event names (Suricata's http-events.rules)
//     where libhtp has one, and stay with their transaction: every later
//     Unit of it lists them for app-layer-event (see anomaly.go). A
//     line after a finished request that is no request line is that
//     request's body (REQUEST_BODY_UNEXPECTED, as libhtp); a request line
//     without a version has headers when the next line is a header line,
//     else it was HTTP/0.9 and the next line starts a request. Both are
//     decided on whole lines, so the result does not depend on how the
//     stream was cut.
//   - Detection by content cannot be steered off HTTP: any token method in
//     any case, whitespace runs, leading empty lines, a PROXY v1/v2 header
//     first (inspect/proxyproto; its addresses go into the EVE record).
//   - Bodies are inspected as the endpoint decodes them (Content-Encoding
//     gzip, deflate, br, zstd, stacked; inspect/decode), and a body longer
//     than the window is inspected window by window, each keeping the last
//     quarter of the previous one (Unit.BodyOffset says where it starts).
//   - Files (file.data, file.name, EVE fileinfo) are the response body, a
//     PUT body, and each part with a filename of a multipart/form-data
//     request body (multipart.go), read from the body window as slices of
//     it; http.request_body stays the whole body. A multipart body that
//     cannot be split raises MULTIPART_GENERIC_ERROR.
//   - HTTP/2 in cleartext (h2.go, frames read by inspect/http2): each
//     stream is a transaction whose pseudo-headers and fields are laid out
//     as a start line and header lines and parsed as HTTP/1, so every
//     buffer means the same in both. Its Units say http2 (alert http
//     matches both versions, alert http1 only HTTP/1) and carry the
//     stream's frames for Suricata's http2.* keywords (h2frames.go); each
//     frame of the connection itself (stream 0) is a transaction of its
//     own, inspected, and logged when Suricata's http2 logger has
//     something to write of it (settings, an error code, a priority).
//
// Memory per flow is bounded: at most Limits.HeaderSection of start line
// and headers and one body window (Limits.Body) per message, a decoder's
// history per compressed body (64 KiB per deflate layer, br's window up to
// 16 MiB, zstd's up to 8 MiB), at most maxPending requests waiting for
// their responses, and for HTTP/2 at most http2.MaxStreams streams. Bodies
// larger than 16 KiB and the Units handed to detection are lent from
// process-wide pools and returned when the transaction (or the emit) ends,
// so an idle flow does not keep them.
//
// http1 imports inspect, inspect/applayer, inspect/decode, inspect/http2
// and inspect/proxyproto.
package http1

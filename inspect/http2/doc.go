// Package http2 reads HTTP/2 frames (RFC 9113) pushed in pieces of any
// size from both directions of a cleartext flow (prior knowledge or after
// an "Upgrade: h2c"), decodes header blocks with HPACK, and hands each
// stream's header fields and DATA payload to a Handler. The HTTP parser
// (inspect/http1) builds the same http.* buffers from them as for
// HTTP/1.x, so every HTTP rule applies to HTTP/2 too.
//
// Frames other than DATA are buffered whole (bounded by MaxFrame) and read
// with golang.org/x/net/http2's Framer, which validates their layout;
// header blocks are decoded with golang.org/x/net/http2/hpack. Both are
// the Go project's own implementation, used by net/http. DATA payloads are
// streamed as they arrive, padding stripped, because clients (nghttp2)
// hand partial DATA to the application: waiting for a whole frame would
// let its first bytes through uninspected.
//
// Every frame that parses is reported (Handler.Frame) with what Suricata's
// http2.* keywords read of it, and Suricata's informational events
// (long_frame_data) go to Handler.Event without stopping anything.
//
// Anything malformed is reported as an anomaly and the direction stops
// being parsed (the default policy rejects these): an invalid preface,
// frames the Framer refuses, a frame over MaxFrame, HPACK that does not
// decode, a header list over the limit (an HPACK bomb: small references
// to large dynamic-table entries), more than MaxStreams open streams.
//
// http2 imports only inspect.
package http2

// Package decode undoes HTTP content codings (gzip, x-gzip, deflate in
// its zlib and raw forms) the way clients do, incrementally: bytes are
// pushed as they arrive and every byte that can be decoded from them comes
// out at once.
//
// Why not compress/flate: its reader pulls from an io.Reader and only
// hands out output when its 32 KiB window fills or a block ends. Between
// two chunks of a flow the inspector would sit on up to 32 KiB of decoded
// bytes that a client (zlib decodes everything it can) already shows: an
// attacker keeps one deflate block open and the payload is forwarded
// uninspected. Re-decoding from the start on every chunk would be
// quadratic. So the inflater here is a push state machine: on a short
// input it rolls back to the start of the symbol (or block header) it was
// reading and keeps the few undecoded bytes for the next push.
//
// Bounds: a decoder keeps a 64 KiB history and at most one block header's
// worth of pending input; total output is bounded by the caller (a
// decompression bomb is the caller's anomaly). br and zstd are not
// decoded here.
//
// decode imports nothing of ours.
package decode

// Package decode undoes HTTP content codings (gzip, x-gzip, deflate in
// its zlib and raw forms, br, zstd) the way clients do, incrementally:
// bytes are pushed as they arrive and every byte that can be decoded from
// them comes out at once (for zstd, every complete block, as libzstd).
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
// br uses github.com/andybalholm/brotli v1.3.0 (pure Go, a translation of
// Google's C decoder, maintained): its Reader keeps its state when the
// source has nothing yet, so it is pushed like the inflater. zstd uses
// github.com/klauspost/compress v1.20.1 (pure Go, maintained, already in
// the module graph): its synchronous decoder cannot pause on a short read,
// so it runs in a goroutine fed in lock step (see zstd.go).
//
// Bounds: an inflater keeps a 64 KiB history and at most one block
// header's worth of pending input; br keeps its window (at most 16 MiB
// when a stream asks for it, 4 MiB at the usual quality 11); zstd at most
// MaxZstdWindow (8 MiB). Total output is bounded by the caller (a
// decompression bomb is the caller's anomaly), from inside Write's out
// with Chain.Stop.
//
// Memory of all flows together is bounded by a Budget (budget.go): each
// layer of a chain reserves what it can hold through its flow's Account
// before it allocates it, and a refused reservation is ErrMemory. br
// reserves, before the brotli Reader exists, the ring buffer its first
// bytes say the decoder will allocate: the length of its first meta-block
// when that is the last (a small body), else the whole window its WBITS
// ask for (one meta-block header naming 16 MiB makes the decoder allocate
// it from a body of a few bytes); zstd the largest window of the frames it has seen,
// each reserved when its frame header arrives (zstdScan follows the block
// headers to find the next frame), before the decoder reads it.
//
// decode imports nothing of ours.
package decode

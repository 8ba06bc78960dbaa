package decode

import (
	"errors"
	"io"

	"github.com/andybalholm/brotli"
)

// brDecoder decodes br (RFC 7932) pushed in pieces. The brotli Reader is
// a resumable state machine: when its source returns no bytes and no
// error it keeps its state and returns (0, nil), so it can be driven
// without a goroutine; and, like the C library browsers use, it hands out
// what it decoded before asking for more input.
type brDecoder struct {
	mem     *layerMem
	hdr     []byte // the stream's first bytes, until brRing can tell
	src     pushSource
	r       *brotli.Reader
	buf     []byte
	stopped bool
}

func (d *brDecoder) stop() { d.stopped = true }

// pushSource is an io.Reader over the bytes of one push; empty, it says
// "nothing yet" rather than EOF.
type pushSource struct{ b []byte }

func (s *pushSource) Read(p []byte) (int, error) {
	n := copy(p, s.b)
	s.b = s.b[n:]
	return n, nil
}

func newBrotli(mem *layerMem) *brDecoder { return &brDecoder{mem: mem} }

// brRing reads, from the start of a br stream, the ring buffer its
// decoder will allocate, so that it is reserved first; ok is false while
// more bytes are needed. The stream header's WBITS (RFC 7932 9.1) give
// the window; andybalholm/brotli (as the C decoder) allocates less only
// when the first meta-block is the last one: then its length (9.2),
// rounded up to a power of two of at least 1 KiB. Any other stream may
// make the decoder allocate the whole window at its first meta-block
// header (a few bytes naming 16 MiB suffice), so the whole window is
// what it reserves. The large-window form (not RFC 7932), which the
// decoder refuses, gets the largest regular window.
func brRing(b []byte) (ring int64, ok bool) {
	r := lsbBits{b: b}
	bit := func(n uint) uint32 {
		v, more := r.take(n)
		ok = ok && more
		return v
	}
	ok = true
	wbits := uint(16)
	if bit(1) == 1 {
		switch n := bit(3); {
		case n != 0:
			wbits = 17 + uint(n)
		default:
			switch m := bit(3); {
			case m == 1:
				wbits = 24
			case m != 0:
				wbits = 8 + uint(m)
			default:
				wbits = 17
			}
		}
	}
	window := int64(1) << wbits
	if bit(1) == 0 || !ok { // not the last meta-block
		return window, ok
	}
	if bit(1) == 1 { // ISLASTEMPTY: nothing is decoded
		return 0, ok
	}
	nibbles := bit(2)
	if nibbles == 3 || !ok { // metadata
		return window, ok
	}
	mlen := int64(bit(4*(4+uint(nibbles)))) + 1
	if !ok {
		return 0, false
	}
	ring = 1 << 10
	for ring < mlen && ring < window {
		ring <<= 1
	}
	return min(ring, window), true
}

// lsbBits reads bits least significant first, as br packs them.
type lsbBits struct {
	b   []byte
	pos uint
}

func (r *lsbBits) take(n uint) (uint32, bool) {
	if r.pos+n > uint(len(r.b))*8 {
		return 0, false
	}
	var v uint32
	for i := range n {
		p := r.pos + i
		v |= uint32(r.b[p/8]>>(p%8)&1) << i
	}
	r.pos += n
	return v, true
}

func (d *brDecoder) Write(p []byte, out func([]byte)) error {
	if d.r == nil {
		// The bytes wait until the headers tell the ring buffer: a
		// stream needs them all before it decodes anything.
		d.hdr = append(d.hdr, p...)
		ring, ok := brRing(d.hdr)
		if !ok {
			return nil
		}
		if err := d.mem.need(brMem(ring)); err != nil {
			return err
		}
		d.buf = make([]byte, 16<<10)
		d.r = brotli.NewReader(&d.src)
		p, d.hdr = d.hdr, nil
	}
	d.src.b = p
	for {
		n, err := d.r.Read(d.buf)
		if n > 0 {
			out(d.buf[:n])
			if d.stopped {
				return ErrStopped
			}
		}
		switch {
		case errors.Is(err, io.EOF):
			// The stream ended: anything after it is ambiguous.
			if len(d.src.b) > 0 {
				return ErrTrailing
			}
			return nil
		case err != nil:
			return errors.Join(ErrCorrupt, err)
		case n == 0 && len(d.src.b) == 0:
			return nil
		}
	}
}

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

// brWindowBits reads the window size a br stream asks for from the WBITS
// field at the start of its first byte (RFC 7932 9.1), so that its
// memory is reserved before the decoder allocates its ring buffer. The
// large-window form (not RFC 7932) is refused by the decoder; it gets the
// largest regular window here.
func brWindowBits(b byte) uint {
	switch {
	case b&1 == 0:
		return 16
	case b>>1&7 != 0:
		return 17 + uint(b>>1&7)
	case b>>4&7 == 1:
		return 24
	case b>>4&7 != 0:
		return 8 + uint(b>>4&7)
	}
	return 17
}

func (d *brDecoder) Write(p []byte, out func([]byte)) error {
	if d.r == nil {
		if len(p) == 0 {
			return nil
		}
		if err := d.mem.need(brMem(brWindowBits(p[0]))); err != nil {
			return err
		}
		d.buf = make([]byte, 16<<10)
		d.r = brotli.NewReader(&d.src)
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

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

func newBrotli() *brDecoder {
	d := &brDecoder{buf: make([]byte, 16<<10)}
	d.r = brotli.NewReader(&d.src)
	return d
}

func (d *brDecoder) Write(p []byte, out func([]byte)) error {
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

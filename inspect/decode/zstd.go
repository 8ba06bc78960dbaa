package decode

import (
	"errors"
	"io"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// MaxZstdWindow bounds the zstd window a body may use, hence the history
// one decoder keeps: 8 MiB is what RFC 8878 asks decoders to support and
// what browsers accept for Content-Encoding: zstd.
const MaxZstdWindow = 8 << 20

// zstdDecoder decodes zstd (RFC 8878) pushed in pieces. klauspost's
// decoder pulls from an io.Reader and, in its synchronous mode, hands out
// each block as soon as the block is read, as libzstd does for clients;
// but it cannot be paused on a short read. So it runs in its own goroutine
// on a reader that blocks when it has no bytes, and Write hands it the
// pushed bytes and collects what it decodes until it asks for more: the
// goroutine never runs concurrently with the caller.
type zstdDecoder struct {
	w       *zstdWorker
	err     error
	stopped bool
}

type zstdWorker struct {
	in   chan []byte
	ack  chan zmsg
	quit chan struct{}
	once sync.Once
}

// zmsg is one report of the worker: decoded bytes, "starved" (every pushed
// byte consumed), or the error that ended it.
type zmsg struct {
	out     []byte
	starved bool
	err     error
}

func newZstd() *zstdDecoder {
	w := &zstdWorker{in: make(chan []byte), ack: make(chan zmsg), quit: make(chan struct{})}
	go w.run()
	d := &zstdDecoder{w: w}
	// A message whose decoder is dropped without Close (a flow that ends
	// abruptly) must not leave its goroutine behind.
	runtime.AddCleanup(d, (*zstdWorker).stop, w)
	return d
}

func (w *zstdWorker) stop() { w.once.Do(func() { close(w.quit) }) }

func (w *zstdWorker) send(m zmsg) bool {
	select {
	case w.ack <- m:
		return true
	case <-w.quit:
		return false
	}
}

func (w *zstdWorker) run() {
	r := &zstdSource{w: w}
	dec, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(MaxZstdWindow))
	if err != nil {
		w.send(zmsg{err: err})
		return
	}
	defer dec.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := dec.Read(buf)
		if n > 0 && !w.send(zmsg{out: append([]byte(nil), buf[:n]...)}) {
			return
		}
		if err != nil {
			if !r.stopped {
				w.send(zmsg{err: err})
			}
			return
		}
	}
}

// zstdSource is the worker's input: the bytes of the current push; when
// they are used up it reports "starved" and waits for the next push.
type zstdSource struct {
	w       *zstdWorker
	cur     []byte
	started bool
	stopped bool
}

func (s *zstdSource) Read(p []byte) (int, error) {
	for len(s.cur) == 0 {
		if s.started && !s.w.send(zmsg{starved: true}) {
			s.stopped = true
			return 0, io.EOF
		}
		s.started = true
		select {
		case s.cur = <-s.w.in:
		case <-s.w.quit:
			s.stopped = true
			return 0, io.EOF
		}
	}
	n := copy(p, s.cur)
	s.cur = s.cur[n:]
	return n, nil
}

func (d *zstdDecoder) Write(p []byte, out func([]byte)) error {
	if d.err != nil {
		return d.err
	}
	if len(p) == 0 {
		return nil
	}
	d.w.in <- p
	for m := range d.w.ack {
		switch {
		case m.out != nil:
			out(m.out)
			if d.stopped {
				d.err = ErrStopped
				d.w.stop()
				return d.err
			}
		case m.starved:
			return nil
		default:
			d.err = errors.Join(ErrCorrupt, m.err)
			d.w.stop()
			return d.err
		}
	}
	return nil
}

// Close stops the worker.
func (d *zstdDecoder) Close() { d.w.stop() }

func (d *zstdDecoder) stop() { d.stopped = true }

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
	mem     *layerMem
	scan    zstdScan
	w       *zstdWorker // started at the first push, once its memory is reserved
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

func newZstd(mem *layerMem) *zstdDecoder { return &zstdDecoder{mem: mem} }

func (d *zstdDecoder) start() {
	w := &zstdWorker{in: make(chan []byte), ack: make(chan zmsg), quit: make(chan struct{})}
	go w.run()
	d.w = w
	// A message whose decoder is dropped without Close (a flow that ends
	// abruptly) must not leave its goroutine behind.
	runtime.AddCleanup(d, (*zstdWorker).stop, w)
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
	// The frames these bytes start are known, and their windows
	// reserved, before the decoder reads their headers and allocates.
	if err := d.scan.feed(p); err != nil {
		d.err = err
		return err
	}
	if err := d.mem.need(zstdMem(d.scan.window)); err != nil {
		d.err = err
		return err
	}
	if d.w == nil {
		d.start()
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
func (d *zstdDecoder) Close() {
	if d.w != nil {
		d.w.stop()
	}
}

func (d *zstdDecoder) stop() { d.stopped = true }

// errZstdWindow is a frame whose window is over MaxZstdWindow. A
// single-segment frame's window is its content size, which the decoder
// checks against its output bound rather than its window bound: a
// 20-byte frame naming a 1 GiB content size had it allocate 1 GiB.
var errZstdWindow = errors.New("decode: zstd window over 8 MiB")

// zstdScan follows the frame structure of a zstd stream (RFC 8878 3.1)
// as it is pushed, without decoding it: frame headers, block headers,
// checksums and skippable frames, so that the window of every frame is
// known before the decoder reads its header. A stream it cannot follow
// is left to the decoder, which refuses it.
type zstdScan struct {
	hdr      []byte // the header being read
	skip     int64  // bytes to step over: block contents, checksum, skippable frame
	inFrame  bool   // reading block headers
	checksum bool   // the frame ends with a 4-byte checksum
	lost     bool   // not a stream the scanner follows
	window   int64  // the largest window of the frames seen
}

const (
	zstdMagic     = 0xFD2FB528
	zstdSkipMagic = 0x184D2A50 // with any low nibble
	zstdMinWindow = 1 << 10
)

func le(b []byte) int64 {
	var v int64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | int64(b[i])
	}
	return v
}

func (s *zstdScan) feed(p []byte) error {
	for len(p) > 0 && !s.lost {
		if s.skip > 0 {
			k := min(s.skip, int64(len(p)))
			s.skip -= k
			p = p[k:]
			continue
		}
		want := s.want()
		if want < 0 {
			s.lost = true
			return nil
		}
		if len(s.hdr) < want {
			k := min(want-len(s.hdr), len(p))
			s.hdr = append(s.hdr, p[:k]...)
			p = p[k:]
			if len(s.hdr) < want || s.want() != want {
				continue
			}
		}
		if err := s.header(); err != nil {
			return err
		}
		s.hdr = s.hdr[:0]
	}
	return nil
}

// want is the length of the header being read, as far as its bytes so
// far tell; -1 when the bytes are no zstd.
func (s *zstdScan) want() int {
	if s.inFrame {
		return 3
	}
	if len(s.hdr) < 5 {
		if len(s.hdr) >= 4 && uint32(le(s.hdr[:4]))&^0xF == zstdSkipMagic {
			return 8
		}
		if len(s.hdr) >= 4 && le(s.hdr[:4]) != zstdMagic {
			return -1
		}
		return 5
	}
	switch m := le(s.hdr[:4]); {
	case uint32(m)&^0xF == zstdSkipMagic:
		return 8
	case m != zstdMagic:
		return -1
	}
	fhd := s.hdr[4]
	n := 5 + [4]int{0, 1, 2, 4}[fhd&3]
	single := fhd&0x20 != 0
	if !single {
		n++
	}
	switch f := fhd >> 6; {
	case f != 0:
		n += 1 << f
	case single:
		n++
	}
	return n
}

// header takes a complete frame or block header.
func (s *zstdScan) header() error {
	h := s.hdr
	switch {
	case s.inFrame:
		bh := le(h)
		switch bh >> 1 & 3 {
		case 1: // RLE: one byte repeated
			s.skip = 1
		case 3:
			s.lost = true
		default:
			s.skip = bh >> 3
		}
		if bh&1 != 0 {
			s.inFrame = false
			if s.checksum {
				s.skip += 4
			}
		}
		return nil
	case uint32(le(h[:4]))&^0xF == zstdSkipMagic:
		s.skip = le(h[4:8])
		return nil
	}
	fhd := h[4]
	var w int64
	if fhd&0x20 == 0 {
		wd := h[5]
		base := int64(1) << (10 + wd>>3)
		w = base + base/8*int64(wd&7)
	} else {
		fcs := h[5+[4]int{0, 1, 2, 4}[fhd&3]:]
		w = le(fcs)
		if len(fcs) == 2 {
			w += 256
		}
		w = max(w, zstdMinWindow)
	}
	if w > MaxZstdWindow || w < 0 {
		return errors.Join(ErrCorrupt, errZstdWindow)
	}
	s.window = max(s.window, w)
	s.inFrame, s.checksum = true, fhd&4 != 0
	return nil
}

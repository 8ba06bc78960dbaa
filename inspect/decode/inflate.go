package decode

import (
	"errors"
)

// ErrCorrupt is returned for input that is not a valid stream.
var ErrCorrupt = errors.New("decode: corrupt compressed data")

// errShort is internal: the input ran out inside a symbol or header.
var errShort = errors.New("decode: short input")

const (
	maxBits  = 15
	lutBits  = 10
	histSize = 64 << 10
	winSize  = 32 << 10
)

// huffman is a canonical Huffman code: counts and symbols ordered by
// code (puff's representation) and a direct table for codes of at most
// lutBits bits.
type huffman struct {
	count [maxBits + 1]uint16
	sym   [288]uint16
	lut   [1 << lutBits]uint16 // sym<<4 | len; 0: longer code (slow path)
}

func (h *huffman) build(lengths []uint8) error {
	h.count = [maxBits + 1]uint16{}
	for _, l := range lengths {
		h.count[l]++
	}
	left := 1
	for l := 1; l <= maxBits; l++ {
		left <<= 1
		left -= int(h.count[l])
		if left < 0 {
			return ErrCorrupt // over-subscribed
		}
	}
	var offs [maxBits + 2]uint16
	for l := 1; l <= maxBits; l++ {
		offs[l+1] = offs[l] + h.count[l]
	}
	for s, l := range lengths {
		if l != 0 {
			h.sym[offs[l]] = uint16(s)
			offs[l]++
		}
	}
	// Fill the direct table: canonical codes in order, bit-reversed
	// because deflate packs codes from their most significant bit.
	clear(h.lut[:])
	code, idx := 0, 0
	for l := 1; l <= lutBits; l++ {
		for i := 0; i < int(h.count[l]); i++ {
			s := h.sym[idx]
			idx++
			r := reverse(code, l)
			for k := r; k < 1<<lutBits; k += 1 << l {
				h.lut[k] = s<<4 | uint16(l)
			}
			code++
		}
		code <<= 1
	}
	return nil
}

func reverse(code, n int) int {
	r := 0
	for i := 0; i < n; i++ {
		r = r<<1 | code&1
		code >>= 1
	}
	return r
}

// Inflater decodes a raw deflate stream (RFC 1951) pushed in pieces.
type Inflater struct {
	in     []byte // input of the current Write: pend and the new bytes
	pend   []byte // input a Write could not consume yet (at most a block header)
	pos    int
	bits   uint64
	nbits  uint
	state  uint8
	final  bool
	stored int // bytes left in a stored block
	lit    huffman
	dist   huffman
	hist   []byte // decoded bytes, the last winSize at least
	emitAt int    // hist[emitAt:] not yet handed out
	done   bool
	err    error
	// stopped ends run at the next symbol (see Chain.Stop).
	stopped bool
}

func (z *Inflater) stop() { z.stopped = true }

const (
	stBlock uint8 = iota
	stStored
	stHuff
	stEnd
)

// Done reports whether the final block ended.
func (z *Inflater) Done() bool { return z.done }

// Rest returns input bytes after the end of the stream (whole bytes past
// the final block), once Done.
func (z *Inflater) Rest() []byte {
	return z.pend
}

// Write decodes p, handing each decoded piece to out (valid only during
// the call). It returns ErrCorrupt for an invalid stream; once it has, it
// keeps returning it.
func (z *Inflater) Write(p []byte, out func([]byte)) error {
	if z.err != nil {
		return z.err
	}
	if z.done {
		z.pend = append(z.pend, p...)
		return nil
	}
	// Decode straight from p unless a previous Write left bytes over: the
	// chunk is not copied, and what stays is at most the symbol or block
	// header the input ended in.
	if len(z.pend) == 0 {
		z.in = p
	} else {
		z.pend = append(z.pend, p...)
		z.in = z.pend
	}
	z.pos = 0
	err := z.run(out)
	z.pend = append(z.pend[:0], z.in[z.pos:]...)
	z.in, z.pos = nil, 0
	if len(z.hist) > z.emitAt {
		out(z.hist[z.emitAt:])
		z.emitAt = len(z.hist)
	}
	if err != nil && err != errShort {
		z.err = err
		return err
	}
	return nil
}

type mark struct {
	pos   int
	bits  uint64
	nbits uint
}

func (z *Inflater) save() mark     { return mark{z.pos, z.bits, z.nbits} }
func (z *Inflater) restore(m mark) { z.pos, z.bits, z.nbits = m.pos, m.bits, m.nbits }

func (z *Inflater) need(n uint) bool {
	for z.nbits < n {
		if z.pos >= len(z.in) {
			return false
		}
		z.bits |= uint64(z.in[z.pos]) << z.nbits
		z.pos++
		z.nbits += 8
	}
	return true
}

func (z *Inflater) take(n uint) (int, bool) {
	if !z.need(n) {
		return 0, false
	}
	v := int(z.bits & (1<<n - 1))
	z.bits >>= n
	z.nbits -= n
	return v, true
}

func (z *Inflater) decodeSym(h *huffman) (int, error) {
	z.need(lutBits) // as many as there are; a short code needs fewer
	if e := h.lut[z.bits&(1<<lutBits-1)]; e != 0 && uint(e&15) <= z.nbits {
		z.bits >>= e & 15
		z.nbits -= uint(e & 15)
		return int(e >> 4), nil
	}
	// Slow path, one bit at a time (puff.c's decode).
	code, first, index := 0, 0, 0
	for l := 1; l <= maxBits; l++ {
		b, ok := z.take(1)
		if !ok {
			return 0, errShort
		}
		code |= b
		c := int(h.count[l])
		if code-c < first {
			return int(h.sym[index+(code-first)]), nil
		}
		index += c
		first += c
		first <<= 1
		code <<= 1
	}
	return 0, ErrCorrupt
}

func (z *Inflater) put(b byte) {
	z.hist = append(z.hist, b)
}

// slide keeps the history bounded, handing out what it drops first.
func (z *Inflater) slide(out func([]byte)) {
	if len(z.hist) < histSize {
		return
	}
	if len(z.hist) > z.emitAt {
		out(z.hist[z.emitAt:])
		z.emitAt = len(z.hist)
	}
	drop := len(z.hist) - winSize
	copy(z.hist, z.hist[drop:])
	z.hist = z.hist[:winSize]
	z.emitAt -= drop
}

var (
	lenBase  = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lenExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	dstBase  = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	dstExtra = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	clOrder  = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
)

var fixedLit, fixedDist huffman

func init() {
	var l [288]uint8
	for i := range l {
		switch {
		case i < 144:
			l[i] = 8
		case i < 256:
			l[i] = 9
		case i < 280:
			l[i] = 7
		default:
			l[i] = 8
		}
	}
	_ = fixedLit.build(l[:])
	var d [30]uint8
	for i := range d {
		d[i] = 5
	}
	_ = fixedDist.build(d[:])
}

func (z *Inflater) run(out func([]byte)) error {
	for {
		if z.stopped {
			return ErrStopped
		}
		switch z.state {
		case stEnd:
			return nil
		case stBlock:
			m := z.save()
			hdr, ok := z.take(3)
			if !ok {
				return errShort
			}
			z.final = hdr&1 == 1
			switch hdr >> 1 {
			case 0:
				// Stored: skip to a byte boundary, then LEN and NLEN.
				z.bits >>= z.nbits & 7
				z.nbits -= z.nbits & 7
				n, ok1 := z.take(16)
				nn, ok2 := z.take(16)
				if !ok1 || !ok2 {
					z.restore(m)
					return errShort
				}
				if n != ^nn&0xffff {
					return ErrCorrupt
				}
				z.stored, z.state = n, stStored
			case 1:
				z.lit, z.dist = fixedLit, fixedDist
				z.state = stHuff
			case 2:
				if err := z.dynamic(); err != nil {
					if err == errShort {
						z.restore(m)
					}
					return err
				}
				z.state = stHuff
			default:
				return ErrCorrupt
			}
		case stStored:
			for z.stored > 0 {
				// Whole bytes: the accumulator holds none after the
				// alignment unless LEN/NLEN pulled extra, so drain it
				// first.
				var b int
				if z.nbits >= 8 {
					b = int(z.bits & 0xff)
					z.bits >>= 8
					z.nbits -= 8
				} else if z.pos < len(z.in) {
					b = int(z.in[z.pos])
					z.pos++
				} else {
					return errShort
				}
				z.put(byte(b))
				z.stored--
				z.slide(out)
				if z.stopped {
					return ErrStopped
				}
			}
			z.endBlock()
		case stHuff:
			for {
				m := z.save()
				sym, err := z.decodeSym(&z.lit)
				if err != nil {
					z.restore(m)
					return err
				}
				if sym < 256 {
					z.put(byte(sym))
					z.slide(out)
					if z.stopped {
						return ErrStopped
					}
					continue
				}
				if sym == 256 {
					break
				}
				sym -= 257
				if sym >= 29 {
					return ErrCorrupt
				}
				ex, ok := z.take(uint(lenExtra[sym]))
				if !ok {
					z.restore(m)
					return errShort
				}
				length := int(lenBase[sym]) + ex
				ds, err := z.decodeSym(&z.dist)
				if err != nil {
					z.restore(m)
					return err
				}
				if ds >= 30 {
					return ErrCorrupt
				}
				dx, ok := z.take(uint(dstExtra[ds]))
				if !ok {
					z.restore(m)
					return errShort
				}
				dist := int(dstBase[ds]) + dx
				if dist > len(z.hist) {
					return ErrCorrupt
				}
				for i := 0; i < length; i++ {
					z.hist = append(z.hist, z.hist[len(z.hist)-dist])
				}
				z.slide(out)
				if z.stopped {
					return ErrStopped
				}
			}
			z.endBlock()
		}
	}
}

func (z *Inflater) endBlock() {
	if z.final {
		z.state, z.done = stEnd, true
		// Give back whole bytes the accumulator read past the end.
		z.pos -= int(z.nbits / 8)
		z.bits, z.nbits = 0, 0
		return
	}
	z.state = stBlock
}

func (z *Inflater) dynamic() error {
	nlen, ok1 := z.take(5)
	ndist, ok2 := z.take(5)
	ncode, ok3 := z.take(4)
	if !ok1 || !ok2 || !ok3 {
		return errShort
	}
	nlen, ndist, ncode = nlen+257, ndist+1, ncode+4
	if nlen > 286 || ndist > 30 {
		return ErrCorrupt
	}
	var cl [19]uint8
	for i := 0; i < ncode; i++ {
		v, ok := z.take(3)
		if !ok {
			return errShort
		}
		cl[clOrder[i]] = uint8(v)
	}
	var clh huffman
	if err := clh.build(cl[:]); err != nil {
		return err
	}
	var lengths [286 + 30]uint8
	for i := 0; i < nlen+ndist; {
		sym, err := z.decodeSym(&clh)
		if err != nil {
			return err
		}
		if sym < 16 {
			lengths[i] = uint8(sym)
			i++
			continue
		}
		var rep int
		var val uint8
		switch sym {
		case 16:
			if i == 0 {
				return ErrCorrupt
			}
			val = lengths[i-1]
			v, ok := z.take(2)
			if !ok {
				return errShort
			}
			rep = 3 + v
		case 17:
			v, ok := z.take(3)
			if !ok {
				return errShort
			}
			rep = 3 + v
		default:
			v, ok := z.take(7)
			if !ok {
				return errShort
			}
			rep = 11 + v
		}
		if i+rep > nlen+ndist {
			return ErrCorrupt
		}
		for ; rep > 0; rep-- {
			lengths[i] = val
			i++
		}
	}
	if lengths[256] == 0 {
		return ErrCorrupt
	}
	if err := z.lit.build(lengths[:nlen]); err != nil {
		return err
	}
	return z.dist.build(lengths[nlen : nlen+ndist])
}

package decode

import (
	"bytes"
	"errors"
	"strings"
)

// ErrTrailing is returned for bytes after the end of a compressed stream:
// clients disagree on them (a second gzip member is decoded by some and
// ignored by others), so they are an ambiguity the caller refuses.
var ErrTrailing = errors.New("decode: data after the end of the compressed stream")

// ErrUnsupported names a content coding this package does not decode.
var ErrUnsupported = errors.New("decode: unsupported content coding")

// Decoder decodes one content coding pushed in pieces.
type Decoder interface {
	// Write decodes p and hands out every byte it can decode so far.
	Write(p []byte, out func([]byte)) error
}

// New returns the decoder for one coding name as it appears in
// Content-Encoding (any case; "x-gzip" is gzip, as RFC 9110 8.4.1.3
// asks), or ErrUnsupported. Its memory is not accounted (see NewChain).
func New(coding string) (Decoder, error) { return newDecoder(coding, &layerMem{}) }

func newDecoder(coding string, mem *layerMem) (Decoder, error) {
	switch strings.ToLower(coding) {
	case "gzip", "x-gzip":
		return &gzipDecoder{mem: mem}, nil
	case "deflate":
		return &zlibDecoder{auto: true, mem: mem}, nil
	case "br":
		return newBrotli(mem), nil
	case "zstd":
		return newZstd(mem), nil
	}
	return nil, ErrUnsupported
}

// Check reports whether NewChain would take codings (ErrTooMany,
// ErrUnsupported) without making any decoder.
func Check(codings []string) error {
	if len(codings) > MaxCodings {
		return ErrTooMany
	}
	for _, c := range codings {
		switch strings.ToLower(c) {
		case "gzip", "x-gzip", "deflate", "br", "zstd":
		default:
			return ErrUnsupported
		}
	}
	return nil
}

// Chain decodes stacked codings: Content-Encoding lists them in the
// order they were applied, so they are undone from the last.
type Chain struct {
	decs []Decoder
	mems []layerMem // what each layer holds of the account
	outs []func([]byte)
	sink func([]byte)
	err  error
}

// ParseCodings splits a Content-Encoding value into its codings, dropping
// "identity" and empty members, with the spacing clients tolerate.
func ParseCodings(v []byte) []string {
	var out []string
	for _, f := range bytes.Split(v, []byte(",")) {
		f = bytes.Trim(f, " \t")
		if len(f) == 0 || strings.EqualFold(string(f), "identity") {
			continue
		}
		out = append(out, string(f))
	}
	return out
}

// MaxCodings bounds stacked codings, as curl does (5, since
// CVE-2023-23916): each layer multiplies the output of the one below.
const MaxCodings = 5

// ErrTooMany is returned for more than MaxCodings stacked codings.
var ErrTooMany = errors.New("decode: too many stacked content codings")

// NewChain builds the decoder of a list of codings in applied order.
// Each layer reserves its memory from a (nil: not accounted) before it
// allocates it, and Write fails with ErrMemory when a reservation is
// refused; Close returns it.
func NewChain(codings []string, a *Account) (*Chain, error) {
	if err := Check(codings); err != nil {
		return nil, err
	}
	c := &Chain{mems: make([]layerMem, len(codings))}
	for i := len(codings) - 1; i >= 0; i-- {
		mem := &c.mems[len(c.decs)]
		mem.a = a
		d, err := newDecoder(codings[i], mem)
		if err != nil {
			return nil, err
		}
		c.decs = append(c.decs, d)
	}
	c.outs = make([]func([]byte), len(c.decs))
	for i := range c.decs {
		if i == len(c.decs)-1 {
			c.outs[i] = func(b []byte) {
				if c.err == nil {
					c.sink(b)
				}
			}
			continue
		}
		next := i + 1
		c.outs[i] = func(b []byte) {
			if c.err != nil {
				return
			}
			// A Stop in the layers below must stand.
			if err := c.decs[next].Write(b, c.outs[next]); err != nil && c.err == nil {
				c.err = err
			}
		}
	}
	return c, nil
}

// ErrStopped is what Write returns after Stop.
var ErrStopped = errors.New("decode: stopped by the caller")

// Stop ends the chain from inside Write's out: nothing more is handed
// out, and the layers past the first decode nothing more. A caller's
// output bound is crossed in the middle of a Write: one segment through
// stacked layers can decode to gigabytes, which a check after Write would
// only see once all of them had been handed out.
func (c *Chain) Stop() {
	if c.err == nil {
		c.err = ErrStopped
	}
	for _, d := range c.decs {
		if s, ok := d.(stopper); ok {
			s.stop()
		}
	}
}

// stopper is a decoder that can end a Write between two outputs: the
// first layer would otherwise decode all its input holds, and 1.6 KB of
// br decode to 1 GiB (1.9 s of CPU after the caller had stopped).
type stopper interface{ stop() }

func (d *gzipDecoder) stop() { d.z.stop() }
func (d *zlibDecoder) stop() { d.z.stop() }

// Close releases what a decoder holds beyond memory (zstd's goroutine)
// and returns the layers' reservations to the account, once: a second
// Close releases nothing. The chain must not be used after.
func (c *Chain) Close() {
	for i, d := range c.decs {
		if cl, ok := d.(interface{ Close() }); ok {
			cl.Close()
		}
		c.mems[i].release()
	}
}

// Write pushes encoded bytes through the chain; out gets decoded bytes.
func (c *Chain) Write(p []byte, out func([]byte)) error {
	if c.err != nil {
		return c.err
	}
	c.sink = out
	if len(c.decs) == 0 {
		out(p)
		return nil
	}
	if err := c.decs[0].Write(p, c.outs[0]); err != nil && c.err == nil {
		c.err = err
	}
	return c.err
}

// gzipDecoder is one gzip member (RFC 1952).
type gzipDecoder struct {
	mem     *layerMem
	hdr     []byte
	started bool
	z       Inflater
	trailer int // trailer bytes seen
}

const (
	gzFHCRC    = 1 << 1
	gzFEXTRA   = 1 << 2
	gzFNAME    = 1 << 3
	gzFCOMMENT = 1 << 4
	maxGzHdr   = 4 << 10
)

// gzipHeader returns the header length, 0 if more bytes are needed.
func gzipHeader(b []byte) (int, error) {
	if len(b) >= 1 && b[0] != 0x1f || len(b) >= 2 && b[1] != 0x8b || len(b) >= 3 && b[2] != 8 {
		return 0, ErrCorrupt
	}
	if len(b) < 10 {
		return 0, nil
	}
	flg, n := b[3], 10
	if flg&gzFEXTRA != 0 {
		if len(b) < n+2 {
			return 0, nil
		}
		n += 2 + int(b[n]) + int(b[n+1])<<8
	}
	for _, f := range []byte{gzFNAME, gzFCOMMENT} {
		if flg&f == 0 {
			continue
		}
		if n > len(b) {
			return 0, nil
		}
		i := bytes.IndexByte(b[n:], 0)
		if i < 0 {
			return 0, nil
		}
		n += i + 1
	}
	if flg&gzFHCRC != 0 {
		n += 2
	}
	if n > len(b) {
		return 0, nil
	}
	return n, nil
}

func (g *gzipDecoder) Write(p []byte, out func([]byte)) error {
	if err := g.mem.need(inflateMem); err != nil {
		return err
	}
	if !g.started {
		g.hdr = append(g.hdr, p...)
		n, err := gzipHeader(g.hdr)
		if err != nil {
			return err
		}
		if n == 0 {
			if len(g.hdr) > maxGzHdr {
				return ErrCorrupt
			}
			return nil
		}
		g.started = true
		p, g.hdr = g.hdr[n:], nil
	}
	if !g.z.Done() {
		if err := g.z.Write(p, out); err != nil {
			return err
		}
		if !g.z.Done() {
			return nil
		}
		p = g.z.Rest()
	}
	// The 8-byte trailer (CRC-32, size) ends the member; anything after it
	// is a second member or junk, which clients treat differently.
	k := min(8-g.trailer, len(p))
	g.trailer += k
	if len(p) > k {
		return ErrTrailing
	}
	return nil
}

// zlibDecoder is "deflate": RFC 1950 zlib, or with auto a raw RFC 1951
// stream when the first two bytes are no zlib header (clients accept
// both, because servers sent both).
type zlibDecoder struct {
	mem     *layerMem
	auto    bool
	hdr     []byte
	started bool
	wrapped bool
	z       Inflater
	trailer int
}

func (d *zlibDecoder) Write(p []byte, out func([]byte)) error {
	if err := d.mem.need(inflateMem); err != nil {
		return err
	}
	if !d.started {
		d.hdr = append(d.hdr, p...)
		if len(d.hdr) < 2 {
			return nil
		}
		cmf, flg := d.hdr[0], d.hdr[1]
		zlib := cmf&0x0f == 8 && cmf>>4 <= 7 && (uint16(cmf)<<8|uint16(flg))%31 == 0
		switch {
		case zlib && flg&0x20 != 0:
			return ErrCorrupt // a preset dictionary no client has
		case zlib:
			p = d.hdr[2:]
			d.wrapped = true
		case d.auto:
			p = d.hdr
		default:
			return ErrCorrupt
		}
		d.started, d.hdr = true, nil
	}
	if !d.z.Done() {
		if err := d.z.Write(p, out); err != nil {
			return err
		}
		if !d.z.Done() {
			return nil
		}
		p = d.z.Rest()
	}
	if d.wrapped {
		k := min(4-d.trailer, len(p))
		d.trailer += k
		p = p[k:]
	}
	if len(p) > 0 {
		return ErrTrailing
	}
	return nil
}

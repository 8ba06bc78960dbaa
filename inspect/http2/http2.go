package http2

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/interdict/interdict/inspect"
)

// Preface is the client connection preface (RFC 9113 3.4).
const Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

const (
	// MaxFrame bounds a non-DATA frame's payload kept to parse it. The
	// default SETTINGS_MAX_FRAME_SIZE is 16 KiB; headers past 64 KiB are
	// over the HTTP/1 header section limit anyway.
	MaxFrame = 64 << 10
	// MaxStreams bounds the streams tracked at once; servers advertise
	// SETTINGS_MAX_CONCURRENT_STREAMS of 100-250.
	MaxStreams = 256
	// maxTable bounds the HPACK dynamic table a peer may ask for.
	maxTable = 64 << 10
)

// Handler receives what the frames carry.
type Handler interface {
	// Headers is a complete header block (HEADERS or PUSH_PROMISE plus
	// CONTINUATION) of stream in direction dir; end is END_STREAM.
	Headers(dir inspect.Direction, stream uint32, fields []hpack.HeaderField, end bool)
	// Data is a piece of a stream's DATA payload; end marks the last
	// piece of a frame with END_STREAM.
	Data(dir inspect.Direction, stream uint32, data []byte, end bool)
	// Reset is RST_STREAM: the stream is over in both directions.
	Reset(stream uint32)
	// Anomaly reports a protocol violation; the direction stops.
	Anomaly(dir inspect.Direction, event string)
	// Event reports something Suricata raises an http2 event for that
	// does not stop parsing (EvLongFrameData).
	Event(dir inspect.Direction, event string)
	// Frame reports each frame that parsed, for Suricata's http2.*
	// frame keywords: DATA at its header, the others once read whole.
	// stream is the stream the frame belongs to (a PUSH_PROMISE's
	// promised stream); 0 for the connection's frames.
	Frame(dir inspect.Direction, stream uint32, f FrameInfo)
}

// FrameInfo is what the http2.* keywords read of one frame.
type FrameInfo struct {
	Type http2.FrameType
	// ErrCode is set for RST_STREAM and GOAWAY, Window for WINDOW_UPDATE,
	// Weight for PRIORITY and HEADERS with a priority (the wire value).
	HasErrCode, HasWindow, HasWeight bool
	ErrCode, Window                  uint32
	Weight                           uint8
	// Settings are a SETTINGS frame's parameters (not its ACK's).
	Settings []http2.Setting
	// Raw is the whole frame, header included, for frames other than
	// DATA (whose payload is streamed); valid during the call only.
	Raw []byte
}

// Anomaly event names.
const (
	AnomPreface        = "HTTP2_PREFACE_INVALID"
	AnomFrame          = "HTTP2_FRAME_INVALID"
	AnomFrameTooLarge  = "HTTP2_FRAME_TOO_LARGE"
	AnomHPACK          = "HTTP2_HPACK_INVALID"
	AnomHeaderList     = "HTTP2_HEADER_LIST_TOO_LARGE"
	AnomTooManyStreams = "HTTP2_TOO_MANY_STREAMS"
)

// Events as Suricata's http2 parser names them (rules/http2-events.rules),
// raised beside the anomalies above.
const (
	// EvLongFrameData: a frame of 64 KiB or more, which Suricata does not
	// buffer whole.
	EvLongFrameData = "long_frame_data"
	// EvUserinfoInURI: userinfo ("user@") in :authority, which RFC 9113
	// 8.3.1 forbids.
	EvUserinfoInURI = "userinfo_in_uri"
	// EvAuthorityHostMismatch: :authority and host in one header block
	// differ (compared case-insensitively).
	EvAuthorityHostMismatch = "authority_host_mismatch"
)

// longFrame is the frame length from which Suricata raises
// long_frame_data (HTTP2_MAX_HANDLED_FRAME_SIZE).
const longFrame = 1 << 16

type frameReader struct {
	b   []byte
	raw []byte // the frame being read, whole
}

func (r *frameReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

type dirState struct {
	dir      inspect.Direction
	preface  int // preface bytes still expected
	dead     bool
	hdr      [9]byte
	nhdr     int
	fh       http2.FrameHeader
	inFrame  bool
	buf      []byte // a non-DATA frame being collected
	left     uint32 // DATA payload bytes left in the frame
	padLeft  uint32 // DATA padding bytes at the frame's end
	needPad  bool   // the pad-length byte is next
	rd       frameReader
	fr       *http2.Framer
	dec      *hpack.Decoder
	fields   []hpack.HeaderField
	listSize int
	block    []byte // header block fragments so far
	blkStrm  uint32
	blkEnd   bool // END_STREAM of the HEADERS that opened the block
	push     bool // the block is a PUSH_PROMISE's promised request
	inBlock  bool
}

// Conn parses one HTTP/2 connection, both directions.
type Conn struct {
	h         Handler
	maxHeader int
	dirs      [2]dirState
}

// NewConn returns a parser. maxHeaderList bounds the decoded header list
// of one block (name and value bytes plus 32 each, as SETTINGS_MAX_
// HEADER_LIST_SIZE counts). upgraded says the connection began as
// HTTP/1.1 with "Upgrade: h2c": the client still sends the preface.
func NewConn(h Handler, maxHeaderList int) *Conn {
	c := &Conn{h: h, maxHeader: maxHeaderList}
	for i := range c.dirs {
		d := &c.dirs[i]
		d.dir = inspect.Direction(i)
		d.fr = http2.NewFramer(nil, &d.rd)
		d.fr.SetMaxReadFrameSize(MaxFrame)
		d.dec = hpack.NewDecoder(4096, func(f hpack.HeaderField) {
			d.listSize += len(f.Name) + len(f.Value) + 32
			if d.listSize <= c.maxHeader {
				d.fields = append(d.fields, f)
			}
		})
		d.dec.SetMaxStringLength(maxHeaderList)
	}
	c.dirs[inspect.ToServer].preface = len(Preface)
	return c
}

func (c *Conn) fail(d *dirState, event string) {
	if d.dead {
		return
	}
	d.dead = true
	d.buf, d.block, d.fields = nil, nil, nil
	c.h.Anomaly(d.dir, event)
}

// Feed parses bytes of one direction.
func (c *Conn) Feed(dir inspect.Direction, data []byte) {
	d := &c.dirs[dir&1]
	for len(data) > 0 && !d.dead {
		switch {
		case d.preface > 0:
			off := len(Preface) - d.preface
			n := min(d.preface, len(data))
			if !bytes.Equal(data[:n], []byte(Preface[off:off+n])) {
				c.fail(d, AnomPreface)
				return
			}
			d.preface -= n
			data = data[n:]
		case !d.inFrame:
			n := copy(d.hdr[d.nhdr:], data)
			d.nhdr += n
			data = data[n:]
			if d.nhdr < 9 {
				return
			}
			d.nhdr = 0
			c.startFrame(d)
		case d.fh.Type == http2.FrameData:
			data = c.dataBytes(d, data)
		default:
			n := min(int(d.fh.Length)-(len(d.buf)-9), len(data))
			d.buf = append(d.buf, data[:n]...)
			data = data[n:]
			if len(d.buf)-9 == int(d.fh.Length) {
				c.frame(d)
			}
		}
	}
}

func (c *Conn) startFrame(d *dirState) {
	h := d.hdr
	d.fh = http2.FrameHeader{
		Type:     http2.FrameType(h[3]),
		Flags:    http2.Flags(h[4]),
		Length:   uint32(h[0])<<16 | uint32(h[1])<<8 | uint32(h[2]),
		StreamID: binary.BigEndian.Uint32(h[5:]) & (1<<31 - 1),
	}
	d.inFrame = true
	if d.fh.Length >= longFrame {
		c.h.Event(d.dir, EvLongFrameData)
	}
	if d.fh.Type == http2.FrameData {
		if d.inBlock || d.fh.StreamID == 0 {
			c.fail(d, AnomFrame)
			return
		}
		d.left, d.padLeft = d.fh.Length, 0
		d.needPad = d.fh.Flags.Has(http2.FlagDataPadded)
		c.h.Frame(d.dir, d.fh.StreamID, FrameInfo{Type: http2.FrameData})
		if d.left == 0 {
			c.endData(d)
		}
		return
	}
	if d.fh.Length > MaxFrame {
		c.fail(d, AnomFrameTooLarge)
		return
	}
	d.buf = append(d.buf[:0], h[:]...)
	if d.fh.Length == 0 {
		c.frame(d)
	}
}

// dataBytes streams a DATA frame's payload, padding stripped.
func (c *Conn) dataBytes(d *dirState, data []byte) []byte {
	if d.needPad {
		d.needPad = false
		d.left--
		d.padLeft = uint32(data[0])
		data = data[1:]
		if d.padLeft > d.left {
			c.fail(d, AnomFrame) // padding longer than the payload
			return nil
		}
	}
	payload := d.left - d.padLeft
	n := min(uint32(len(data)), payload)
	if n > 0 {
		c.h.Data(d.dir, d.fh.StreamID, data[:n], false)
	}
	skip := min(uint32(len(data))-n, d.padLeft)
	if n < payload {
		d.left -= n
		return data[n:]
	}
	d.left -= n + skip
	d.padLeft -= skip
	data = data[n+skip:]
	if d.left == 0 {
		c.endData(d)
	}
	return data
}

func (c *Conn) endData(d *dirState) {
	d.inFrame = false
	if d.fh.Flags.Has(http2.FlagDataEndStream) {
		c.h.Data(d.dir, d.fh.StreamID, nil, true)
	}
}

// frame reads a complete non-DATA frame with the Framer.
func (c *Conn) frame(d *dirState) {
	d.inFrame = false
	d.rd.b, d.rd.raw = d.buf, d.buf
	f, err := d.fr.ReadFrame()
	d.buf = d.buf[:0]
	if cap(d.buf) > 16<<10 {
		d.buf = nil // a rare big frame does not pin its buffer
	}
	if err != nil {
		var se http2.StreamError
		if errors.As(err, &se) {
			// A stream-level error: the peer resets that stream; the
			// connection goes on, and so does inspection.
			return
		}
		c.fail(d, AnomFrame)
		return
	}
	fi := frameInfo(f)
	fi.Raw, d.rd.raw = d.rd.raw, nil // a big frame's buffer is not pinned
	c.h.Frame(d.dir, frameStream(f, d.blkStrm), fi)
	switch f := f.(type) {
	case *http2.HeadersFrame:
		d.inBlock, d.blkStrm, d.blkEnd, d.push = true, f.StreamID, f.StreamEnded(), false
		c.fragment(d, f.HeaderBlockFragment(), f.HeadersEnded())
	case *http2.PushPromiseFrame:
		// The promised request of a stream the server opens: handed over
		// as that stream's request (to_server), whose response follows.
		d.inBlock, d.blkStrm, d.blkEnd, d.push = true, f.PromiseID, false, true
		c.fragment(d, f.HeaderBlockFragment(), f.HeadersEnded())
	case *http2.ContinuationFrame:
		c.fragment(d, f.HeaderBlockFragment(), f.HeadersEnded())
	case *http2.SettingsFrame:
		if v, ok := lastSetting(f, http2.SettingHeaderTableSize); ok && !f.IsAck() {
			// The sender's decoder takes this much: it bounds what the
			// other direction's encoder may use.
			c.dirs[1-d.dir].dec.SetAllowedMaxDynamicTableSize(min(v, maxTable))
		}
	case *http2.RSTStreamFrame:
		c.h.Reset(f.StreamID)
	}
}

// lastSetting is a SETTINGS frame's value for id: the last one it gives,
// as its parameters apply in order (RFC 9113 6.5.3). Frame.Value gives
// the first: a client that sent a header table size of 0 then 4096 in
// one frame (nghttp2 does) had every later response header block taken
// for an HPACK error.
func lastSetting(f *http2.SettingsFrame, id http2.SettingID) (v uint32, ok bool) {
	for i := range f.NumSettings() {
		if s := f.Setting(i); s.ID == id {
			v, ok = s.Val, true
		}
	}
	return v, ok
}

// frameStream is the stream a frame belongs to: a PUSH_PROMISE's (and
// its CONTINUATIONs') is the promised one, as in Suricata.
func frameStream(f http2.Frame, block uint32) uint32 {
	switch f := f.(type) {
	case *http2.PushPromiseFrame:
		return f.PromiseID
	case *http2.ContinuationFrame:
		return block
	}
	return f.Header().StreamID
}

func frameInfo(f http2.Frame) FrameInfo {
	fi := FrameInfo{Type: f.Header().Type}
	switch f := f.(type) {
	case *http2.RSTStreamFrame:
		fi.HasErrCode, fi.ErrCode = true, uint32(f.ErrCode)
	case *http2.GoAwayFrame:
		fi.HasErrCode, fi.ErrCode = true, uint32(f.ErrCode)
	case *http2.WindowUpdateFrame:
		fi.HasWindow, fi.Window = true, f.Increment
	case *http2.SettingsFrame:
		if !f.IsAck() {
			f.ForeachSetting(func(s http2.Setting) error {
				fi.Settings = append(fi.Settings, s)
				return nil
			})
		}
	case *http2.PriorityFrame:
		fi.HasWeight, fi.Weight = true, f.Weight
	case *http2.HeadersFrame:
		if f.HasPriority() {
			fi.HasWeight, fi.Weight = true, f.Priority.Weight
		}
	}
	return fi
}

func (c *Conn) fragment(d *dirState, frag []byte, end bool) {
	if len(d.block)+len(frag) > c.maxHeader {
		c.fail(d, AnomHeaderList)
		return
	}
	d.block = append(d.block, frag...)
	if !end {
		return
	}
	d.inBlock = false
	d.fields, d.listSize = d.fields[:0], 0
	_, err := d.dec.Write(d.block)
	if err == nil {
		err = d.dec.Close()
	}
	d.block = d.block[:0]
	switch {
	case err != nil:
		c.fail(d, AnomHPACK)
	case d.listSize > c.maxHeader:
		c.fail(d, AnomHeaderList)
	case d.push:
		c.h.Headers(inspect.ToServer, d.blkStrm, d.fields, true)
	default:
		c.h.Headers(d.dir, d.blkStrm, d.fields, d.blkEnd)
	}
}

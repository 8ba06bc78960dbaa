package http1

import (
	"bytes"
	"encoding/binary"

	"golang.org/x/net/http2"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
	ih2 "github.com/interdict/interdict/inspect/http2"
)

// maxFrameFacts bounds the values kept per kind, stream and direction:
// a long download sends a WINDOW_UPDATE every few dozen KB.
const maxFrameFacts = 64

// frameFacts is what Suricata's http2.* frame keywords read of one
// direction of a stream: its frames' types, error codes, weights and
// window increments.
type frameFacts struct {
	types    [][]byte // one per type seen, 1 byte
	errs     [][]byte // 4 bytes each
	weights  [][]byte
	windows  [][]byte
	settings [][]byte // 2 bytes of identifier, 4 of value
}

// typeBytes are the 1-byte instances of frame types and weights.
var typeBytes = func() (b [256][]byte) {
	for i := range b {
		b[i] = []byte{byte(i)}
	}
	return b
}()

func (ff *frameFacts) add(f ih2.FrameInfo) {
	seen := false
	for _, t := range ff.types {
		seen = seen || t[0] == byte(f.Type)
	}
	if !seen {
		ff.types = append(ff.types, typeBytes[f.Type])
	}
	if f.HasErrCode && len(ff.errs) < maxFrameFacts {
		ff.errs = append(ff.errs, binary.BigEndian.AppendUint32(nil, f.ErrCode))
	}
	if f.HasWeight && len(ff.weights) < maxFrameFacts {
		ff.weights = append(ff.weights, typeBytes[f.Weight])
	}
	if f.HasWindow && len(ff.windows) < maxFrameFacts {
		ff.windows = append(ff.windows, binary.BigEndian.AppendUint32(nil, f.Window))
	}
	for _, s := range f.Settings {
		if len(ff.settings) < maxFrameFacts {
			b := binary.BigEndian.AppendUint16(make([]byte, 0, 6), uint16(s.ID))
			ff.settings = append(ff.settings, binary.BigEndian.AppendUint32(b, s.Val))
		}
	}
}

// Frame implements http2.Handler. A stream's frames are inspected with
// its next Unit, and at once for the frames that come after its messages
// (WINDOW_UPDATE, PRIORITY, RST_STREAM). As in Suricata, each frame of
// the connection (stream 0: SETTINGS, PING, GOAWAY, WINDOW_UPDATE) is a
// transaction of its own, inspected at once and logged when its frame
// has something Suricata's http2 logger writes (settings, an error
// code, a priority: log_http2_frames), not a PING or WINDOW_UPDATE.
func (h *h2) Frame(dir inspect.Direction, id uint32, f ih2.FrameInfo) {
	if h.emit == nil {
		return
	}
	if id == 0 {
		t := h.p.newTx()
		t.h2 = true
		t.frames[dir&1].add(f)
		t.frame = f.Raw
		ff := &t.frames[dir&1]
		h.p.emit(dir, t, len(ff.settings) > 0 || len(ff.errs) > 0 || len(ff.weights) > 0, h.emit)
		t.frame = nil
		t.reqDone, t.respDone = true, true
		h.p.release(t)
		return
	}
	t := h.streams[id]
	if t == nil {
		if f.Type != http2.FrameHeaders && f.Type != http2.FramePushPromise && f.Type != http2.FrameData {
			return // a late frame of a stream already over
		}
		if t = h.stream(id); t == nil {
			return
		}
	}
	t.frames[dir&1].add(f)
	if f.Raw != nil {
		// The frame itself is inspected on a Unit of its own (frame:
		// keywords), which also inspects what it added to the stream.
		t.frame = f.Raw
		h.p.emit(dir, t, false, h.emit)
		t.frame = nil
	}
}

// eve is what EVE's http2.request or http2.response says of them.
func (ff *frameFacts) eve() inspect.HTTP2Frames {
	var o inspect.HTTP2Frames
	if len(ff.errs) > 0 {
		c := binary.BigEndian.Uint32(ff.errs[0])
		o.ErrorCode = &c
	}
	if len(ff.weights) > 0 {
		w := ff.weights[0][0]
		o.Priority = &w
	}
	for _, s := range ff.settings {
		o.Settings = append(o.Settings, inspect.HTTP2Setting{ID: binary.BigEndian.Uint16(s), Value: binary.BigEndian.Uint32(s[2:])})
	}
	switch {
	case len(ff.errs) > 1:
		o.HasMultiple = "error_code"
	case len(ff.weights) > 1:
		o.HasMultiple = "priority"
	}
	return o
}

// setH2Buffers fills the HTTP/2 multi-buffers of u, a Unit of t in dir.
func setH2Buffers(u *applayer.Unit, t *tx, dir inspect.Direction) {
	ff := &t.frames[dir&1]
	u.Multi[applayer.HTTP2FrameType] = append(u.Multi[applayer.HTTP2FrameType][:0], ff.types...)
	u.Multi[applayer.HTTP2ErrorCode] = append(u.Multi[applayer.HTTP2ErrorCode][:0], ff.errs...)
	u.Multi[applayer.HTTP2Priority] = append(u.Multi[applayer.HTTP2Priority][:0], ff.weights...)
	u.Multi[applayer.HTTP2Window] = append(u.Multi[applayer.HTTP2Window][:0], ff.windows...)
	u.Multi[applayer.HTTP2Settings] = append(u.Multi[applayer.HTTP2Settings][:0], ff.settings...)
	m := &t.req
	if dir == inspect.ToClient {
		m = &t.resp
	}
	lines := m.appendLines(u.Multi[applayer.HTTP2Header][:0])
	u.Multi[applayer.HTTP2Header] = lines
	names := u.Multi[applayer.HTTP2HeaderName][:0]
	for _, l := range lines {
		if i := bytes.Index(l, []byte(": ")); i >= 0 {
			names = append(names, l[:i:i])
		}
	}
	u.Multi[applayer.HTTP2HeaderName] = names
	if len(t.frame) >= 9 {
		u.Buffers[applayer.HTTP2FrameHdr] = t.frame[:9:9]
		u.Buffers[applayer.HTTP2FrameData] = t.frame[9:len(t.frame):len(t.frame)]
		u.Buffers[applayer.HTTP2FramePDU] = t.frame[:len(t.frame):len(t.frame)]
	}
}

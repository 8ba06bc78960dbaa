package http2

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/interdict/interdict/inspect"
)

// rec records what the frames carried, per direction and stream.
type rec struct {
	headers map[uint32][]string
	data    map[uint32]string
	ends    map[uint32]int
	anoms   []string
	events  []string
	frames  []FrameInfo
	rawOK   []bool
}

func newRec() *rec {
	return &rec{headers: map[uint32][]string{}, data: map[uint32]string{}, ends: map[uint32]int{}}
}

func (r *rec) Headers(dir inspect.Direction, id uint32, fields []hpack.HeaderField, end bool) {
	for _, f := range fields {
		r.headers[id] = append(r.headers[id], f.Name+"="+f.Value)
	}
	if end {
		r.ends[id]++
	}
}
func (r *rec) Data(dir inspect.Direction, id uint32, data []byte, end bool) {
	r.data[id] += string(data)
	if end {
		r.ends[id]++
	}
}
func (r *rec) Reset(uint32)                             {}
func (r *rec) Anomaly(dir inspect.Direction, ev string) { r.anoms = append(r.anoms, ev) }
func (r *rec) Event(dir inspect.Direction, ev string)   { r.events = append(r.events, ev) }
func (r *rec) Frame(dir inspect.Direction, id uint32, f FrameInfo) {
	// Raw is the whole frame (its header says its length and type),
	// nil for DATA; it is valid during the call only.
	raw := f.Raw
	r.rawOK = append(r.rawOK, f.Type == http2.FrameData && raw == nil ||
		len(raw) >= 9 && http2.FrameType(raw[3]) == f.Type && int(raw[0])<<16|int(raw[1])<<8|int(raw[2]) == len(raw)-9)
	f.Raw = nil
	r.frames = append(r.frames, f)
}

func frames(t testing.TB) []byte {
	var b, hb bytes.Buffer
	b.WriteString(Preface)
	fr := http2.NewFramer(&b, nil)
	enc := hpack.NewEncoder(&hb)
	require.NoError(t, fr.WriteSettings(http2.Setting{ID: http2.SettingHeaderTableSize, Val: 8192}))
	for _, f := range []hpack.HeaderField{{Name: ":method", Value: "POST"}, {Name: ":path", Value: "/x"}, {Name: "x-a", Value: "1"}} {
		enc.WriteField(f)
	}
	require.NoError(t, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true}))
	require.NoError(t, fr.WriteDataPadded(1, false, []byte("hello "), make([]byte, 10)))
	require.NoError(t, fr.WritePing(false, [8]byte{}))
	require.NoError(t, fr.WriteDataPadded(1, true, []byte("world"), nil))
	return b.Bytes()
}

// Any cut of the stream gives the same fields and data, padding stripped.
func TestConnSplits(t *testing.T) {
	in := frames(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 50; round++ {
		r := newRec()
		c := NewConn(r, 64<<10)
		for b := in; len(b) > 0; {
			n := 1 + rng.IntN(min(len(b), 30))
			c.Feed(inspect.ToServer, b[:n])
			b = b[n:]
		}
		assert.Empty(t, r.anoms)
		assert.Equal(t, []string{":method=POST", ":path=/x", "x-a=1"}, r.headers[1])
		assert.Equal(t, "hello world", r.data[1])
		assert.Equal(t, 1, r.ends[1])
	}
}

// The frame reader never panics and never holds more than its bounds.
func FuzzConn(f *testing.F) {
	f.Add(frames(f), uint16(7))
	f.Add([]byte(Preface+"\x00\x00\x04\x01\x05\x00\x00\x00\x01\x82\x86\x84\x41"), uint16(1))
	f.Fuzz(func(t *testing.T, in []byte, piece uint16) {
		r := newRec()
		c := NewConn(r, 16<<10)
		p := int(piece%256) + 1
		for b := in; len(b) > 0; {
			n := min(p, len(b))
			c.Feed(inspect.ToServer, b[:n])
			c.Feed(inspect.ToClient, b[:n])
			b = b[n:]
		}
		for _, d := range c.dirs {
			require.LessOrEqual(t, len(d.buf), MaxFrame+9)
			require.LessOrEqual(t, len(d.block), 16<<10)
		}
	})
}

// Every frame is reported with what the http2.* keywords read of it.
func TestFrameInfo(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(Preface)
	fr := http2.NewFramer(&b, nil)
	require.NoError(t, fr.WriteSettings())
	require.NoError(t, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0x82}, EndHeaders: true,
		Priority: http2.PriorityParam{Weight: 41}}))
	require.NoError(t, fr.WriteData(1, false, []byte("x")))
	require.NoError(t, fr.WriteWindowUpdate(1, 1000))
	require.NoError(t, fr.WritePriority(1, http2.PriorityParam{StreamDep: 0, Weight: 7}))
	require.NoError(t, fr.WriteRSTStream(1, http2.ErrCodeCancel))
	require.NoError(t, fr.WriteGoAway(1, http2.ErrCodeInternal, nil))
	r := newRec()
	NewConn(r, 64<<10).Feed(inspect.ToServer, b.Bytes())
	require.Empty(t, r.anoms)
	assert.Equal(t, []FrameInfo{
		{Type: http2.FrameSettings},
		{Type: http2.FrameHeaders, HasWeight: true, Weight: 41},
		{Type: http2.FrameData},
		{Type: http2.FrameWindowUpdate, HasWindow: true, Window: 1000},
		{Type: http2.FramePriority, HasWeight: true, Weight: 7},
		{Type: http2.FrameRSTStream, HasErrCode: true, ErrCode: uint32(http2.ErrCodeCancel)},
		{Type: http2.FrameGoAway, HasErrCode: true, ErrCode: uint32(http2.ErrCodeInternal)},
	}, r.frames)
	assert.NotContains(t, r.rawOK, false)
}

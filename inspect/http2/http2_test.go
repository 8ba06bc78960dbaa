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

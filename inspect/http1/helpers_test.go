package http1

import (
	"math/rand/v2"
	"sort"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// step is one chunk of a conversation, in one direction.
type step struct {
	dir  inspect.Direction
	data string
}

func cs(s string) step { return step{inspect.ToServer, s} }
func sc(s string) step { return step{inspect.ToClient, s} }

// snap is a copy of an emitted Unit (emitted buffers alias the parser).
type snap struct {
	dir   inspect.Direction
	tx    uint64
	bufs  map[string]string
	event *inspect.HTTPTx
	anoms []string
	// events are the app-layer-event instances the Unit carried.
	events []string
}

type recorder struct {
	units []snap
	files []inspect.FileInfo
}

func (r *recorder) emit(u *applayer.Unit) {
	s := snap{dir: u.Dir, tx: u.TxID, bufs: map[string]string{}}
	for b := applayer.Buffer(1); b < applayer.NumBuffers; b++ {
		if u.Buffers[b] != nil {
			s.bufs[b.String()] = string(u.Buffers[b])
		}
		if b == applayer.FileName && len(u.Multi[b]) > 0 {
			// One file per message outside multipart bodies.
			s.bufs[b.String()] = string(u.Multi[b][0])
		}
	}
	if u.Event != nil && u.Event.HTTP != nil {
		ev := *u.Event.HTTP
		s.event = &ev
	}
	if u.Event != nil && u.Event.File != nil {
		f := *u.Event.File
		r.files = append(r.files, f)
	}
	for _, a := range u.Anomalies {
		s.anoms = append(s.anoms, a.Event)
	}
	for _, e := range u.Multi[applayer.AppLayerEvent] {
		s.events = append(s.events, string(e))
	}
	r.units = append(r.units, s)
}

// key identifies the last view of a transaction from one direction.
type key struct {
	dir inspect.Direction
	tx  uint64
}

// final is the last buffers seen per transaction and direction.
func (r *recorder) final() map[key]map[string]string {
	out := map[key]map[string]string{}
	for _, u := range r.units {
		out[key{u.dir, u.tx}] = u.bufs
	}
	return out
}

func (r *recorder) events() []inspect.HTTPTx {
	var out []inspect.HTTPTx
	for _, u := range r.units {
		if u.event != nil {
			out = append(out, *u.event)
		}
	}
	return out
}

func (r *recorder) anomalies() []string {
	var out []string
	for _, u := range r.units {
		out = append(out, u.anoms...)
	}
	sort.Strings(out)
	return out
}

// run feeds a conversation in one chunk per step and closes the flow.
func run(steps []step, opts ...Option) *recorder {
	return runSplit(steps, nil, opts...)
}

// runSplit feeds each step cut into pieces by split (nil: whole).
func runSplit(steps []step, split func([]byte) [][]byte, opts ...Option) *recorder {
	r := &recorder{}
	p := New(opts...)
	for _, s := range steps {
		data := []byte(s.data)
		if split == nil {
			p.Feed(s.dir, data, r.emit)
			continue
		}
		for _, piece := range split(data) {
			p.Feed(s.dir, piece, r.emit)
		}
	}
	p.Close(r.emit)
	return r
}

func byteAtATime(b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i := range b {
		out[i] = b[i : i+1]
	}
	return out
}

func randomSplit(rng *rand.Rand) func([]byte) [][]byte {
	return func(b []byte) [][]byte {
		var out [][]byte
		for len(b) > 0 {
			n := 1 + rng.IntN(min(len(b), 40))
			out = append(out, b[:n])
			b = b[n:]
		}
		return out
	}
}

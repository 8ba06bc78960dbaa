//go:build hyperscan

package prefilter

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/flier/gohs/hyperscan"
)

const hyperscanBuilt = true

// NewHyperscan compiles the patterns into a Hyperscan stream database.
//
// Each distinct literal becomes one expression with every byte escaped as
// \xHH (gohs exposes hs_compile_lit only behind its own hyperscan_v52 tag),
// HS_FLAG_CASELESS for nocase. Hyperscan then reports each literal once per
// end offset; the IDs of all patterns sharing the literal are fanned out
// here, so the result equals the other engines' even for duplicates.
func NewHyperscan(patterns []Pattern) (Matcher, error) {
	lits, err := dedupe(patterns)
	if err != nil {
		return nil, err
	}
	hp := make([]*hyperscan.Pattern, len(lits))
	var sb strings.Builder
	for i, l := range lits {
		sb.Reset()
		for _, b := range l.data {
			fmt.Fprintf(&sb, "\\x%02x", b)
		}
		var flags hyperscan.CompileFlag
		if l.nocase {
			flags = hyperscan.Caseless
		}
		hp[i] = hyperscan.NewPattern(sb.String(), flags)
		hp[i].Id = i
	}
	db, err := hyperscan.NewStreamDatabase(hp...)
	if err != nil {
		return nil, fmt.Errorf("prefilter: hyperscan compile of %d literals: %w", len(lits), err)
	}
	proto, err := hyperscan.NewScratch(db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("prefilter: hyperscan scratch: %w", err)
	}
	m := &hsMatcher{db: db, proto: proto, npat: len(patterns)}
	m.litOff = make([]uint32, len(lits)+1)
	for i, l := range lits {
		m.litOff[i] = uint32(len(m.litIDs))
		m.litIDs = append(m.litIDs, l.ids...)
	}
	m.litOff[len(lits)] = uint32(len(m.litIDs))
	// Matcher has no Close: free the C side once no stream can use it
	// (every stream references its matcher).
	runtime.AddCleanup(m, func(r hsResources) {
		r.proto.Free()
		r.db.Close()
	}, hsResources{db, proto})
	return m, nil
}

type hsResources struct {
	db    hyperscan.StreamDatabase
	proto *hyperscan.Scratch
}

type hsMatcher struct {
	db     hyperscan.StreamDatabase
	mu     sync.Mutex // hs_clone_scratch reads the prototype
	proto  *hyperscan.Scratch
	litOff []uint32
	litIDs []uint32
	npat   int
}

// NewStream opens a Hyperscan stream with its own scratch: gohs binds a
// scratch to a stream at open, and a scratch must not be used by two scans
// at once, so a per-stream scratch is what makes concurrent streams safe.
// On failure (out of C memory) the stream reports no matches and Err says
// why.
func (m *hsMatcher) NewStream() Stream {
	s := &hsStream{m: m}
	s.handler = s.onMatch
	m.mu.Lock()
	sc, err := m.proto.Clone()
	m.mu.Unlock()
	if err != nil {
		s.err = fmt.Errorf("prefilter: hyperscan clone scratch: %w", err)
		return s
	}
	st, err := m.db.Open(0, sc, s.handler, nil)
	if err != nil {
		sc.Free()
		s.err = fmt.Errorf("prefilter: hyperscan open stream: %w", err)
		return s
	}
	s.sc, s.hs = sc, st
	return s
}

func (m *hsMatcher) Patterns() int { return m.npat }
func (m *hsMatcher) Name() string  { return "hyperscan" }

// Size reports the database size plus one stream's state and scratch.
func (m *hsMatcher) Size() int {
	n, _ := m.db.Size()
	ss, _ := m.db.StreamSize()
	sc, _ := m.proto.Size()
	return n + ss + sc + 4*(len(m.litOff)+len(m.litIDs))
}

type hsMatch struct {
	end uint64
	lit uint32
}

type hsStream struct {
	m       *hsMatcher
	hs      hyperscan.Stream
	sc      *hyperscan.Scratch
	handler hyperscan.MatchHandler
	buf     []hsMatch // matches of the current Scan, reused
	off     uint64
	err     error
}

// Err returns the first error Hyperscan reported on this stream; after one,
// matches may be missing.
func (s *hsStream) Err() error { return s.err }

func (s *hsStream) onMatch(id uint, _, to uint64, _ uint, _ any) error {
	s.buf = append(s.buf, hsMatch{end: to, lit: uint32(id)})
	return nil
}

func (s *hsStream) Scan(data []byte, fn MatchFunc) {
	if s.hs == nil || len(data) == 0 {
		s.off += uint64(len(data))
		return
	}
	s.buf = s.buf[:0]
	if err := s.hs.Scan(data); err != nil && s.err == nil {
		s.err = fmt.Errorf("prefilter: hyperscan scan at offset %d: %w", s.off, err)
	}
	s.off += uint64(len(data))
	// Hyperscan delivers literal matches roughly by end offset but does
	// not promise order or uniqueness across its engines: normalise.
	slices.SortFunc(s.buf, func(a, b hsMatch) int {
		if a.end != b.end {
			if a.end < b.end {
				return -1
			}
			return 1
		}
		return int(a.lit) - int(b.lit)
	})
	s.buf = slices.Compact(s.buf)
	for _, x := range s.buf {
		for _, id := range s.m.litIDs[s.m.litOff[x.lit]:s.m.litOff[x.lit+1]] {
			if !fn(id, x.end) {
				return
			}
		}
	}
}

func (s *hsStream) Offset() uint64 { return s.off }

func (s *hsStream) Reset() {
	s.off = 0
	if s.hs != nil {
		if err := s.hs.Reset(); err != nil && s.err == nil {
			s.err = fmt.Errorf("prefilter: hyperscan reset: %w", err)
		}
	}
	s.buf = s.buf[:0]
}

func (s *hsStream) Close() {
	if s.hs == nil {
		return
	}
	_ = s.hs.Close()
	s.sc.Free()
	s.hs, s.sc = nil, nil
	s.buf = nil
}

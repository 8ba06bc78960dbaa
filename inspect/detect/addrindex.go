package detect

import (
	"net/netip"
	"slices"
	"sort"

	"github.com/interdict/interdict/inspect/rules"
)

// Most always-evaluated rules in ET Open (1,179 of 1,193 per TCP
// direction) are IP reputation rules: no content, one side a list of
// addresses. Checking each against a new flow cost ~40 us per direction
// (BenchmarkShortFlowETOpen), so a group indexes them by address: a flow
// looks up its two addresses and checks only the rules listing them,
// plus the few others.

// addrIndex maps an address to the rules whose list contains it, as
// elementary intervals: ids[i] holds the rules covering [pts[i],
// pts[i+1]).
type addrIndex struct {
	pts []netip.Addr
	ids [][]uint32
}

type addrEntry struct {
	r  rules.AddrRange
	id uint32
}

// maxIndexFanout bounds the index size per range; wide ranges over many
// narrow ones would otherwise copy an id into every interval they span.
const maxIndexFanout = 8

// buildAddrIndex indexes entries, or returns false when the index would
// be too large.
func buildAddrIndex(es []addrEntry) (*addrIndex, bool) {
	if len(es) == 0 {
		return nil, true
	}
	var pts []netip.Addr
	end := func(r rules.AddrRange) (netip.Addr, bool) {
		n := r.Hi.Next()
		if !n.IsValid() {
			if r.Hi.Is4() {
				// Every IPv6 address sorts after every IPv4 one.
				return netip.IPv6Unspecified(), true
			}
			return netip.Addr{}, false
		}
		return n, true
	}
	for _, e := range es {
		pts = append(pts, e.r.Lo)
		if n, ok := end(e.r); ok {
			pts = append(pts, n)
		}
	}
	slices.SortFunc(pts, netip.Addr.Compare)
	pts = slices.Compact(pts)
	ix := &addrIndex{pts: pts, ids: make([][]uint32, len(pts))}
	total := 0
	for _, e := range es {
		i, _ := slices.BinarySearchFunc(pts, e.r.Lo, netip.Addr.Compare)
		j := len(pts)
		if n, ok := end(e.r); ok {
			j, _ = slices.BinarySearchFunc(pts, n, netip.Addr.Compare)
		}
		total += j - i
		if total > maxIndexFanout*len(es)+1024 {
			return nil, false
		}
		for k := i; k < j; k++ {
			ix.ids[k] = append(ix.ids[k], e.id)
		}
	}
	for k := range ix.ids {
		ix.ids[k] = slices.Clip(ix.ids[k])
	}
	return ix, true
}

// lookup returns the rules whose list contains ip.
func (ix *addrIndex) lookup(ip netip.Addr) []uint32 {
	if ix == nil {
		return nil
	}
	i := sort.Search(len(ix.pts), func(i int) bool { return ix.pts[i].Compare(ip) > 0 })
	if i == 0 {
		return nil
	}
	return ix.ids[i-1]
}

// alwaysIndex splits a group's always-evaluated rules: those with an
// address list on one side are found through bySrc or byDst, which the
// raw groups share (one build instead of four: the same reputation rules
// are in each transport and direction), and filtered by member; the rest
// are checked one by one.
type alwaysIndex struct {
	bySrc, byDst *addrIndex
	member       []uint64 // bit per rule of the group's always
	rest         []uint32
}

func (ai *alwaysIndex) has(id uint32) bool { return ai.member[id/64]&(1<<(id%64)) != 0 }

// listedSide returns the ranges a rule is indexed by and whether they are
// its source's (else its destination's); ok is false for rules checked
// one by one.
func listedSide(r *rules.Rule) (rs []rules.AddrRange, src, ok bool) {
	if r.Bidirectional {
		return nil, false, false
	}
	if rs, ok := r.Dst.Ranges(); ok {
		return rs, false, true
	}
	if rs, ok := r.Src.Ranges(); ok {
		return rs, true, true
	}
	return nil, false, false
}

// indexAlways builds the address index of the raw groups gs.
func (e *Engine) indexAlways(gs []*group) {
	var src, dst []addrEntry
	seen := make([]uint64, (len(e.rules)+63)/64)
	for _, g := range gs {
		for _, id := range g.always {
			if seen[id/64]&(1<<(id%64)) != 0 {
				continue
			}
			seen[id/64] |= 1 << (id % 64)
			rs, isSrc, ok := listedSide(e.rules[id].r)
			if !ok {
				continue
			}
			for _, x := range rs {
				if isSrc {
					src = append(src, addrEntry{x, id})
				} else {
					dst = append(dst, addrEntry{x, id})
				}
			}
		}
	}
	bySrc, ok1 := buildAddrIndex(src)
	byDst, ok2 := buildAddrIndex(dst)
	if !ok1 || !ok2 {
		return // g.ai stays nil: every rule is checked
	}
	for _, g := range gs {
		ai := &alwaysIndex{bySrc: bySrc, byDst: byDst, member: make([]uint64, len(seen))}
		for _, id := range g.always {
			ai.member[id/64] |= 1 << (id % 64)
			if _, _, ok := listedSide(e.rules[id].r); !ok {
				ai.rest = append(ai.rest, id)
			}
		}
		g.ai = ai
	}
}

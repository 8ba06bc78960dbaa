package rules

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"sync"
)

// The rule cache remembers, per process, what each rule text loaded to,
// so a reload of mostly unchanged files skips gonids (serial, and most of
// a cold load's time) for the rules it has seen. The key is a SHA-256 of
// the load options and the exact rule text; the value is the converted
// rule or the rejection, copied out with the new file and line on a hit.
// Rules are never modified after loading, so a hit shares its lists and
// address sets with the earlier load.
//
// Bound: an entry not used by the current or the previous load is
// forgotten when a load ends, and at most maxCacheEntries are held, so
// the cache holds at most two loads' rules (the running engine usually
// holds the same ones).
const maxCacheEntries = 1 << 18

type cacheKey [sha256.Size]byte

type cacheEntry struct {
	rule *Rule
	err  *Error
	gen  uint64 // the last load that used it
}

var ruleCache struct {
	sync.Mutex
	m   map[cacheKey]*cacheEntry
	gen uint64
	// hits and misses count lookups, for tests.
	hits, misses int
}

// ResetCache forgets every cached rule: the next load parses all rules
// again (a cold load).
func ResetCache() {
	ruleCache.Lock()
	defer ruleCache.Unlock()
	ruleCache.m = nil
	ruleCache.hits, ruleCache.misses = 0, 0
}

// cacheBegin starts a load generation (called at the outermost load).
func cacheBegin() {
	ruleCache.Lock()
	defer ruleCache.Unlock()
	ruleCache.gen++
}

// cacheEnd forgets entries the last two loads did not use.
func cacheEnd() {
	ruleCache.Lock()
	defer ruleCache.Unlock()
	for k, e := range ruleCache.m {
		if e.gen+1 < ruleCache.gen {
			delete(ruleCache.m, k)
		}
	}
}

// optionsPrint identifies the options that change what a text converts
// to: variables and classifications.
func optionsPrint(o *Options) []byte {
	var b []byte
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	if o == nil {
		return b
	}
	for _, k := range slices.Sorted(mapKeys(o.Vars)) {
		str("v")
		str(k)
		str(o.Vars[k])
	}
	for _, k := range slices.Sorted(mapKeys(o.Classification)) {
		c := o.Classification[k]
		str("c")
		str(k)
		str(c.Name)
		str(c.Description)
		b = binary.AppendVarint(b, int64(c.Priority))
	}
	if o.Classification != nil {
		// An empty but set classification still rejects unknown classtypes.
		str("C")
	}
	return b
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func cacheKeyOf(print []byte, text string) cacheKey {
	h := sha256.New()
	h.Write(binary.AppendUvarint(nil, uint64(len(print))))
	h.Write(print)
	h.Write([]byte(text))
	var k cacheKey
	h.Sum(k[:0])
	return k
}

// cacheGet returns the cached outcome of a text, as loaded at file:line.
func cacheGet(k cacheKey, file string, line int) (*Rule, *Error, bool) {
	ruleCache.Lock()
	e := ruleCache.m[k]
	if e == nil {
		ruleCache.misses++
		ruleCache.Unlock()
		return nil, nil, false
	}
	ruleCache.hits++
	e.gen = ruleCache.gen
	ruleCache.Unlock()
	if e.err != nil {
		ce := *e.err
		ce.File, ce.Line = file, line
		return nil, &ce, true
	}
	r := *e.rule
	info := *r.Info
	info.File, info.Line = file, line
	r.Info = &info
	return &r, nil, true
}

func cachePut(k cacheKey, r *Rule, err *Error) {
	ruleCache.Lock()
	defer ruleCache.Unlock()
	if ruleCache.m == nil {
		ruleCache.m = map[cacheKey]*cacheEntry{}
	}
	if len(ruleCache.m) >= maxCacheEntries {
		return
	}
	ruleCache.m[k] = &cacheEntry{rule: r, err: err, gen: ruleCache.gen}
}

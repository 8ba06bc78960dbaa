package rules

import (
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// loadGCPercent is the GOGC used while rules load. gonids' lexer
// allocates a 96 KiB channel buffer per rule (2.8 GB for ET Open) that is
// garbage a moment later; at GOGC=100 over a live heap of 20-75 MB that
// meant ~110 collections per load, and GC marking and assists were more
// than half the load time (BenchmarkETOpenLoadCompile, -cpu 1: 2.4-4.0 s
// at 100, 1.2-1.4 s at 400; 800 was no better, and GOGC=off with a
// memory limit was slower: fresh pages cost more than recycled ones).
//
// The trade: during a load the heap may grow to 5x the live heap instead
// of 2x (with ET Open and an old engine live during a reload, a few
// hundred MB more for about a second). GOMEMLIMIT still applies, so an
// operator who set one keeps that bound.
const loadGCPercent = 400

var loadGC struct {
	sync.Mutex
	depth int
	saved int
}

// beginLoad raises GOGC for the duration of a load and starts a rule
// cache generation; call the returned function when done. Concurrent and
// nested loads share one raise, and the setting found at the outermost
// call is restored. A GOGC that is off or already higher is left alone.
func beginLoad() (end func()) {
	loadGC.Lock()
	defer loadGC.Unlock()
	if loadGC.depth == 0 {
		cacheBegin()
		// Read without setting: SetGCPercent(-1) would wait for a
		// running mark phase.
		s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
		metrics.Read(s)
		loadGC.saved = -1
		if s[0].Value.Kind() == metrics.KindUint64 {
			loadGC.saved = int(s[0].Value.Uint64())
		}
		if loadGC.saved > 0 && loadGC.saved < loadGCPercent {
			debug.SetGCPercent(loadGCPercent)
		}
	}
	loadGC.depth++
	return func() {
		loadGC.Lock()
		defer loadGC.Unlock()
		loadGC.depth--
		if loadGC.depth > 0 {
			return
		}
		cacheEnd()
		if loadGC.saved > 0 && loadGC.saved < loadGCPercent {
			debug.SetGCPercent(loadGC.saved)
		}
	}
}

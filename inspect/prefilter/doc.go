// Package prefilter finds candidate rules fast: it scans a byte stream for
// many literal patterns at once and reports every occurrence with its end
// offset, carrying state across chunks.
//
// Engines sit behind the Matcher interface: naive (a slow reference used by
// tests), ac (in-house Aho-Corasick DFA), fdr (in-house bucketed shift-or
// filter with hashed confirmation, after Hyperscan's FDR), both pure Go and
// always built, and hyperscan (github.com/flier/gohs, build tag
// "hyperscan"). All engines must report exactly the same set of (ID, End)
// matches for the same input, however the input is chunked; differential
// tests and FuzzEngines hold them to it.
//
// Default (and Lookup("auto")) is fdr. Measured with BenchmarkScan and
// BenchmarkBuild (-cpu 1, 4 MiB of HTTP-like traffic in 16-64 KiB chunks,
// the fast patterns detect compiles for ET Open), in one run each:
//
//	cpuMB/s             ac     fdr    hyperscan
//	http.uri (6.5k)     406    527    332   (106k real matches: "/?", "=x")
//	stream (2k)         356    988   1373
//	all groups (34.7k)   55    132     59
//	all contents (80k)   15     15      5   (76M matches: delivery bound)
//	build, 42 groups   0.54 s  0.03 s  0.54 s
//	size,  42 groups   180 MiB  23 MiB  5.5 MiB
//
// ac spends each byte waiting on a dependent load into a table far bigger
// than cache; fdr's per-byte loads are independent of each other (the
// state is shifted and ORed, never used as an index), so its 512 KiB
// table costs little, and its build is a few passes over the literals
// instead of a product automaton. Its per-stream state is 25 bytes plus
// the last (longest pattern - 1) bytes, kept to confirm matches that
// straddle chunks. ac stays for comparison and as a fallback.
//
// prefilter imports nothing of ours.
package prefilter

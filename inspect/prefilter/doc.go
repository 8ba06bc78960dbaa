// Package prefilter finds candidate rules fast: it scans a byte stream for
// many literal patterns at once and reports every occurrence with its end
// offset, carrying state across chunks.
//
// Engines sit behind the Matcher interface: naive (a slow reference used by
// tests), ac (in-house Aho-Corasick in pure Go, always built) and hyperscan
// (github.com/flier/gohs, build tag "hyperscan"). All engines must report
// exactly the same set of (ID, End) matches for the same input, however the
// input is chunked; a differential test holds them to it.
//
// prefilter imports nothing of ours.
package prefilter

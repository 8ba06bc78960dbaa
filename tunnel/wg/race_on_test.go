//go:build race

package wg

// raceEnabled: the race detector makes sync.Pool drop items at random,
// so pooled buffers allocate and allocation counts mean nothing.
const raceEnabled = true

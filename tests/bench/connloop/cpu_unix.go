//go:build unix

package main

import "syscall"

// cpuPerConn is the process's CPU time so far per connection, in us: the
// client's share of what a connection costs the machine.
func cpuPerConn(n int64) float64 {
	var ru syscall.Rusage
	if n == 0 || syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e3 / float64(n)
}

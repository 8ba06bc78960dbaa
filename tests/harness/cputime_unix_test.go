//go:build !windows

package harness

import (
	"syscall"
	"time"
)

// cpuTime is the process's user+system CPU time, so benchmarks on a
// shared machine can report bytes per CPU second next to wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

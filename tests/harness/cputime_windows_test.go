package harness

import "time"

// cpuTime is not measured on Windows; the cpuMB/s figures read 0 there.
func cpuTime() time.Duration { return 0 }

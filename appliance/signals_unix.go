//go:build !windows

package appliance

import (
	"os"
	"syscall"
)

// Control signals: SIGHUP reopens the EVE file (logrotate), SIGUSR2
// reloads the rules.
var (
	reopenSignal os.Signal = syscall.SIGHUP
	reloadSignal os.Signal = syscall.SIGUSR2
	ctlSignals             = []os.Signal{syscall.SIGHUP, syscall.SIGUSR2}
)

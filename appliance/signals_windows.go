package appliance

import "os"

// Windows has no SIGHUP or SIGUSR2: reload and EVE reopen go through the
// admin API (`interdict ctl reload`) there. The nil signals never match.
var (
	reopenSignal os.Signal
	reloadSignal os.Signal
	ctlSignals   []os.Signal
)

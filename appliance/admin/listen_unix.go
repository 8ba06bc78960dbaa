//go:build unix

package admin

import (
	"net"
	"sync"
	"syscall"
)

// umaskMu serialises the umask change: it is process-wide.
var umaskMu sync.Mutex

func listenUnixPrivate(path string) (net.Listener, error) {
	umaskMu.Lock()
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	umaskMu.Unlock()
	return ln, err
}

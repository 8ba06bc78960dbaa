package appliance

import (
	"os"
	"path/filepath"

	"github.com/interdict/interdict/appliance/state"
)

// The root defaults (DefaultEVEPath, DefaultAdminSocket) are where a
// packaged appliance keeps its events and socket; a person who runs the
// hub as themselves cannot write there, so the defaults fall back to
// places they can: $XDG_RUNTIME_DIR for the socket (it is per user, 0700,
// and cleaned at logout), the state directory otherwise.

// DefaultAdminSocketPath is the admin socket used when the config does
// not name one, and the one `interdict ctl` and `interdict peer` try
// first: DefaultAdminSocket if it exists or this user may create it,
// else $XDG_RUNTIME_DIR/interdict/admin.sock, else admin.sock in the
// default state directory.
func DefaultAdminSocketPath() string {
	if _, err := os.Stat(DefaultAdminSocket); err == nil || writable(filepath.Dir(DefaultAdminSocket)) {
		return DefaultAdminSocket
	}
	if x := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(x) && writable(x) {
		return filepath.Join(x, "interdict", "admin.sock")
	}
	return filepath.Join(state.DefaultDir(), "admin.sock")
}

// defaultEVEPath is DefaultEVEPath if this user may write there, else
// eve.json in the state directory.
func defaultEVEPath(stateDir string) string {
	if writable(filepath.Dir(DefaultEVEPath)) {
		return DefaultEVEPath
	}
	return filepath.Join(stateDir, "eve.json")
}

// writable reports whether this user may create files in dir, or, when
// dir does not exist yet, create it in its nearest existing ancestor.
// It changes nothing on disk: `config check` must not.
func writable(dir string) bool {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			return canWrite(d)
		}
		if d == filepath.Dir(d) {
			return false
		}
	}
}

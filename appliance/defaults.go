package appliance

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

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

// makeStateDir creates the state directory (0700) when this run uses it:
// for the hub's key and peers, or because EVE or the admin socket fell
// back into it. Created later by the EVE file or the socket it would get
// their 0750.
func makeStateDir(s *Settings) error {
	inside := func(p string) bool {
		return p != "" && strings.HasPrefix(filepath.Clean(p), filepath.Clean(s.StateDir)+string(filepath.Separator))
	}
	if s.StateDir == "" || (s.LinkMode != "wireguard" && !inside(s.EVEPath) && !inside(s.AdminSocket)) {
		return nil
	}
	if err := os.MkdirAll(s.StateDir, 0o700); err != nil {
		return fmt.Errorf("state: %w (set state_dir to a directory this user can write)", err)
	}
	return nil
}

package state

import (
	"os"
	"path/filepath"
)

// RootDir is the state directory of an appliance run as root (systemd's
// StateDirectory=interdict).
const RootDir = "/var/lib/interdict"

// DefaultDir is where the state lives when the config does not say:
// RootDir as root, else $XDG_STATE_HOME/interdict, else
// ~/.local/state/interdict (the XDG base directory default).
func DefaultDir() string {
	if os.Geteuid() == 0 {
		return RootDir
	}
	if x := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "interdict")
	}
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		return filepath.Join(home, ".local", "state", "interdict")
	}
	return filepath.Join(os.TempDir(), "interdict-"+uidString())
}

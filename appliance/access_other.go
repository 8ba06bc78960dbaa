//go:build !unix

package appliance

import "os"

// canWrite tries: elsewhere permissions do not map onto a mode check.
func canWrite(dir string) bool {
	f, err := os.CreateTemp(dir, ".interdict-probe-*")
	if err != nil {
		return false
	}
	name := f.Name()
	f.Close()
	return os.Remove(name) == nil
}

//go:build unix

package appliance

import "golang.org/x/sys/unix"

// canWrite asks the kernel, so root, ACLs and read-only mounts are
// answered as a write would be.
func canWrite(dir string) bool { return unix.Access(dir, unix.W_OK) == nil }

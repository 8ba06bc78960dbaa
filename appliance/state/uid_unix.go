//go:build !windows

package state

import (
	"os"
	"strconv"
)

func uidString() string { return strconv.Itoa(os.Getuid()) }

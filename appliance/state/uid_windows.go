package state

import "os"

func uidString() string { return os.Getenv("USERNAME") }

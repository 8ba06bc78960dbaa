// Command interdict is the interdict appliance: a userspace IPS that
// terminates every flow in a gVisor netstack, inspects both byte streams
// with Suricata rules and forwards only what was inspected.
package main

import (
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := newApp().Run(namesLast(os.Args, map[string]bool{"qr": true, "h": true, "help": true})); err != nil {
		fmt.Fprintln(os.Stderr, "interdict:", err)
		os.Exit(1)
	}
}

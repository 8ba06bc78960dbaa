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
	if err := run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "interdict:", err)
		os.Exit(1)
	}
}

// run runs the command line as a user types it: flags may follow a
// command's arguments (see flagsFirst).
func run(args []string) error {
	app := newApp()
	return app.Run(flagsFirst(app.Commands, args))
}

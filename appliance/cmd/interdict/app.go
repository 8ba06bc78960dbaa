package main

import (
	"fmt"
	"runtime"

	"github.com/urfave/cli/v2"
)

func newApp() *cli.App {
	return &cli.App{
		Name:  "interdict",
		Usage: "userspace intrusion prevention for machine traffic",
		Commands: []*cli.Command{
			rulesCommand(),
			replayCommand(),
			{
				Name:  "version",
				Usage: "print the version and build information",
				Action: func(c *cli.Context) error {
					fmt.Fprintf(c.App.Writer, "interdict %s %s %s/%s\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
					return nil
				},
			},
		},
	}
}

package main

import (
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"

	"github.com/interdict/interdict/appliance"
	"github.com/interdict/interdict/inspect/prefilter"
	"github.com/urfave/cli/v2"
)

// commands lists the subcommands. Each lives in its own constructor so
// other files (rules.go, replay.go) add theirs with one line here.
func commands() []*cli.Command {
	return []*cli.Command{
		runCommand(),
		configCommand(),
		rulesCommand(),
		replayCommand(),
		ctlCommand(),
		peerCommand(),
		demoCommand(),
		keygenCommand(),
		pubkeyCommand(),
		policyCommand(),
		versionCommand(),
	}
}

func newApp() *cli.App {
	cmds := commands()
	for _, c := range cmds {
		if len(c.Subcommands) > 0 && c.Action == nil {
			c.Action = unknownCommand(c.Subcommands)
		}
		if len(c.Flags) > 0 {
			for _, sub := range c.Subcommands {
				sub.OnUsageError = parentFlagHint(c)
			}
		}
	}
	return &cli.App{
		Name:  "interdict",
		Usage: "userspace intrusion prevention for machine traffic",
		Description: "interdict terminates every flow that crosses it in a userspace TCP/IP stack, " +
			"inspects each direction's bytes and forwards only what was inspected.",
		Commands:        cmds,
		HideHelpCommand: true,
		Action:          unknownCommand(cmds),
		// --version and -v answer as `interdict version` does: it is the
		// first thing many try.
		Version: version,
	}
}

func init() {
	cli.VersionPrinter = func(c *cli.Context) { printVersion(c.App.Writer) }
}

// printVersion names the prefilter engines compiled in: whether a binary
// can run rules.prefilter: hyperscan is decided at build time (-tags
// hyperscan), and the two container images differ in exactly that.
func printVersion(w io.Writer) {
	engines := slices.Sorted(maps.Keys(prefilter.Builders()))
	fmt.Fprintf(w, "interdict %s %s %s/%s prefilter engines: %s\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH,
		strings.Join(engines, ", "))
}

// unknownCommand is the action of a command line that names no known
// (sub)command: without arguments it shows the help, with one it says
// that the command is unknown and lists the valid ones (urfave/cli's own
// answer, "No help topic for 'X'", exits 3 and names none).
func unknownCommand(cmds []*cli.Command) cli.ActionFunc {
	return func(c *cli.Context) error {
		if c.NArg() == 0 {
			return cli.ShowSubcommandHelp(c)
		}
		var names []string
		for _, cmd := range cmds {
			if !cmd.Hidden {
				names = append(names, cmd.Name)
			}
		}
		return cli.Exit(fmt.Sprintf("interdict: unknown command %q; commands: %s (see %s --help)",
			c.Args().First(), strings.Join(names, ", "), c.Command.HelpName), 2)
	}
}

// parentFlagHint answers a flag given after a subcommand that belongs to
// the command above it (`interdict ctl status --socket P`, where ctl
// takes --socket): urfave/cli alone says "flag provided but not defined".
// Other usage errors get urfave/cli's usual answer.
func parentFlagHint(parent *cli.Command) cli.OnUsageErrorFunc {
	return func(c *cli.Context, err error, _ bool) error {
		if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok {
			name = strings.TrimPrefix(name, "-")
			for _, f := range parent.Flags {
				if slices.Contains(f.Names(), name) {
					return cli.Exit(fmt.Sprintf("interdict: --%s is an option of `interdict %s`: give it before the command, as in `interdict %s --%s ... %s`",
						name, parent.Name, parent.Name, name, c.Command.Name), 2)
				}
			}
		}
		fmt.Fprintf(c.App.Writer, "Incorrect Usage: %s\n\n", err)
		_ = cli.ShowSubcommandHelp(c)
		return err
	}
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version and build information",
		Action: func(c *cli.Context) error {
			printVersion(c.App.Writer)
			return nil
		},
	}
}

func configFlag() *cli.StringFlag {
	return &cli.StringFlag{
		Name:    "config",
		Aliases: []string{"c"},
		Usage:   "YAML config `FILE`; without it the embedded default (configs/default.yaml) is used",
		EnvVars: []string{"INTERDICT_CONFIG"},
	}
}

func runCommand() *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: "run the appliance until SIGINT or SIGTERM",
		Description: "By default a WireGuard hub on UDP 51820, with no privileges: every peer is an identity,\n" +
			"every flow it sends is terminated, inspected and re-originated from host sockets. With\n" +
			"link.mode: tun it opens a TUN device instead (needs CAP_NET_ADMIN). It serves Prometheus\n" +
			"metrics and the admin API; SIGINT or SIGTERM ends every flow.",
		Flags: []cli.Flag{
			configFlag(),
			&cli.StringFlag{Name: "log-format", Usage: "log `FORMAT`, text or json (overrides log.format)"},
			&cli.StringFlag{Name: "log-level", Usage: "`LEVEL`: debug, info, warn or error (overrides log.level)"},
		},
		Action: func(c *cli.Context) error {
			s, err := appliance.LoadConfig(c.String("config"))
			if err != nil {
				return err
			}
			if f := c.String("log-format"); f != "" {
				if f != "text" && f != "json" {
					return fmt.Errorf("--log-format %q: want text or json", f)
				}
				s.LogFormat = f
			}
			if l := c.String("log-level"); l != "" {
				s.LogLevel = l
			}
			log := appliance.NewLogger(c.App.ErrWriter, s.LogFormat, s.LogLevel)
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			appliance.Version = version
			return appliance.Run(ctx, s, log)
		},
	}
}

func configCommand() *cli.Command {
	return &cli.Command{
		Name:  "config",
		Usage: "inspect configuration files",
		Subcommands: []*cli.Command{
			{
				Name:      "check",
				Usage:     "validate a config file (unknown keys and bad values are reported with file:line)",
				ArgsUsage: "[FILE]",
				Action: func(c *cli.Context) error {
					path := c.Args().First()
					if errs := appliance.CheckConfig(path); len(errs) > 0 {
						for _, err := range errs {
							fmt.Fprintln(c.App.ErrWriter, err)
						}
						return cli.Exit(fmt.Sprintf("%s: %d error(s)", path, len(errs)), 1)
					}
					if path == "" {
						path = appliance.DefaultSource
					}
					fmt.Fprintf(c.App.Writer, "%s: ok\n", path)
					return nil
				},
			},
			{
				Name:  "default",
				Usage: "print the embedded default config",
				Action: func(c *cli.Context) error {
					_, err := c.App.Writer.Write(defaultConfig())
					return err
				},
			},
		},
	}
}

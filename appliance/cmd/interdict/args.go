package main

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// flagsFirst moves the flags of the command a command line reaches in
// front of that command's arguments, so `ctl block 10.0.0.0/24 --for 10m`
// means what `ctl block --for 10m 10.0.0.0/24` does. urfave/cli v2 stops
// parsing flags at the first argument and hands the rest over as
// arguments; the docs, and users, put the name or prefix first. Flags
// before a subcommand's name stay with the command they follow; a line
// that reaches no leaf command (a typo, a group without its subcommand)
// is returned as it is, so the unknown-command answer still names the
// word. Everything after "--" stays an argument.
func flagsFirst(cmds []*cli.Command, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	var flags []cli.Flag // the flags of the command reached so far; the app's are all booleans
	i := 1
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if isFlag(a) {
			out = append(out, a)
			if takesValue(flags, a) && i+1 < len(args) {
				i++
				out = append(out, args[i])
			}
			continue
		}
		j := slices.IndexFunc(cmds, func(c *cli.Command) bool { return slices.Contains(c.Names(), a) })
		if j < 0 {
			return append(out, args[i:]...)
		}
		out = append(out, a)
		cmds, flags = cmds[j].Subcommands, cmds[j].Flags
		if len(cmds) == 0 {
			i++
			break
		}
	}
	if len(cmds) > 0 {
		return out // a group named without a subcommand, and no argument left
	}
	var rest []string
	for ; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			rest = append(rest, args[i:]...)
			i = len(args)
		case isFlag(a):
			out = append(out, a)
			if takesValue(flags, a) && i+1 < len(args) {
				i++
				out = append(out, args[i])
			}
		default:
			rest = append(rest, a)
		}
	}
	return append(out, rest...)
}

// isFlag reports whether a looks like a flag; a lone "-" (stdin) does not.
func isFlag(a string) bool { return len(a) > 1 && a[0] == '-' }

// takesValue reports whether flag a (as written: -x, --name, --name=v)
// consumes the next argument as its value. Unknown flags take none:
// urfave/cli rejects them with their name either way.
func takesValue(flags []cli.Flag, a string) bool {
	name := strings.TrimLeft(a, "-")
	if strings.Contains(name, "=") {
		return false
	}
	for _, f := range flags {
		if !slices.Contains(f.Names(), name) {
			continue
		}
		if d, ok := f.(cli.DocGenerationFlag); ok {
			return d.TakesValue()
		}
		return true
	}
	return false
}

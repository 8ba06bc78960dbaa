package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/interdict/interdict/appliance/admin"
)

// identityCommands are `ctl identities|pause|quarantine|release`.
func identityCommands(sub func(name, usage, args string, action func(*cli.Context, *admin.Client) error, extra ...cli.Flag) *cli.Command) []*cli.Command {
	tag := &cli.StringFlag{Name: "tag", Usage: "act on every identity with tag `T` instead of one IDENTITY"}
	interrupt := func(action, usage string) *cli.Command {
		return sub(action, usage, "IDENTITY | --tag T", func(c *cli.Context, cl *admin.Client) error { return ctlInterrupt(c, cl, action) },
			tag,
			&cli.StringFlag{Name: "for", Usage: "how long, a `DURATION` (e.g. 30m, 2h, 7d; default 1h)"},
			&cli.StringFlag{Name: "reason", Usage: "why, a `TEXT` shown by identities and written to EVE"})
	}
	return []*cli.Command{
		sub("identities", "identities: tags, state, remaining time, live flows, last trigger", "", ctlIdentities),
		interrupt("pause", "refuse an identity's new flows (live flows go on)"),
		interrupt("quarantine", "reset an identity's live flows and drop its packets (quarantine_allow destinations excepted)"),
		sub("release", "end an identity's pause or quarantine at once", "IDENTITY | --tag T", ctlRelease, tag),
		tokensCommand(sub),
	}
}

// target reads IDENTITY or --tag.
func target(c *cli.Context, what string) (name, tag string, err error) {
	tag = c.String("tag")
	switch {
	case tag != "" && c.NArg() == 0:
		return "", tag, nil
	case tag == "" && c.NArg() == 1:
		return c.Args().First(), "", nil
	}
	return "", "", fmt.Errorf("%s: want one IDENTITY argument or --tag T", what)
}

func ctlIdentities(c *cli.Context, cl *admin.Client) error {
	st, err := cl.Identities(c.Context)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, st)
	}
	tw := table(c.App.Writer)
	fmt.Fprintln(tw, "NAME\tTAGS\tSTATE\tREMAINING\tFLOWS\tLAST TRIGGER\tREASON")
	for _, s := range st {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s.Name, dash(strings.Join(s.Tags, ",")), s.State,
			remaining(s), s.Flows, dash(s.LastTrigger), dash(s.Reason))
	}
	return tw.Flush()
}

func remaining(s admin.IdentityState) string {
	switch {
	case s.State == "active":
		return "-"
	case s.Until == nil:
		return "until released"
	}
	return (time.Duration(s.RemainingSeconds) * time.Second).String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func ctlInterrupt(c *cli.Context, cl *admin.Client, action string) error {
	name, tag, err := target(c, action)
	if err != nil {
		return err
	}
	st, err := cl.Interrupt(c.Context, admin.InterruptRequest{Identity: name, Tag: tag, Action: action,
		Duration: c.String("for"), Reason: c.String("reason")})
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, st)
	}
	for _, s := range st {
		fmt.Fprintf(c.App.Writer, "%s %s for %s\n", s.Name, s.State, remaining(s))
	}
	return nil
}

func ctlRelease(c *cli.Context, cl *admin.Client) error {
	name, tag, err := target(c, "release")
	if err != nil {
		return err
	}
	r, err := cl.Release(c.Context, admin.ReleaseRequest{Identity: name, Tag: tag})
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, r)
	}
	if len(r.Released) == 0 {
		fmt.Fprintln(c.App.Writer, "nothing to release: no interruption in force")
		return nil
	}
	fmt.Fprintf(c.App.Writer, "released %s\n", strings.Join(r.Released, ", "))
	return nil
}

// tokensCommand is `ctl tokens` (list) and `ctl tokens unbind PREFIX`.
func tokensCommand(sub func(name, usage, args string, action func(*cli.Context, *admin.Client) error, extra ...cli.Flag) *cli.Command) *cli.Command {
	cmd := sub("tokens", "tokens bound to identities (SHA-256 prefix and first 4 characters only)", "", ctlTokens)
	cmd.Subcommands = []*cli.Command{
		sub("unbind", "remove first-use bindings by the token's SHA-256 prefix (8+ hex digits)", "SHA256-PREFIX", ctlUnbind),
	}
	return cmd
}

func ctlTokens(c *cli.Context, cl *admin.Client) error {
	tb, err := cl.Tokens(c.Context)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, tb)
	}
	tw := table(c.App.Writer)
	fmt.Fprintln(tw, "SHA256\tLEAD\tBOUND TO\tSOURCE\tFIRST SEEN")
	for _, b := range tb {
		to := b.Identity
		if b.Source == "static" {
			to = strings.Join(append(append([]string(nil), b.Identities...), tagged(b.Tags)...), ",")
		}
		seen := "-"
		if !b.FirstSeen.IsZero() {
			seen = b.FirstSeen.Local().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", b.SHA256Prefix, dash(b.Lead), dash(to), b.Source, seen)
	}
	return tw.Flush()
}

func tagged(tags []string) []string {
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = "tag:" + t
	}
	return out
}

func ctlUnbind(c *cli.Context, cl *admin.Client) error {
	if c.NArg() != 1 {
		return fmt.Errorf("unbind: want one SHA256-PREFIX argument, got %d", c.NArg())
	}
	tb, err := cl.Unbind(c.Context, c.Args().First())
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, tb)
	}
	for _, b := range tb {
		fmt.Fprintf(c.App.Writer, "unbound %s from %s\n", b.SHA256Prefix, b.Identity)
	}
	return nil
}

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/interdict/interdict/appliance"
	"github.com/interdict/interdict/appliance/admin"
)

// ctlCommand is `interdict ctl`: the admin API's command line.
func ctlCommand() *cli.Command {
	jsonFlag := &cli.BoolFlag{Name: "json", Usage: "print the API's JSON instead of a table"}
	sub := func(name, usage, args string, action func(*cli.Context, *admin.Client) error, extra ...cli.Flag) *cli.Command {
		return &cli.Command{
			Name: name, Usage: usage, ArgsUsage: args,
			Flags: append([]cli.Flag{jsonFlag}, extra...),
			Action: func(c *cli.Context) error {
				cl, err := ctlClient(c)
				if err != nil {
					return err
				}
				return ctlDialHint(c, action(c, cl))
			},
		}
	}
	cmds := []*cli.Command{
		sub("status", "version, uptime, mode, rules, flows, blocks", "", ctlStatus),
		sub("flows", "live flows", "", ctlFlows),
		sub("block", "block a source prefix (its live flows are reset)", "PREFIX", ctlBlock,
			&cli.DurationFlag{Name: "for", Value: admin.DefaultBlockDuration, Usage: "how long the block lasts, a `DURATION` (30m, 2h; at most 720h)"},
			&cli.StringFlag{Name: "reason", Usage: "why, a `TEXT` shown by blocks"}),
		sub("unblock", "remove a block", "PREFIX", ctlUnblock),
		sub("blocks", "the block list", "", ctlBlocks),
		sub("reload", "recompile the rules and swap them in (refused with file:line reasons if broken)", "", ctlReload),
		sub("rules", "rule set statistics and rejected rules", "", ctlRules),
		sub("cluster", "shared state: NATS members, bucket leaders, revisions and replica lag, pending writes", "", ctlCluster),
	}
	return &cli.Command{
		Name:  "ctl",
		Usage: "control a running appliance through its admin API",
		Description: "Speaks to the admin API on its unix socket (--socket), or over TCP (--url with a bearer\n" +
			"token from --token-file or INTERDICT_ADMIN_TOKEN). Tables by default, --json for the API's answer.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "socket", Value: appliance.DefaultAdminSocketPath(), EnvVars: []string{"INTERDICT_ADMIN_SOCKET"}, Usage: "admin unix socket `PATH`"},
			&cli.StringFlag{Name: "url", EnvVars: []string{"INTERDICT_ADMIN_URL"}, Usage: "admin TCP `URL` (http://host:port) instead of the socket"},
			&cli.StringFlag{Name: "token-file", Usage: "bearer token `FILE` for --url"},
			&cli.StringFlag{Name: "token", EnvVars: []string{"INTERDICT_ADMIN_TOKEN"}, Usage: "bearer `TOKEN` for --url (prefer the environment or --token-file: arguments are visible in ps)"},
		},
		Subcommands: append(cmds, identityCommands(sub)...),
	}
}

func ctlClient(c *cli.Context) (*admin.Client, error) {
	u := c.String("url")
	if u == "" {
		return admin.NewUnixClient(c.String("socket")), nil
	}
	tok := c.String("token")
	if f := c.String("token-file"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("token file: %w", err)
		}
		tok = strings.TrimSpace(string(b))
	}
	if tok == "" {
		return nil, errors.New("--url needs a token (--token-file or INTERDICT_ADMIN_TOKEN)")
	}
	return admin.NewTCPClient(u, tok)
}

// ctlDialHint turns "dial unix ...: connect: no such file or directory"
// into what it means: no appliance answers there, and how to point ctl at
// the one that runs.
func ctlDialHint(c *cli.Context, err error) error {
	var op *net.OpError
	if err == nil || !errors.As(err, &op) || op.Op != "dial" {
		return err
	}
	where := "socket " + c.String("socket")
	if u := c.String("url"); u != "" {
		where = u
	}
	switch {
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ECONNREFUSED):
		how := "--socket PATH (INTERDICT_ADMIN_SOCKET; the config's admin.socket)"
		if flagOwner(c, "url") != "" {
			how += " or --url http://HOST:PORT for its admin.tcp.listen"
		}
		return fmt.Errorf("no appliance answers on %s (%v): is `interdict run` running? "+
			"Point %s at it with %s", where, op.Err, flagOwner(c, "socket"), how)
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Errorf("%s: permission denied: the admin socket is mode 0600, owned by the appliance's user; "+
			"run %s as that user (or root)", where, c.Command.HelpName)
	}
	return err
}

// flagOwner is the command line ("interdict ctl") of the command, or the
// one above it, that defines the flag; "" when none does.
func flagOwner(c *cli.Context, name string) string {
	for _, ctx := range c.Lineage() {
		if ctx.Command == nil {
			continue
		}
		for _, f := range ctx.Command.Flags {
			if slices.Contains(f.Names(), name) {
				return ctx.Command.HelpName
			}
		}
	}
	return ""
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

func ctlStatus(c *cli.Context, cl *admin.Client) error {
	st, err := cl.Status(c.Context)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, st)
	}
	tw := table(c.App.Writer)
	fmt.Fprintf(tw, "version\t%s\n", st.Version)
	fmt.Fprintf(tw, "uptime\t%s\n", (time.Duration(st.UptimeSeconds) * time.Second).String())
	fmt.Fprintf(tw, "mode\t%s\n", st.Mode)
	fmt.Fprintf(tw, "handler\t%s\n", st.Handler)
	fmt.Fprintf(tw, "rules\t%d loaded, %d rejected (generation %d)\n", st.RulesLoaded, st.RulesRejected, st.RuleGeneration)
	fmt.Fprintf(tw, "flows active\t%d\n", st.FlowsActive)
	fmt.Fprintf(tw, "blocked sources\t%d\n", st.BlockedSources)
	return tw.Flush()
}

func ctlFlows(c *cli.Context, cl *admin.Client) error {
	fl, err := cl.Flows(c.Context)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, fl)
	}
	tw := table(c.App.Writer)
	fmt.Fprintln(tw, "ID\tPROTO\tSOURCE\tDESTINATION\tIDENTITY\tTO SERVER\tTO CLIENT\tVERDICT\tAGE")
	for _, f := range fl {
		id := f.Identity
		if id == "" {
			id = "-"
		} else if f.IdentityKey != "" {
			id += " (" + shortKey(f.IdentityKey) + ")"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", f.ID, f.Proto, f.Src, f.Dst, id,
			f.BytesToServer, f.BytesToClient, f.Verdict, (time.Duration(f.AgeSeconds) * time.Second).String())
	}
	return tw.Flush()
}

func oneArg(c *cli.Context, what string) (string, error) {
	if c.NArg() != 1 {
		return "", fmt.Errorf("%s: want exactly one PREFIX argument, got %d", what, c.NArg())
	}
	return c.Args().First(), nil
}

func ctlBlock(c *cli.Context, cl *admin.Client) error {
	p, err := oneArg(c, "block")
	if err != nil {
		return err
	}
	b, err := cl.Block(c.Context, admin.BlockRequest{Prefix: p, Duration: c.Duration("for").String(), Reason: c.String("reason")})
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, b)
	}
	until := "never expires" // a static entry without expiry stays in force
	if !b.Until.IsZero() {
		until = "until " + b.Until.Local().Format(time.RFC3339)
	}
	fmt.Fprintf(c.App.Writer, "blocked %s %s (%d live flows reset)\n", b.Prefix, until, b.FlowsReset)
	return nil
}

func ctlUnblock(c *cli.Context, cl *admin.Client) error {
	p, err := oneArg(c, "unblock")
	if err != nil {
		return err
	}
	if err := cl.Unblock(c.Context, p); err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, map[string]string{"unblocked": p})
	}
	fmt.Fprintf(c.App.Writer, "unblocked %s\n", p)
	return nil
}

func ctlBlocks(c *cli.Context, cl *admin.Client) error {
	bl, err := cl.Blocks(c.Context)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, bl)
	}
	tw := table(c.App.Writer)
	fmt.Fprintln(tw, "PREFIX\tEXPIRES IN\tORIGIN\tREASON")
	for _, b := range bl {
		expires := "never"
		if !b.Until.IsZero() {
			expires = time.Until(b.Until).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", b.Prefix, expires, b.Origin, b.Reason)
	}
	return tw.Flush()
}

func ctlReload(c *cli.Context, cl *admin.Client) error {
	r, err := cl.Reload(c.Context)
	if err != nil {
		var ae *admin.APIError
		if errors.As(err, &ae) && len(ae.Reasons) > 0 {
			if c.Bool("json") {
				_ = printJSON(c.App.Writer, admin.ReloadRefused{Error: ae.Message, Status: ae.Status, Reasons: ae.Reasons})
			} else {
				fmt.Fprintln(c.App.ErrWriter, "reload refused; the running rules stay:")
				for _, r := range ae.Reasons {
					fmt.Fprintf(c.App.ErrWriter, "  %s\n", r)
				}
			}
			return cli.Exit("reload refused", 1)
		}
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, r)
	}
	fmt.Fprintf(c.App.Writer, "reloaded: generation %d, %d rules loaded, %d rejected\n", r.Generation, r.Loaded, r.RejectedCount)
	return nil
}

func ctlRules(c *cli.Context, cl *admin.Client) error {
	r, err := cl.Rules(c.Context)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, r)
	}
	w := c.App.Writer
	fmt.Fprintf(w, "generation %d, loaded at %s: %d rules loaded, %d rejected\n", r.Generation, r.LoadedAt.Local().Format(time.RFC3339), r.Loaded, r.RejectedCount)
	if r.LastReload != nil {
		res := "ok"
		if r.LastReloadError != "" {
			res = r.LastReloadError
		}
		fmt.Fprintf(w, "last reload %s: %s\n", r.LastReload.Local().Format(time.RFC3339), res)
	}
	tw := table(w)
	fmt.Fprintln(tw, "FILE\tPARSED\tREJECTED")
	for _, f := range r.Files {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", f.File, f.Parsed, f.Rejected)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, e := range r.Rejected {
		fmt.Fprintf(w, "rejected: %s:%d: sid %d: %s\n", e.File, e.Line, e.SID, e.Reason)
	}
	return nil
}

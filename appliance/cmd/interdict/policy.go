package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/interdict/interdict/appliance"
	"github.com/interdict/interdict/appliance/admin"
	"github.com/interdict/interdict/appliance/identity"
	"github.com/interdict/interdict/appliance/state"
)

// policyCommand is `interdict policy suggest`: an allow list from what
// identities reached under an audit (or enforcing) policy.
func policyCommand() *cli.Command {
	return &cli.Command{
		Name:  "policy",
		Usage: "per-identity egress policies",
		Subcommands: []*cli.Command{{
			Name:  "suggest",
			Usage: "print an allow list, in the config's syntax, from what an identity (or a tag's identities) reached",
			Description: "Reads the observations the appliance keeps in its state directory for identities under a policy\n" +
				"(audit with mode: ids first). Names come from TLS SNI, HTTP Host and DNS answers the appliance\n" +
				"forwarded; at least 3 sibling names on one port collapse into a *. wildcard.",
			ArgsUsage: "IDENTITY | --tag T",
			Flags: []cli.Flag{
				configFlag(),
				&cli.StringFlag{Name: "state-dir", Usage: "state `DIR` (default: the config's state_dir)"},
				&cli.StringFlag{Name: "tag", Usage: "suggest one list for every identity with tag `T`"},
				&cli.StringFlag{Name: "since", Usage: "only what was reached in the last `D` (e.g. 24h, 7d)"},
			},
			Action: policySuggest,
		}},
	}
}

func policySuggest(c *cli.Context) error {
	name, tag, err := target(c, "suggest")
	if err != nil {
		return err
	}
	dir := c.String("state-dir")
	if dir == "" {
		s, err := appliance.LoadConfig(c.String("config"))
		if err != nil {
			return err
		}
		dir = s.StateDir
	}
	var since time.Time
	if v := c.String("since"); v != "" {
		d, err := admin.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("--since: %w", err)
		}
		since = time.Now().Add(-d)
	}
	st, err := state.Open(dir)
	if err != nil {
		return err
	}
	obs, err := identity.LoadObservations(st, name, tag)
	if err != nil {
		return err
	}
	if len(obs) == 0 {
		return fmt.Errorf("no observations for %s in %s (an identity is observed while a policy applies to it; audit with mode: ids)", name+tag, dir)
	}
	policyName := "suggested-" + name
	if tag != "" {
		policyName = "suggested-tag-" + tag
	}
	fmt.Fprint(c.App.Writer, identity.Suggest(obs, since, policyName, name, tag))
	return nil
}

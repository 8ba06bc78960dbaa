package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/interdict/interdict/appliance/admin"
)

// ctlCluster is `ctl cluster`: where the state lives and how far each
// shared bucket is replicated.
func ctlCluster(c *cli.Context, cl *admin.Client) error {
	cs, err := cl.Cluster(c.Context)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, cs)
	}
	w := c.App.Writer
	if cs.Backend != "nats" {
		fmt.Fprintln(w, "backend local: the state is in state_dir, shared with no one (cluster.backend)")
		return nil
	}
	conn := "disconnected: enforcing what is known, queueing writes"
	if cs.Connected {
		conn = "connected to " + cs.Server
	}
	fmt.Fprintf(w, "backend nats, %s, %d pending writes\nmembers: %s\n\n", conn, cs.PendingWrites, dash(strings.Join(cs.Members, " ")))
	tw := table(w)
	fmt.Fprintln(tw, "BUCKET\tREVISION\tSEEN\tKEYS\tLEADER\tREPLICAS")
	for _, b := range cs.Buckets {
		if b.Error != "" {
			fmt.Fprintf(tw, "%s\t-\t%d\t-\t-\t%s\n", b.Name, b.Seen, b.Error)
			continue
		}
		var reps []string
		for _, r := range b.Replicas {
			state := "current"
			switch {
			case r.Offline:
				state = "offline"
			case !r.Current:
				state = "behind"
			}
			reps = append(reps, fmt.Sprintf("%s (%s, lag %d)", r.Name, state, r.Lag))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\n", b.Name, b.Revision, b.Seen, b.Keys, dash(b.Leader), dash(strings.Join(reps, ", ")))
	}
	return tw.Flush()
}

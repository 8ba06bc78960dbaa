package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/interdict/interdict/inspect/detect"
	"github.com/interdict/interdict/inspect/rules"
)

// rulesCommand is `interdict rules check|stats`.
func rulesCommand() *cli.Command {
	common := []cli.Flag{
		&cli.StringFlag{Name: "classification", Usage: "classification.config (unknown classtypes then reject)"},
		&cli.StringSliceFlag{Name: "var", Usage: "address/port variable NAME=VALUE (repeatable)"},
	}
	return &cli.Command{
		Name:  "rules",
		Usage: "check and describe Suricata rule files",
		Subcommands: []*cli.Command{
			{
				Name:      "check",
				Usage:     "load rule files and report rejected rules with file:line and reason",
				ArgsUsage: "FILE...",
				Flags:     append([]cli.Flag{&cli.BoolFlag{Name: "allow-partial", Usage: "exit 0 even if some rules were rejected"}}, common...),
				Action:    rulesCheck,
			},
			{
				Name:      "stats",
				Usage:     "rules by protocol, buffer, action, keyword, and prefilter groups",
				ArgsUsage: "FILE...",
				Flags:     common,
				Action:    rulesStats,
			},
		},
	}
}

func loadRules(c *cli.Context) (*rules.Set, *detect.Engine, error) {
	if c.NArg() == 0 {
		return nil, nil, fmt.Errorf("no rule files given (usage: %s FILE...)", c.Command.HelpName)
	}
	opts := &rules.Options{Vars: map[string]string{}}
	for _, v := range c.StringSlice("var") {
		name, val, ok := strings.Cut(v, "=")
		if !ok {
			return nil, nil, fmt.Errorf("--var %q: want NAME=VALUE", v)
		}
		opts.Vars[strings.TrimPrefix(name, "$")] = val
	}
	if p := c.String("classification"); p != "" {
		f, err := os.Open(p)
		if err != nil {
			return nil, nil, err
		}
		defer f.Close()
		if opts.Classification, err = rules.LoadClassification(f, p); err != nil {
			return nil, nil, err
		}
	}
	set, err := rules.LoadFiles(c.Args().Slice(), opts)
	if err != nil {
		return nil, nil, err
	}
	eng, err := detect.New(set.Rules, detect.Options{})
	if err != nil {
		return nil, nil, err
	}
	return set, eng, nil
}

func rulesCheck(c *cli.Context) error {
	set, eng, err := loadRules(c)
	if err != nil {
		return err
	}
	w := c.App.Writer
	byFile := map[string][]*rules.Error{}
	for _, e := range set.Errors {
		byFile[e.File] = append(byFile[e.File], e)
	}
	for _, e := range eng.Rejected() {
		byFile[e.File] = append(byFile[e.File], e)
	}
	total, rejected := 0, 0
	for _, fc := range set.Files {
		errs := byFile[fc.File]
		loaded := fc.Loaded
		for _, e := range errs {
			if e.Reason != "" && containsErr(eng.Rejected(), e) {
				loaded--
			}
		}
		fmt.Fprintf(w, "%s: %d loaded, %d rejected\n", fc.File, loaded, len(errs))
		for _, e := range errs {
			fmt.Fprintf(w, "  %s\n", e)
		}
		total += fc.Loaded + fc.Rejected
		rejected += len(errs)
	}
	reasons := map[string]int{}
	for _, errs := range byFile {
		for _, e := range errs {
			reasons[e.Reason]++
		}
	}
	type rc struct {
		r string
		n int
	}
	var rcs []rc
	for r, n := range reasons {
		rcs = append(rcs, rc{r, n})
	}
	sort.Slice(rcs, func(i, j int) bool { return rcs[i].n > rcs[j].n || (rcs[i].n == rcs[j].n && rcs[i].r < rcs[j].r) })
	fmt.Fprintf(w, "\nrejected by reason:\n")
	for _, x := range rcs {
		fmt.Fprintf(w, "%7d  %s\n", x.n, x.r)
	}
	pct := 0.0
	if total > 0 {
		pct = 100 * float64(total-rejected) / float64(total)
	}
	fmt.Fprintf(w, "\ntotal: %d enabled rules, %d loaded (%.2f%%), %d rejected\n", total, total-rejected, pct, rejected)
	if rejected > 0 && !c.Bool("allow-partial") {
		return cli.Exit(fmt.Sprintf("%d rules rejected", rejected), 1)
	}
	return nil
}

func containsErr(list []*rules.Error, e *rules.Error) bool {
	for _, x := range list {
		if x == e {
			return true
		}
	}
	return false
}

func rulesStats(c *cli.Context) error {
	set, eng, err := loadRules(c)
	if err != nil {
		return err
	}
	w := c.App.Writer
	proto, buf, action, kw := map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	for _, r := range set.Rules {
		proto[r.Proto]++
		action[r.Action.String()]++
		if len(r.Lists) == 0 {
			buf["(none)"]++
		}
		for _, l := range r.Lists {
			name := l.Buffer.String()
			if name == "" {
				name = "stream/payload"
			}
			buf[name]++
		}
		for _, k := range r.Keywords {
			kw[k]++
		}
	}
	for _, t := range []struct {
		title string
		m     map[string]int
	}{{"protocol", proto}, {"buffer", buf}, {"action", action}, {"keyword", kw}} {
		fmt.Fprintf(w, "rules by %s:\n", t.title)
		printCounts(w, t.m)
	}
	fmt.Fprintf(w, "prefilter groups (%d rules compiled, %d not runnable):\n", eng.Rules(), len(eng.Rejected()))
	for _, g := range eng.Groups() {
		fmt.Fprintf(w, "  %-40s rules %6d  patterns %6d  always %4d  %s\n", g.Name, g.Rules, g.Patterns, g.Always, g.Engine)
	}
	return nil
}

func printCounts(w interface{ Write([]byte) (int, error) }, m map[string]int) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || (m[keys[i]] == m[keys[j]] && keys[i] < keys[j]) })
	for _, k := range keys {
		fmt.Fprintf(w, "  %7d  %s\n", m[k], k)
	}
}

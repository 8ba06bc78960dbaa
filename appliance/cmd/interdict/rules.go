package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/interdict/interdict/appliance"
	"github.com/interdict/interdict/inspect/rules"
	"github.com/interdict/interdict/inspect/ruleset"
)

// rulesCommand is `interdict rules check|stats`.
//
// Both load rules exactly as `run` and a reload do (ruleset.Load under the
// config's rule settings): the embedded default config unless --config
// names one, so a rule `rules check` accepts is one `run` accepts, and an
// unknown classtype is refused by both. FILE arguments replace the
// config's rule files (and the default pack) but keep its classification,
// variables and threshold config.
func rulesCommand() *cli.Command {
	common := []cli.Flag{
		configFlag(),
		&cli.StringFlag{Name: "classification", Usage: "classification.config `FILE` (overrides rules.classification; unknown classtypes reject)"},
		&cli.StringSliceFlag{Name: "var", Usage: "address/port variable `NAME=VALUE` (repeatable)"},
	}
	return &cli.Command{
		Name:  "rules",
		Usage: "check and describe Suricata rule files",
		Subcommands: []*cli.Command{
			{
				Name:      "check",
				Usage:     "load rule files as run does and report rejected rules with file:line and reason",
				ArgsUsage: "[FILE...]",
				Flags:     append([]cli.Flag{&cli.BoolFlag{Name: "allow-partial", Usage: "exit 0 even if some rules were rejected"}}, common...),
				Action:    rulesCheck,
			},
			{
				Name:      "stats",
				Usage:     "rules by protocol, buffer, action, keyword, and prefilter groups",
				ArgsUsage: "[FILE...]",
				Flags:     common,
				Action:    rulesStats,
			},
		},
	}
}

// ruleSpec is the rule set `run` would load under the same config, with
// FILE arguments in place of its rule files.
func ruleSpec(c *cli.Context) (ruleset.Spec, error) {
	s, err := appliance.LoadConfig(c.String("config"))
	if err != nil {
		return ruleset.Spec{}, err
	}
	rs := s.Rules
	vars := map[string]string{}
	for k, v := range rs.Vars {
		vars[k] = v
	}
	for _, v := range c.StringSlice("var") {
		name, val, ok := strings.Cut(v, "=")
		if !ok {
			return ruleset.Spec{}, fmt.Errorf("--var %q: want NAME=VALUE", v)
		}
		vars[strings.TrimPrefix(name, "$")] = val
	}
	rs.Vars = vars
	if p := c.String("classification"); p != "" {
		rs.Classification = p
	}
	spec := rs.Spec()
	if c.NArg() > 0 {
		spec.Rules = nil
		for _, f := range c.Args().Slice() {
			spec.Rules = append(spec.Rules, ruleset.File{Path: f})
		}
	}
	return spec, nil
}

func loadRules(c *cli.Context) (*ruleset.Result, error) {
	spec, err := ruleSpec(c)
	if err != nil {
		return nil, err
	}
	return ruleset.Load(spec)
}

func rulesCheck(c *cli.Context) error {
	res, err := loadRules(c)
	if err != nil {
		return err
	}
	w := c.App.Writer
	byFile := map[string][]*rules.Error{}
	reasons := map[string]int{}
	for _, e := range res.Rejected {
		byFile[e.File] = append(byFile[e.File], e)
		reasons[e.Reason]++
	}
	total, rejected := 0, 0
	for _, fc := range res.Files {
		errs := byFile[fc.File]
		n := fc.Loaded + fc.Rejected
		fmt.Fprintf(w, "%s: %d loaded, %d rejected\n", fc.File, n-len(errs), len(errs))
		for _, e := range errs {
			fmt.Fprintf(w, "  %s\n", e)
		}
		total += n
		rejected += len(errs)
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
	if len(rcs) > 0 { // a clean file gets no empty heading
		fmt.Fprintf(w, "\nrejected by reason:\n")
	}
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

func rulesStats(c *cli.Context) error {
	res, err := loadRules(c)
	if err != nil {
		return err
	}
	set, eng := res.Set, res.Engine
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

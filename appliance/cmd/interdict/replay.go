package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/interdict/interdict/appliance"
	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/inspect/replay"
)

// replayCommand is `interdict replay`: run a capture through the rules
// offline, as the appliance would inspect it live, and print a summary.
func replayCommand() *cli.Command {
	return &cli.Command{
		Name:      "replay",
		Usage:     "inspect a pcap or pcapng capture with Suricata rules and write EVE events",
		ArgsUsage: " ",
		Description: "Reassembles each TCP flow and feeds both directions to the detection engine in capture order,\n" +
			"UDP datagrams one by one. In ips mode a drop or reject stops the flow: later data is not inspected.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "pcap", Usage: "capture `FILE` (pcap or pcapng)", Required: true},
			&cli.StringSliceFlag{Name: "rules", Usage: "rule `FILE` (repeatable)", Required: true},
			&cli.StringFlag{Name: "classification", Usage: "classification.config `FILE`"},
			&cli.StringFlag{Name: "threshold-config", Usage: "threshold.config `FILE`"},
			&cli.StringSliceFlag{Name: "var", Usage: "address or port variable `NAME=VALUE` (repeatable), e.g. HOME_NET=[10.0.0.0/8]"},
			&cli.StringFlag{Name: "mode", Value: "ids", Usage: "`MODE`: ids (log only) or ips (enforce drop and reject)"},
			&cli.IntFlag{Name: "http-body-limit", Usage: "HTTP body `BYTES` kept for inspection per message (default: the parser's)"},
			&cli.StringFlag{Name: "action-order", Usage: "Suricata's action-order, strongest first, e.g. `drop,pass,reject,alert` (default pass,drop,reject,alert)"},
			&cli.BoolFlag{Name: "midstream", Usage: "treat flows whose handshake is not in the capture as established (default off, as Suricata's stream.midstream)"},
			&cli.BoolFlag{Name: "async-oneside", Usage: "in ids mode, inspect a TCP direction's bytes though the receiver acknowledges none (Suricata's stream.async-oneside; default off: bytes wait for their acknowledgement, or the flow's end)"},
			&cli.BoolFlag{Name: "stream-inline", Usage: "in ids mode, inspect TCP bytes as they arrive, as ips mode does (Suricata's stream.inline)"},
			&cli.StringFlag{Name: "urgent-policy", Value: "inline", Usage: "`POLICY`: how the byte a TCP urgent pointer marks is read: inline, oob (out of band, as a Linux receiver), gap or drop (ips mode: the segment is dropped); Suricata's stream.reassembly.urgent.policy. The appliance itself reads urgent data inline and forwards what it inspected"},
			&cli.StringFlag{Name: "drop-flows", Value: "all", Usage: "`WHICH` drop events for a dropped flow: all (every packet) or start (once per direction, Suricata's default for its drop output; a rule's drop is always logged)"},
			&cli.StringFlag{Name: "eve", Usage: "write EVE JSON to `FILE` (appended), or - for stdout"},
			&cli.BoolFlag{Name: "netflow", Usage: "also write two netflow events per flow at its end, one per direction (Suricata's eve-log netflow type)"},
			&cli.StringFlag{Name: "config", Usage: "config `FILE`: decide as interdict run --config FILE would: its mode (unless --mode), rule variables (--var overrides), HTTP limits and ports, body limit, stream depth and protocol policy (anomalies refused in ips mode are drop events)"},
		},
		Action: runReplay,
	}
}

func runReplay(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("replay: unexpected argument %q (use --pcap and --rules)", c.Args().First())
	}
	modeName := c.String("mode")
	var cfg *appliance.Settings
	if p := c.String("config"); p != "" {
		var err error
		if cfg, err = appliance.LoadConfig(p); err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		if !c.IsSet("mode") {
			modeName = string(cfg.Mode)
		}
	}
	mode, err := replay.ParseMode(modeName)
	if err != nil {
		return err
	}
	var dropStart bool
	switch d := c.String("drop-flows"); d {
	case "all":
	case "start":
		dropStart = true
	default:
		return fmt.Errorf("replay: --drop-flows %q: want all or start", d)
	}
	vars, err := parseVars(c.StringSlice("var"))
	if err != nil {
		return err
	}
	// Check every input before reading any, so a typo is reported as such
	// rather than as a parse error of something else.
	inputs := append([]string{c.String("pcap")}, c.StringSlice("rules")...)
	for _, name := range []string{"classification", "threshold-config"} {
		if p := c.String(name); p != "" {
			inputs = append(inputs, p)
		}
	}
	for _, p := range inputs {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("replay: %w", err)
		}
	}

	summaryOut := c.App.Writer
	var sink replay.Sink
	var ew *eve.Writer
	switch p := c.String("eve"); p {
	case "":
	case "-":
		ew = eve.NewWriter(c.App.Writer)
		sink = ew
		// stdout carries the events; the summary goes to stderr so the
		// output stays valid JSON lines.
		summaryOut = c.App.ErrWriter
	default:
		w, err := eve.OpenFile(p)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		defer w.Close()
		sink, ew = w, w
	}

	urgent, err := replay.ParseUrgentPolicy(c.String("urgent-policy"))
	if err != nil {
		return fmt.Errorf("replay: --urgent-policy: %w", err)
	}
	setup := replay.Setup{
		Pcap:            c.String("pcap"),
		Rules:           c.StringSlice("rules"),
		Classification:  c.String("classification"),
		ThresholdConfig: c.String("threshold-config"),
		Vars:            vars,
		HTTPBodyLimit:   c.Int("http-body-limit"),
		ActionOrder:     splitList(c.String("action-order")),
		Config: replay.Config{Mode: mode, Midstream: c.Bool("midstream"), AsyncOneside: c.Bool("async-oneside"), StreamInline: c.Bool("stream-inline"), DropStart: dropStart, Events: sink,
			Netflow: c.Bool("netflow"), Urgent: urgent},
	}
	if cfg != nil {
		if err := fromConfig(&setup, cfg, c.IsSet("http-body-limit")); err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		if ew != nil {
			ew.SetOptions(cfg.EVE)
		}
	}
	sum, loaded, err := setup.Run()
	printLoaded(c.App.ErrWriter, loaded)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	printSummary(summaryOut, mode, sum, loaded)
	return nil
}

// fromConfig applies what the appliance's config decides about parsing
// and protocol policy to a replay.
func fromConfig(s *replay.Setup, cfg *appliance.Settings, bodyLimitSet bool) error {
	r := cfg.Rules
	if !bodyLimitSet {
		s.HTTPBodyLimit = r.HTTPBodyLimit
	}
	s.HTTPLimits, s.HTTPPorts = r.HTTPLimits, r.HTTPPorts
	s.StreamDepth, s.StreamDepthReject = r.StreamDepth, r.StreamDepthReject
	vars := map[string]string{}
	for k, v := range r.Vars {
		vars[k] = v
	}
	for k, v := range s.Vars {
		vars[k] = v
	}
	s.Vars = vars
	act, err := cfg.Policy.AnomalyActions()
	if err != nil {
		return err
	}
	s.Config.Anomaly = act
	return nil
}

// splitList splits a comma-separated flag value; empty gives nil.
func splitList(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func parseVars(list []string) (map[string]string, error) {
	if len(list) == 0 {
		return nil, nil
	}
	vars := make(map[string]string, len(list))
	for _, v := range list {
		name, val, ok := strings.Cut(v, "=")
		name = strings.TrimPrefix(strings.TrimSpace(name), "$")
		if !ok || name == "" || val == "" {
			return nil, errors.New("replay: --var wants NAME=VALUE, got " + fmt.Sprintf("%q", v))
		}
		vars[name] = val
	}
	return vars, nil
}

// maxRejectedShown keeps a rule pack with thousands of unsupported rules
// from burying the summary.
const maxRejectedShown = 20

func printLoaded(w io.Writer, ld replay.Loaded) {
	for i, e := range ld.Rejected {
		if i == maxRejectedShown {
			fmt.Fprintf(w, "rule rejected: ... and %d more\n", len(ld.Rejected)-i)
			break
		}
		fmt.Fprintf(w, "rule rejected: %v\n", e)
	}
}

func printSummary(w io.Writer, mode replay.Mode, s replay.Summary, ld replay.Loaded) {
	fmt.Fprintf(w, "rules: %d loaded, %d rejected\n", ld.Rules, len(ld.Rejected))
	fmt.Fprintf(w, "mode: %s\n", mode)
	fmt.Fprintf(w, "packets: %d (%d bytes, %d not decoded)\n", s.Packets, s.Bytes, s.Undecoded)
	if s.Truncated {
		fmt.Fprintln(w, "capture: truncated (the last packet record is incomplete)")
	}
	if s.Unreadable != "" {
		fmt.Fprintf(w, "capture: reading stopped at an unreadable %s; the packets before it were replayed\n", s.Unreadable)
	}
	fmt.Fprintf(w, "flows: %d\n", s.Flows)
	if s.Gaps > 0 {
		fmt.Fprintf(w, "stream gaps skipped: %d\n", s.Gaps)
	}
	fmt.Fprintf(w, "alerts: %d\n", s.Alerts)
	sids := make([]uint32, 0, len(s.AlertsBySID))
	for sid := range s.AlertsBySID {
		sids = append(sids, sid)
	}
	sort.Slice(sids, func(i, j int) bool { return sids[i] < sids[j] })
	for _, sid := range sids {
		fmt.Fprintf(w, "  sid %d: %d\n", sid, s.AlertsBySID[sid])
	}
	if mode == replay.ModeIPS {
		fmt.Fprintf(w, "drops: %d\n", s.Drops)
	}
}

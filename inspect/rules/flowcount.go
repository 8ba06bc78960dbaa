package rules

import (
	"strconv"
	"strings"
)

// FlowCount is flow.pkts or flow.bytes (and their _toserver/_toclient
// forms): the flow's packets or bytes so far, the current packet
// included, compared in a direction. Only a caller that sees packets
// has the counts (replay); the live path refuses such rules.
type FlowCount struct {
	Bytes bool   // flow.bytes; otherwise flow.pkts
	Dir   string // toserver, toclient, either or both
	Cmp   IntCmp
}

// flowCountKeywords maps the keywords to whether they count bytes and
// their fixed direction ("" when the value names it).
var flowCountKeywords = map[string]struct {
	bytes bool
	dir   string
}{
	"flow.pkts": {false, ""}, "flow.pkts_toserver": {false, "toserver"}, "flow.pkts_toclient": {false, "toclient"},
	"flow.bytes": {true, ""}, "flow.bytes_toserver": {true, "toserver"}, "flow.bytes_toclient": {true, "toclient"},
}

// flowCount parses one flow.pkts/flow.bytes keyword.
func flowCount(kw, value string) (FlowCount, error) {
	k := flowCountKeywords[kw]
	fc := FlowCount{Bytes: k.bytes, Dir: k.dir}
	v := strings.TrimSpace(value)
	if fc.Dir == "" {
		dir, rest, ok := strings.Cut(v, ",")
		fc.Dir, v = strings.TrimSpace(dir), strings.TrimSpace(rest)
		switch {
		case !ok:
			return fc, rejectf("%s: %q needs a direction (toserver, toclient, either or both) and a number", kw, value)
		case fc.Dir != "toserver" && fc.Dir != "toclient" && fc.Dir != "either" && fc.Dir != "both":
			return fc, rejectf("%s: unknown direction %q", kw, fc.Dir)
		}
	}
	cmp, err := parseUintCmp(v)
	if err != nil {
		return fc, rejectf("%s: %v", kw, err)
	}
	fc.Cmp = cmp
	return fc, nil
}

// parseUintCmp reads Suricata's unsigned integer comparison: N, =N, <N,
// <=N, >N, >=N, !N or !=N, and the ranges N-M and N<>M (exclusive).
func parseUintCmp(s string) (IntCmp, error) {
	num := func(t string) (int, error) {
		n, err := strconv.ParseUint(strings.TrimSpace(t), 10, 63)
		if err != nil {
			return 0, rejectf("%q is not an unsigned number", t)
		}
		return int(n), nil
	}
	s = strings.TrimSpace(s)
	for _, sep := range []string{"<>", "-"} {
		if a, b, ok := strings.Cut(s, sep); ok && a != "" && !strings.ContainsAny(a, "<>=!") {
			lo, err := num(a)
			if err != nil {
				return IntCmp{}, err
			}
			hi, err := num(b)
			if err != nil {
				return IntCmp{}, err
			}
			if lo >= hi {
				return IntCmp{}, rejectf("range %q is empty", s)
			}
			return IntCmp{Op: "<>", Min: lo, Max: hi}, nil
		}
	}
	op := "="
	for _, p := range []string{">=", "<=", "!=", ">", "<", "!", "="} {
		if strings.HasPrefix(s, p) {
			op, s = p, s[len(p):]
			break
		}
	}
	if op == "!" {
		op = "!="
	}
	n, err := num(s)
	if err != nil {
		return IntCmp{}, err
	}
	return IntCmp{Op: op, N: n}, nil
}

// Match reports whether the counts (to server, to client) satisfy fc.
func (fc *FlowCount) Match(counts [2]uint64) bool {
	ts, tc := fc.Cmp.Match(int(counts[0])), fc.Cmp.Match(int(counts[1]))
	switch fc.Dir {
	case "toserver":
		return ts
	case "toclient":
		return tc
	case "either":
		return ts || tc
	}
	return ts && tc
}

func isFlowCount(kw string) bool {
	_, ok := flowCountKeywords[kw]
	return ok
}

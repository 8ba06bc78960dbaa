package conformance

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Check is one entry of a test.yaml's checks list. Only filter checks
// are evaluated; shell and file-compare checks run commands over
// Suricata's own outputs and are not applicable.
type Check struct {
	Filter *Filter        `yaml:"filter"`
	Shell  any            `yaml:"shell"`
	Other  map[string]any `yaml:",inline"`
}

// Filter counts the EVE events that match every key of Match and
// compares the count with Count (or the bounds LT/GT).
type Filter struct {
	Requires *Requires      `yaml:"requires"`
	Count    *int           `yaml:"count"`
	LT       *int           `yaml:"lt"`
	GT       *int           `yaml:"gt"`
	Match    yamlOrderedMap `yaml:"match"`
}

// yamlOrderedMap keeps match keys in file order, so failure messages name
// them as the test does.
type yamlOrderedMap struct {
	Keys   []string
	Values map[string]any
}

// Expect describes the expected count for messages.
func (f *Filter) Expect() string {
	var parts []string
	if f.Count != nil {
		parts = append(parts, strconv.Itoa(*f.Count))
	}
	if f.LT != nil {
		parts = append(parts, "<"+strconv.Itoa(*f.LT))
	}
	if f.GT != nil {
		parts = append(parts, ">"+strconv.Itoa(*f.GT))
	}
	if len(parts) == 0 {
		return ">0"
	}
	return strings.Join(parts, ",")
}

// Describe names the filter: its match keys and values, in file order.
func (f *Filter) Describe() string {
	var b strings.Builder
	for i, k := range f.Match.Keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%v", k, f.Match.Values[k])
	}
	return b.String()
}

// Positive reports whether the filter expects at least one event: a
// check that only asserts absence proves nothing when nothing ran.
func (f *Filter) Positive() bool {
	switch {
	case f.Count != nil:
		return *f.Count > 0
	case f.GT != nil:
		return *f.GT >= 0
	case f.LT != nil:
		return false
	}
	return true
}

// Eval counts the matching events and reports whether the count is as
// expected.
func (f *Filter) Eval(events []map[string]any) (ok bool, got int) {
	for _, ev := range events {
		if f.Matches(ev) {
			got++
		}
	}
	ok = true
	if f.Count != nil && got != *f.Count {
		ok = false
	}
	if f.LT != nil && got >= *f.LT {
		ok = false
	}
	if f.GT != nil && got <= *f.GT {
		ok = false
	}
	if f.Count == nil && f.LT == nil && f.GT == nil && got == 0 {
		ok = false
	}
	return ok, got
}

// Matches reports whether ev has every field of the match: has-key and
// not-has-key test presence of a path, other keys compare the value at
// the dotted path (with [i] list indexes) as suricata-verify does.
func (f *Filter) Matches(ev map[string]any) bool {
	for _, k := range f.Match.Keys {
		want := f.Match.Values[k]
		switch k {
		case "has-key":
			if _, ok := FindValue(ev, fmt.Sprint(want)); !ok {
				return false
			}
		case "not-has-key":
			if _, ok := FindValue(ev, fmt.Sprint(want)); ok {
				return false
			}
		default:
			got, ok := FindValue(ev, k)
			if !ok || !Equal(want, got) {
				return false
			}
		}
	}
	return true
}

var indexRE = regexp.MustCompile(`^(.*)\[(\d+)\]$`)

// FindValue resolves a dotted path such as alert.signature_id or
// traffic.id[0] in a decoded JSON object. "__len" yields the length of
// the value reached so far.
func FindValue(obj any, path string) (any, bool) {
	cur := obj
	for _, part := range strings.Split(path, ".") {
		if part == "__len" {
			switch v := cur.(type) {
			case []any:
				return float64(len(v)), true
			case map[string]any:
				return float64(len(v)), true
			case string:
				return float64(len(v)), true
			}
			return float64(-1), true
		}
		name, index := part, -1
		if m := indexRE.FindStringSubmatch(part); m != nil {
			name = m[1]
			index, _ = strconv.Atoi(m[2])
		}
		mp, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = mp[name]; !ok {
			return nil, false
		}
		if index >= 0 {
			list, ok := cur.([]any)
			if !ok || index >= len(list) {
				return nil, false
			}
			cur = list[index]
		}
	}
	if cur == nil {
		return nil, false // JSON null counts as absent, as Python's None
	}
	return cur, true
}

// Equal compares a YAML expectation with a JSON value: numbers by value,
// lists element-wise, and otherwise by their string forms (YAML reads
// "200" and 200 differently; suricata-verify accepts either).
func Equal(want, got any) bool {
	if wn, ok := number(want); ok {
		if gn, ok := number(got); ok {
			return wn == gn
		}
	}
	switch w := want.(type) {
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !Equal(w[i], g[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for k, v := range w {
			if !Equal(v, g[k]) {
				return false
			}
		}
		return true
	case bool:
		g, ok := got.(bool)
		return ok && g == w
	}
	return scalarString(want) == scalarString(got)
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float64:
		return n, !math.IsNaN(n)
	}
	return 0, false
}

func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

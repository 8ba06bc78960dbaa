package rules

import (
	"strconv"
	"strings"
)

// SuricataVersion is the Suricata version whose rule semantics interdict
// follows, for the requires keyword.
var SuricataVersion = [3]int{8, 0, 0}

// requires evaluates Suricata's requires keyword (rust/src/detect/
// requires.rs): comma-separated "version EXPR" (comparisons of
// SuricataVersion, ANDed, alternatives separated by "|"), "feature NAME"
// and "keyword NAME". It returns "" when the rule may load, else why
// not. Suricata skips a rule whose requirements are not met; here it is
// refused with that reason, which comes to the same. The optional
// features claimed are those of Features; a keyword requirement is not
// checked, so rules that need one are refused.
func requires(v string) string {
	if strings.TrimSpace(v) == "" {
		return "requires: empty"
	}
	versions := 0
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		key, val, _ := strings.Cut(part, " ")
		val = strings.TrimSpace(val)
		switch key {
		case "version":
			versions++
			if versions > 1 {
				return "requires: more than one version"
			}
			ok, err := versionMatches(val)
			if err != "" {
				return "requires: " + err
			}
			if !ok {
				return "requires " + part + ": not met (interdict follows Suricata " + versionString(SuricataVersion) + ")"
			}
		case "feature", "keyword":
			if val == "" {
				return "requires: " + key + " without a name"
			}
			if key == "feature" && Features[val] {
				continue
			}
			return "requires " + part + ": not available here"
		default:
			return "requires: unknown requirement " + strconv.Quote(part)
		}
	}
	return ""
}

// Features are the optional features of Suricata's feature.h that
// interdict provides, for requires: feature NAME: the JA3 and JA4 TLS
// fingerprints (ja3.hash, ja3s.hash, ja4.hash; inspect/tls), which
// Suricata provides when its TLS parser computes them.
var Features = map[string]bool{"ja3": true, "ja4": true}

// versionMatches evaluates "OP VERSION [OP VERSION]... [| ...]".
func versionMatches(expr string) (bool, string) {
	met := false
	for _, alt := range strings.Split(expr, "|") {
		fields := strings.Fields(alt)
		if len(fields) == 0 || len(fields)%2 != 0 {
			return false, "bad version expression " + strconv.Quote(expr)
		}
		all := true
		for i := 0; i < len(fields); i += 2 {
			want, ok := parseSuricataVersion(fields[i+1])
			if !ok {
				return false, "bad version " + strconv.Quote(fields[i+1])
			}
			c := compareVersions(SuricataVersion, want)
			switch fields[i] {
			case ">=":
				all = all && c >= 0
			case ">":
				all = all && c > 0
			case "<=":
				all = all && c <= 0
			case "<":
				all = all && c < 0
			default:
				return false, "bad version operator " + strconv.Quote(fields[i])
			}
		}
		met = met || all
	}
	return met, ""
}

func parseSuricataVersion(s string) ([3]int, bool) {
	var v [3]int
	parts := strings.Split(s, ".")
	if len(parts) > 3 {
		return v, false
	}
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 8)
		if err != nil {
			return v, false
		}
		v[i] = int(n)
	}
	return v, true
}

func compareVersions(a, b [3]int) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

func versionString(v [3]int) string {
	return strconv.Itoa(v[0]) + "." + strconv.Itoa(v[1]) + "." + strconv.Itoa(v[2])
}

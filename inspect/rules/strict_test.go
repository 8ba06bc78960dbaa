package rules

import (
	"bufio"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMalformedRules: rules Suricata refuses are refused, each with
// file:line, sid and a reason, and never loaded with a changed meaning.
func TestMalformedRules(t *testing.T) {
	tests := []struct{ name, rule, reason string }{
		{"missing ; after msg", `alert http any any -> any any (msg:"x" content:"evil"; sid:1;)`,
			"unescaped quote inside the value of msg (missing ';'?)"},
		{"unterminated quote", `alert http any any -> any any (msg:"x; content:"evil"; sid:2;)`,
			"value of msg has no closing quote (missing ';'?)"},
		{"last option without ;", `alert tcp any any -> any any (content:"a"; sid:3)`,
			"option sid is not terminated by ';'"},
		{"no sid", `alert tcp any any -> any any (msg:"x"; content:"a";)`, "rule has no sid"},
		{"invalid escape in content", `alert tcp any any -> any any (content:"a\x41"; sid:4;)`,
			`invalid escape \x in content`},
		{"escaped closing quote", `alert tcp any any -> any any (content:"a\"; sid:5;)`,
			"value of content has no closing quote (it is escaped)"},
		{"missing ; after pcre", `alert tcp any any -> any any (pcre:"/a/i" content:"b"; sid:6;)`,
			"pcre flags"},
		{"garbage between options", `alert tcp any any -> any any (content:"a"; ,nocase; sid:7;)`,
			"expected a keyword"},
		{"keyword without : or ;", `alert tcp any any -> any any (content "a"; sid:8;)`,
			"expected ':' or ';' after content"},
		{"unknown keyword", `alert tcp any any -> any any (content:"a"; no_such_keyword; sid:9;)`, "no_such_keyword"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set := &Set{}
			require.NoError(t, set.Load(strings.NewReader("# header\n\n"+tc.rule+"\n"), "bad.rules", nil))
			assert.Empty(t, set.Rules, "a malformed rule must not load")
			require.Len(t, set.Errors, 1)
			e := set.Errors[0]
			assert.Equal(t, "bad.rules", e.File)
			assert.Equal(t, 3, e.Line)
			assert.Contains(t, e.Reason, tc.reason)
			assert.Regexp(t, `^bad\.rules:3: sid \d+: `, e.Error())
		})
	}
}

// TestWellFormedEdgeCases: what Suricata accepts stays accepted.
func TestWellFormedEdgeCases(t *testing.T) {
	for _, rule := range []string{
		`alert tcp any any -> any any (msg:"a \"quoted\" \; word"; content:"a\;b\"c\:d\\"; sid:1;)`,
		`alert tcp any any -> any any (msg:"UA (\d \r\n)"; content:"x"; sid:2;)`, // msg escapes are not checked
		`alert http any any -> any any (msg:"x"; http.request_body; content:"a"; pcre:"/^["']\s*:/Ri"; sid:3;)`,
		`alert tcp any any -> any any (msg:"x";content:"a";sid:4;)`,
	} {
		_, err := ParseRule(rule, nil)
		assert.NoError(t, err, rule)
	}
}

func TestDuplicateSID(t *testing.T) {
	set := &Set{}
	require.NoError(t, set.Load(strings.NewReader(
		"alert tcp any any -> any any (content:\"a\"; sid:7; rev:1;)\n"), "one.rules", nil))
	require.NoError(t, set.Load(strings.NewReader(
		"alert tcp any any -> any any (content:\"b\"; sid:8;)\n\nalert tcp any any -> any any (content:\"c\"; sid:7; rev:2;)\n"), "two.rules", nil))
	require.Len(t, set.Rules, 2)
	assert.Equal(t, []byte("a"), set.Rules[0].Lists[0].Ops[0].(*Content).Pattern, "the first rule with the sid stays")
	require.Len(t, set.Errors, 1)
	assert.Equal(t, "two.rules:3: sid 7: duplicate sid 7 (first at one.rules:1)", set.Errors[0].Error())
	assert.Equal(t, []FileCount{{File: "one.rules", Loaded: 1}, {File: "two.rules", Loaded: 1, Rejected: 1}}, set.Files)
}

func TestUnknownClasstype(t *testing.T) {
	classes := map[string]Class{"trojan-activity": {Name: "trojan-activity", Description: "A Network Trojan was detected", Priority: 1}}
	set := &Set{}
	require.NoError(t, set.Load(strings.NewReader(
		"alert tcp any any -> any any (content:\"a\"; classtype:trojan-activity; sid:1;)\n"+
			"alert tcp any any -> any any (content:\"a\"; classtype:no-such-class; sid:2;)\n"), "c.rules", &Options{Classification: classes}))
	require.Len(t, set.Rules, 1)
	require.Len(t, set.Errors, 1)
	assert.Equal(t, `c.rules:2: sid 2: unknown classtype "no-such-class"`, set.Errors[0].Error())
}

// Reference grammar for the differential: an independent statement of
// Suricata's option syntax as regular expressions (one option: keyword,
// then ';' or ':' and a value running to the first ';' not preceded by
// '\'), plus the quoting rules on each value.
var (
	refOption  = regexp.MustCompile(`^\s*([A-Za-z0-9_.-]+)\s*(;|:((?:\\;|[^;])*);)`)
	refQuoted  = regexp.MustCompile(`^"(?:[^"\\]|\\.)*"$`)
	refContent = regexp.MustCompile(`^"(?:[^"\\]|\\[;":\\])*"$`)
	refPCRE    = regexp.MustCompile(`^"!?/.*/[A-Za-z]*"$`)
)

// refAccepts reports whether the reference grammar accepts a rule's
// options (the header is left to ruleShape, tested elsewhere).
func refAccepts(text string) bool {
	open, end := strings.IndexByte(text, '('), strings.LastIndexByte(text, ')')
	if open < 0 || end < open || strings.TrimSpace(text[end+1:]) != "" {
		return false
	}
	body, sid := text[open+1:end], false
	for strings.TrimSpace(body) != "" {
		m := refOption.FindStringSubmatch(body)
		if m == nil {
			return false
		}
		body = body[len(m[0]):]
		kw, v := strings.ToLower(m[1]), strings.TrimSpace(m[3])
		if hasValue := m[2] != ";"; hasValue && v == "" || kw == "sid" && !hasValue {
			return false
		}
		if kw == "sid" {
			sid = true
		}
		if !strings.HasPrefix(v, `"`) {
			continue
		}
		switch kw {
		case "pcre":
			if !refPCRE.MatchString(v) || strings.HasSuffix(v, `\"`) && !strings.HasSuffix(v, `\\"`) {
				return false
			}
		case "content", "uricontent":
			if !refContent.MatchString(v) {
				return false
			}
		default:
			if !refQuoted.MatchString(v) {
				return false
			}
		}
	}
	return sid
}

// mutate applies one random syntax-level edit: delete or insert a ';' or
// a '"', insert a '\', or drop the sid.
func mutate(rng *rand.Rand, rule string) string {
	pick := func(c byte) int {
		var at []int
		for i := 0; i < len(rule); i++ {
			if rule[i] == c {
				at = append(at, i)
			}
		}
		if len(at) == 0 {
			return -1
		}
		return at[rng.IntN(len(at))]
	}
	open := strings.IndexByte(rule, '(')
	pos := open + 1 + rng.IntN(max(1, len(rule)-open-2))
	switch rng.IntN(6) {
	case 0:
		if i := pick(';'); i >= 0 {
			return rule[:i] + rule[i+1:]
		}
	case 1:
		if i := pick('"'); i >= 0 {
			return rule[:i] + rule[i+1:]
		}
	case 2:
		return rule[:pos] + `"` + rule[pos:]
	case 3:
		return rule[:pos] + `;` + rule[pos:]
	case 4:
		return rule[:pos] + `\` + rule[pos:]
	case 5:
		return regexp.MustCompile(`sid\s*:\s*\d+\s*;`).ReplaceAllString(rule, "")
	}
	return rule
}

func etSample(t testing.TB, n int) []string {
	var out []string
	for _, f := range etFiles(t) {
		fh, err := os.Open(f)
		require.NoError(t, err)
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); strings.HasPrefix(l, "alert ") && len(out) < n {
				out = append(out, l)
			}
		}
		fh.Close()
	}
	return out
}

// checkDifferential fails if our parser accepts a rule the reference
// grammar rejects.
func checkDifferential(t *testing.T, rule string) {
	if refAccepts(rule) {
		return
	}
	if r, err := ParseRule(rule, nil); err == nil {
		t.Fatalf("accepted a rule Suricata's grammar rejects: %q (sid %d)", rule, r.Info.SID)
	}
}

// TestParserDifferential mutates ET Open rules and holds our parser to
// the reference grammar: nothing the grammar rejects is accepted. The
// unmutated rules are accepted by both (ET Open loads in Suricata).
func TestParserDifferential(t *testing.T) {
	rules := etSample(t, 3000)
	rng := rand.New(rand.NewPCG(12, 34))
	rejected := 0
	for i, r := range rules {
		require.True(t, refAccepts(r), "reference grammar rejects ET rule %q", r)
		for range 4 {
			m := mutate(rng, r)
			if !refAccepts(m) {
				rejected++
			}
			checkDifferential(t, m)
		}
		if testing.Short() && i > 300 {
			break
		}
	}
	t.Logf("%d mutants the grammar rejects, all refused", rejected)
	assert.Positive(t, rejected)
}

func FuzzParserDifferential(f *testing.F) {
	f.Add(`alert http any any -> any any (msg:"x"; content:"a"; sid:1;)`, uint64(1))
	f.Add(`alert tcp any any -> any any (pcre:"/^["']\s*:/Ri"; content:"a\;b"; sid:2;)`, uint64(2))
	f.Fuzz(func(t *testing.T, rule string, seed uint64) {
		if !strings.HasPrefix(rule, "alert ") || !strings.Contains(rule, "(") {
			return
		}
		rng := rand.New(rand.NewPCG(seed, 0))
		checkDifferential(t, rule)
		checkDifferential(t, mutate(rng, rule))
	})
}

// TestGID: gid is honoured; the same sid under another gid is another
// rule.
func TestGID(t *testing.T) {
	set := &Set{}
	require.NoError(t, set.Load(strings.NewReader(
		"alert tcp any any -> any any (content:\"a\"; sid:9;)\n"+
			"alert tcp any any -> any any (content:\"b\"; gid:7; sid:9;)\n"+
			"alert tcp any any -> any any (content:\"c\"; sid:9; gid:7;)\n"+
			"alert tcp any any -> any any (content:\"d\"; gid:x; sid:10;)\n"), "g.rules", nil))
	require.Len(t, set.Rules, 2)
	assert.EqualValues(t, 1, set.Rules[0].Info.GID)
	assert.EqualValues(t, 7, set.Rules[1].Info.GID)
	require.Len(t, set.Errors, 2)
	assert.Equal(t, "g.rules:3: sid 9: duplicate sid 9 (first at g.rules:2)", set.Errors[0].Error())
	assert.Contains(t, set.Errors[1].Reason, `gid: "x" is not a positive number`)
}

// TestRelativeFollowsLastMatch: outside a sticky buffer, a relative
// byte_* or isdataat joins the list of the previous match (uricontent
// puts it on http.uri), as Suricata attaches it to the last match.
func TestRelativeFollowsLastMatch(t *testing.T) {
	r, err := ParseRule(`alert tcp any any -> any any (uricontent:"this"; byte_extract:1,2,one,string,dec,relative; uricontent:"ring"; distance:one; isdataat:!1,relative; sid:1;)`, nil)
	require.NoError(t, err)
	require.Len(t, r.Lists, 1)
	assert.Equal(t, "http.uri", r.Lists[0].Buffer.String())
	assert.Len(t, r.Lists[0].Ops, 4)
	r, err = ParseRule(`alert tcp any any -> any any (content:"a"; byte_test:1,=,1,0; uricontent:"b"; sid:2;)`, nil)
	require.NoError(t, err)
	assert.Len(t, r.Lists, 2, "an absolute byte_test stays on the payload")
}

// TestTransactionalDirection: "=>" loads as a rule over both directions
// of a transaction, with the header's addresses those of the request.
func TestTransactionalDirection(t *testing.T) {
	r, err := ParseRule(`alert http $HOME_NET any => any 80 (msg:"tx"; http.uri; content:"/a"; http.stat_code; content:"200"; sid:3;)`, nil)
	require.NoError(t, err)
	assert.False(t, r.Bidirectional)
	assert.Len(t, r.Lists, 2)
	_, err = ParseRule(`alert http any any =>any any (sid:4;)`, nil)
	assert.Error(t, err, "the arrow is a field of its own")
}

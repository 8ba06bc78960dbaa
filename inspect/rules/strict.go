package rules

import (
	"fmt"
	"regexp"
	"strings"
)

// checkOptions holds a rule's option list to the grammar Suricata's
// parser enforces (detect-parse.c, SigParseOptions), before gonids sees
// it: gonids is lenient in ways that change a rule's meaning (a missing
// ';' after msg swallowed the next option into the message; an
// unterminated quote left a rule with a msg and nothing else).
//
//   - every option is KEYWORD or KEYWORD:VALUE and ends with ';'. As in
//     Suricata, a value ends at the first ';' not preceded by '\': quotes
//     do not protect a ';' (write \; or |3b|);
//   - a value that opens a quote closes it as its last character, and
//     holds no other unescaped '"' (pcre excepted: a quote may sit in the
//     expression, but only flag letters may follow its closing '/');
//   - in content values, '\' escapes only ';', '"', ':' and '\'
//     (detect-content.c);
//   - the rule has a sid.
//
// It returns the options, or the reason the rule is refused.
func checkOptions(text string) ([]option, string) {
	open := strings.IndexByte(text, '(')
	end := strings.LastIndexByte(text, ')')
	if open < 0 || end < open {
		return nil, "syntax: options must be enclosed in ( )"
	}
	body := text[open+1 : end]
	hasSID := false
	var opts []option
	for i := 0; ; {
		for i < len(body) && isSpace(body[i]) {
			i++
		}
		if i == len(body) {
			break
		}
		k := i
		start := open + 1 + i
		for i < len(body) && isKeywordByte(body[i]) {
			i++
		}
		kw := body[k:i]
		if kw == "" {
			return nil, fmt.Sprintf("syntax: expected a keyword at %q", clip(body[k:]))
		}
		for i < len(body) && isSpace(body[i]) {
			i++
		}
		if i == len(body) {
			return nil, fmt.Sprintf("syntax: option %s is not terminated by ';'", kw)
		}
		switch body[i] {
		case ';':
			i++
			if strings.EqualFold(kw, "sid") {
				return nil, "syntax: sid needs a value"
			}
			opts = append(opts, option{kw: strings.ToLower(kw), start: start, end: open + 1 + i})
			continue
		case ':':
		default:
			return nil, fmt.Sprintf("syntax: expected ':' or ';' after %s, found %q", kw, clip(body[i:]))
		}
		i++
		v := i
		for {
			j := strings.IndexByte(body[i:], ';')
			if j < 0 {
				return nil, fmt.Sprintf("syntax: option %s is not terminated by ';' (unterminated quote?)", kw)
			}
			i += j + 1
			if i-2 < v || body[i-2] != '\\' {
				break
			}
		}
		value := body[v : i-1]
		if why := checkValue(strings.ToLower(kw), value); why != "" {
			return nil, why
		}
		if strings.EqualFold(kw, "sid") {
			hasSID = true
		}
		opts = append(opts, option{kw: strings.ToLower(kw), value: strings.TrimSpace(value), start: start, end: open + 1 + i})
	}
	if !hasSID {
		return nil, "syntax: rule has no sid"
	}
	return opts, ""
}

// option is one rule option: its keyword (lower case), its value as
// written, and where it sits in the rule text ([start, end) includes
// the ';').
type option struct {
	kw, value  string
	start, end int
}

// isKeywordByte reports whether c may appear in a keyword name
// (http.uri, app-layer-event, ja3_hash).
func isKeywordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

// strictEscapes are the keywords whose values Suricata unescapes itself,
// allowing only \; \" \: and \\.
var strictEscapes = map[string]bool{"content": true, "uricontent": true}

// reCaptures is the list of variables after a pcre's flags
// ("/(a)(b)/i,flow:x,pkt:y").
var reCaptures = regexp.MustCompile(`^\s*(flow|pkt|alert):[A-Za-z0-9_.-]+(\s*,\s*(flow|pkt|alert):[A-Za-z0-9_.-]+)*\s*$`)

func checkValue(kw, value string) string {
	v := strings.TrimSpace(value)
	if v == "" {
		return fmt.Sprintf("syntax: %s has an empty value", kw)
	}
	if v[0] != '"' {
		return ""
	}
	if len(v) < 2 || v[len(v)-1] != '"' {
		return fmt.Sprintf("syntax: value of %s has no closing quote (missing ';'?)", kw)
	}
	inner := v[1 : len(v)-1]
	if kw == "pcre" {
		slash := strings.LastIndexByte(inner, '/')
		if !strings.HasPrefix(strings.TrimPrefix(inner, "!"), "/") || slash < 1 {
			return "syntax: pcre must be \"/expression/flags\""
		}
		flags, captures, hasCaptures := strings.Cut(inner[slash+1:], ",")
		for _, c := range flags {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return fmt.Sprintf("syntax: pcre flags %q are not letters (missing ';'?)", inner[slash+1:])
			}
		}
		if hasCaptures && !reCaptures.MatchString(captures) {
			return fmt.Sprintf("syntax: pcre capture variables %q are not flow:NAME, pkt:NAME or alert:NAME (missing ';'?)", captures)
		}
		if strings.HasSuffix(inner, `\`) && !strings.HasSuffix(inner, `\\`) {
			return "syntax: value of pcre has no closing quote (it is escaped)"
		}
		return ""
	}
	for i := 0; i < len(inner); i++ {
		switch inner[i] {
		case '\\':
			if i+1 == len(inner) {
				// The closing quote is escaped.
				return fmt.Sprintf("syntax: value of %s has no closing quote (it is escaped)", kw)
			}
			i++
			if strictEscapes[kw] && !strings.ContainsRune(`;":\`, rune(inner[i])) {
				return fmt.Sprintf("syntax: invalid escape \\%c in %s (only \\; \\\" \\: \\\\ are allowed)", inner[i], kw)
			}
		case '"':
			return fmt.Sprintf("syntax: unescaped quote inside the value of %s (missing ';'?)", kw)
		}
	}
	return ""
}

// clip shortens text quoted in an error.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

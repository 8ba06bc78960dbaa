package rules

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/gonids"
)

// gonidsMu serialises gonids' parser, which keeps the current sticky
// buffer and transforms in package-level variables.
var gonidsMu sync.Mutex

// ruleShape is the overall shape of a rule; ruleShapeOK decides the same
// without the regexp, whose backtracking over each rule's whole text was
// ~12% of a cold ET Open load's CPU (TestRuleShapeMatchesRegexp keeps
// them equal).
var ruleShape = regexp.MustCompile(`^\S+\s+\S+\s+\S+\s+\S+\s+(->|<>)\s+\S+\s+\S+\s*\((?s:.*)\)\s*$`)

// isSpace is RE2's \s.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' }

// ruleShapeOK reports whether ruleShape matches t: six whitespace
// separated fields (the fifth -> or <>), then a seventh field, optional
// space and "(" (which may also sit inside the seventh field after its
// first byte), and a ")" as the last non-space byte after that "(".
func ruleShapeOK(t string) bool {
	i := 0
	field := func() (string, bool) {
		start := i
		for i < len(t) && !isSpace(t[i]) {
			i++
		}
		if i == start {
			return "", false
		}
		f := t[start:i]
		start = i
		for i < len(t) && isSpace(t[i]) {
			i++
		}
		return f, i > start
	}
	for n := 1; n <= 6; n++ {
		f, sep := field()
		if !sep || n == 5 && f != "->" && f != "<>" {
			return false
		}
	}
	// i is at the seventh field's first byte.
	open := -1
	j := i
	for j < len(t) && !isSpace(t[j]) {
		if t[j] == '(' && j > i {
			open = j
			break
		}
		j++
	}
	if j == i {
		return false
	}
	if open < 0 {
		for j < len(t) && isSpace(t[j]) {
			j++
		}
		if j == len(t) || t[j] != '(' {
			return false
		}
		open = j
	}
	q := len(t) - 1
	for q >= 0 && isSpace(t[q]) {
		q--
	}
	return q > open && t[q] == ')'
}

// maxRuleBytes bounds one (possibly continued) rule; longer text is
// rejected instead of growing a buffer without limit.
const maxRuleBytes = 1 << 20

// Class is one classification.config entry.
type Class struct {
	Name, Description string
	Priority          int
}

// Options control loading. The zero value uses Suricata's default
// variables and no classification file (classtypes are then accepted with
// severity 3).
type Options struct {
	// Vars overrides or adds address/port variables, without the '$'.
	Vars map[string]string
	// Classification is classification.config; when set, an unknown
	// classtype rejects the rule.
	Classification map[string]Class
}

func (o *Options) lookup(name string) (string, bool) {
	if o != nil {
		if v, ok := o.Vars[name]; ok {
			return v, true
		}
	}
	v, ok := DefaultVars[name]
	return v, ok
}

func (o *Options) classes() map[string]Class {
	if o == nil {
		return nil
	}
	return o.Classification
}

// Set is the outcome of loading rule files.
type Set struct {
	Rules  []*Rule
	Errors []*Error
	// Files counts loaded and rejected rules per file, in load order.
	Files []FileCount
	// sids locates each loaded rule's gid:sid ("file:line"), to refuse
	// a second rule with the same one.
	sids map[uint64]string
}

// FileCount is one file's totals.
type FileCount struct {
	File             string
	Loaded, Rejected int
}

// ParseRule parses one rule (which must not contain newlines other than
// backslash continuations) as if it were line 1 of file "rule".
func ParseRule(text string, opts *Options) (*Rule, error) {
	r, err := parseOne(text, "rule", 1, opts)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func parseOne(text, file string, line int, opts *Options) (r *Rule, err error) {
	p := prepare(text, file, line)
	if p.err == nil {
		p.g, p.err = parseGonids(p.text)
	}
	return p.finish(opts)
}

// parsed is one rule on its way through the stages of a load: prepare and
// finish are pure and run in parallel; only gonids runs serially.
type parsed struct {
	orig, text string // as written; as handed to gonids
	file       string
	line, sid  int
	action     string // reject family action swapped out for gonids
	gid        uint32 // gid option, taken out for gonids (0: default 1)
	// alias maps a sticky buffer gonids knows, written in place of one it
	// does not (ja4.hash, ...), back to the real one.
	alias map[string]string
	// extra are options gonids does not know, taken out of the text for
	// the converter (filesize, filemd5, ...), in rule order.
	extra []option
	// hook is the rule's explicit hook (tls:client_hello_done), taken
	// out of the header for gonids.
	hook string
	g    *gonids.Rule
	err  error // from prepare or gonids
	rule *Rule
	out  error // the final *Error
	key  cacheKey
	// done: rule and out are final (a cache hit or an early rejection).
	done bool
}

func prepare(text, file string, line int) *parsed {
	p := &parsed{orig: text, text: text, file: file, line: line, sid: sniffSID(text)}
	if len(text) > maxRuleBytes {
		p.err = &Error{File: file, Line: line, SID: p.sid, Reason: fmt.Sprintf("rule longer than %d bytes", maxRuleBytes)}
		return p
	}
	// gonids knows only alert, drop and pass; the reject family parses
	// the same, so it is swapped for alert and restored after.
	if w, rest, ok := strings.Cut(text, " "); ok {
		if a := strings.ToLower(w); strings.HasPrefix(a, "reject") {
			p.action, p.text = a, "alert "+rest
		}
	}
	// Suricata 8's transactional direction "=>" matches a transaction's
	// request keywords to the server and its response keywords to the
	// client: what a rule mixing request and response buffers does here
	// already (it runs on the response, whose Unit keeps the request's
	// buffers). gonids knows only "->" and "<>".
	if open := strings.IndexByte(p.text, '('); open > 0 {
		if i := strings.Index(p.text[:open], " => "); i > 0 {
			p.text = p.text[:i] + " -> " + p.text[i+4:]
		}
	}
	var why string
	if p.text, p.hook, why = splitHook(p.text); why != "" {
		p.err = &Error{File: file, Line: line, SID: p.sid, Reason: why}
		return p
	}
	// gonids' lexer can loop forever on a truncated header ("drop "), so
	// the overall shape is checked first.
	if !ruleShapeOK(p.text) {
		p.err = &Error{File: file, Line: line, SID: p.sid, Reason: "syntax: want ACTION PROTO SRC PORT -> DST PORT (OPTIONS)"}
	} else if opts, why := checkOptions(p.text); why != "" {
		p.err = &Error{File: file, Line: line, SID: p.sid, Reason: why}
	} else if why := p.ownOptions(opts); why != "" {
		p.err = &Error{File: file, Line: line, SID: p.sid, Reason: why}
	}
	return p
}

func (p *parsed) finish(opts *Options) (*Rule, error) {
	if opts == nil {
		opts = &Options{}
	}
	fail := func(reason string) (*Rule, error) {
		return nil, &Error{File: p.file, Line: p.line, SID: p.sid, Reason: reason}
	}
	if p.err != nil {
		var re *Error
		if errors.As(p.err, &re) {
			return nil, re
		}
		var uoe *gonids.UnsupportedOptionError
		if errors.As(p.err, &uoe) {
			return fail("unsupported keyword " + strings.Join(uoe.Options, ","))
		}
		return fail("syntax: " + p.err.Error())
	}
	g := p.g
	if g == nil || g.Action == "" {
		return fail("not a rule")
	}
	if p.action != "" {
		g.Action = p.action
	}
	r, cerr := opts.convert(g, p.alias, p.extra, p.file, p.hook)
	if cerr != nil {
		return fail(cerr.Error())
	}
	r.Info.File, r.Info.Line = p.file, p.line
	if p.gid != 0 {
		r.Info.GID = p.gid
	}
	r.Keywords = keywords(p.text)
	return r, nil
}

// unknownSticky are sticky buffers gonids does not know. Each is written
// for gonids as a stand-in it knows (one the rule does not use), and the
// converter maps the stand-in back (parsed.alias).
var unknownSticky = map[string]bool{"ja4.hash": true, "tls.random_time": true, "tls.random_bytes": true,
	"tls.subjectaltname": true, "tls.alpn": true, "file.name": true, "dns.queries.rrname": true, "dns.answers.rrname": true,
	"dns.authorities.rrname": true, "dns.additionals.rrname": true, "dns.response.rrname": true,
	"http2.header_name": true, "http2.header": true, "dns.query.name": true, "dns.answer.name": true}

// standIns are sticky buffers gonids knows, lent to unknownSticky ones.
var standIns = []string{"http.location", "http.server", "http.accept_lang", "http.connection", "http.referer",
	"ja3s.string", "tls.cert_serial", "http.content_len"}

// ownOptions handles options gonids does not know before it parses the
// rule: gid and prefilter are taken out, sticky buffers it lacks get a
// stand-in.
func (p *parsed) ownOptions(opts []option) string {
	cut := p.text
	lower := strings.ToLower(p.text)
	next := 0
	fileData := fileDataRepeats(opts)
	for i := len(opts) - 1; i >= 0; i-- {
		o := opts[i]
		switch {
		case fileData[i] != "":
			stand, why := p.standIn(fileData[i], lower, &next)
			if why != "" {
				return why
			}
			cut = cut[:o.start] + stand + ";" + cut[o.end:]
		case o.kw == "prefilter" && o.value == "":
			// A hint to use the preceding keyword as the prefilter; it
			// changes what is scanned first, never what matches.
			cut = cut[:o.start] + cut[o.end:]
		case o.kw == "requires":
			if why := requires(o.value); why != "" {
				return why
			}
			cut = cut[:o.start] + cut[o.end:]
		case o.kw == "frame":
			// Suricata's frame keyword: a sticky buffer named by its
			// value (frame:http2.hdr), lent a stand-in gonids knows.
			buf := "frame:" + strings.TrimSpace(o.value)
			if _, ok := bufferNames[buf]; !ok {
				return "unsupported frame " + strings.TrimSpace(o.value) + " (supported: http1.request, http1.response, http2.hdr, http2.data, http2.pdu)"
			}
			stand, why := p.standIn(buf, lower, &next)
			if why != "" {
				return why
			}
			cut = cut[:o.start] + stand + ";" + cut[o.end:]
		case o.kw == "gid":
			n, err := strconv.ParseUint(o.value, 10, 32)
			if err != nil || n == 0 {
				return fmt.Sprintf("gid: %q is not a positive number", o.value)
			}
			p.gid = uint32(n)
			cut = cut[:o.start] + cut[o.end:]
		case unknownSticky[o.kw] && o.value == "":
			stand, why := p.standIn(o.kw, lower, &next)
			if why != "" {
				return why
			}
			cut = cut[:o.start] + stand + ";" + cut[o.end:]
		case fileKeywords[o.kw] || (o.kw == "alert" || o.kw == "bypass") && o.value == "" || o.kw == "app-layer-protocol" ||
			o.kw == "dsize" && strings.HasPrefix(strings.TrimSpace(o.value), "!") || isFlowCount(o.kw):
			// app-layer-protocol may be given more than once (all must
			// hold); gonids keeps only the last. gonids parses no negated
			// dsize (dsize:!N, "not N"); the converter reads both.
			p.extra = append([]option{o}, p.extra...)
			cut = cut[:o.start] + cut[o.end:]
		case o.kw == "pcre" && unquotedPCRE(o.value):
			// Suricata takes a pcre without quotes (pcre:/a/i); gonids
			// does not.
			v := strings.TrimSpace(o.value)
			bang := ""
			if strings.HasPrefix(v, "!") {
				bang, v = "!", strings.TrimSpace(v[1:])
			}
			cut = cut[:o.start] + "pcre:" + bang + `"` + v + `";` + cut[o.end:]
		case o.kw == "entropy":
			// gonids lacks it: written as a pcre whose pattern names it,
			// which keeps its place among the buffer's ops, and mapped
			// back by the converter (entropy.go).
			if p.alias == nil {
				p.alias = map[string]string{}
			}
			marker := fmt.Sprintf("interdict-entropy-%d", i)
			p.alias["pcre:"+marker] = o.value
			cut = cut[:o.start] + `pcre:"/` + marker + `/";` + cut[o.end:]
		case o.kw == "from_base64":
			// gonids lacks this transform: it is written as a pcrexform
			// whose pattern names it, mapped back by the converter.
			norm, why := fromBase64Opts(o.value)
			if why != "" {
				return why
			}
			if p.alias == nil {
				p.alias = map[string]string{}
			}
			marker := fmt.Sprintf("interdict-from_base64-%d", i)
			p.alias["pcrexform:"+marker] = "from_base64:" + norm
			cut = cut[:o.start] + `pcrexform:"` + marker + `";` + cut[o.end:]
		case o.kw == "filename" || o.kw == "fileext":
			// Suricata's legacy file keywords are file.name with a nocase
			// content (fileext: ".EXT" at the end), after which the
			// sticky buffer is reset (detect-filename.c).
			content, why := legacyFileContent(o.kw, o.value)
			if why != "" {
				return why
			}
			stand, why := p.standIn("file.name", lower, &next)
			if why != "" {
				return why
			}
			cut = cut[:o.start] + stand + "; " + content + "; pkt_data;" + cut[o.end:]
		}
	}
	p.text = cut
	return ""
}

// standIn lends kw a sticky buffer gonids knows (the same one each time
// in one rule).
func (p *parsed) standIn(kw, lower string, next *int) (string, string) {
	stand := ""
	if real, ok := p.aliasOf(kw); ok {
		stand = real
	}
	for stand == "" && *next < len(standIns) {
		if c := standIns[*next]; !strings.Contains(lower, c) {
			stand = c
		}
		*next++
	}
	if stand == "" {
		return "", "unsupported keyword " + kw + " (too many buffers gonids lacks in one rule)"
	}
	if p.alias == nil {
		p.alias = map[string]string{}
	}
	p.alias[stand] = kw
	return stand, ""
}

// fileDataRepeats names the second and later file.data keywords of a
// rule by option index ("file.data#2", ...). Suricata starts a new list
// at each file.data, and each list may match a different file; gonids
// merges consecutive ones into one buffer, so each repeat gets a stand-in
// of its own that the converter maps to its own list.
func fileDataRepeats(opts []option) map[int]string {
	var out map[int]string
	n := 0
	for i, o := range opts {
		if (o.kw == "file.data" || o.kw == "file_data") && o.value == "" {
			if n++; n > 1 {
				if out == nil {
					out = map[int]string{}
				}
				out[i] = fmt.Sprintf("%s%d", fileDataRepeat, n)
			}
		}
	}
	return out
}

// fileKeywords are the keywords gonids lacks that test a value rather
// than a buffer (the file keywords, dns.opcode, dns.rcode); the converter
// builds them (see converter.fileKeyword).
var fileKeywords = map[string]bool{"filesize": true, "filemd5": true, "filesha1": true, "filesha256": true,
	"dns.opcode": true, "dns.rcode": true, "ssl_version": true,
	"http2.frametype": true, "http2.errorcode": true, "http2.priority": true, "http2.window": true,
	"http2.settings": true, "dns.rrtype": true}

// unquotedPCRE reports whether a pcre value is written without quotes:
// "/.../flags", optionally negated, with no quote inside.
func unquotedPCRE(v string) bool {
	v = strings.TrimSpace(v)
	v = strings.TrimSpace(strings.TrimPrefix(v, "!"))
	return strings.HasPrefix(v, "/") && !strings.Contains(v, `"`)
}

// fromBase64Opts checks from_base64's options (bytes N, offset N, mode
// rfc4648|rfc2045|strict; all optional) and writes them as
// "bytes,offset,mode".
func fromBase64Opts(v string) (string, string) {
	bytes, offset, mode := 0, 0, "rfc4648"
	seen := map[string]bool{}
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			if strings.TrimSpace(v) == "" {
				break
			}
			return "", fmt.Sprintf("from_base64: empty option in %q", v)
		}
		name, arg, _ := strings.Cut(part, " ")
		arg = strings.TrimSpace(arg)
		if seen[name] {
			return "", fmt.Sprintf("from_base64: %s given twice", name)
		}
		seen[name] = true
		switch name {
		case "bytes", "offset":
			n, err := strconv.ParseUint(arg, 10, 16)
			if err != nil || name == "bytes" && n == 0 {
				return "", fmt.Sprintf("from_base64: %s %q is not a number from 1 to 65535", name, arg)
			}
			if name == "bytes" {
				bytes = int(n)
			} else {
				offset = int(n)
			}
		case "mode":
			switch strings.ToLower(arg) {
			case "rfc4648", "rfc2045", "strict":
				mode = strings.ToLower(arg)
			default:
				return "", fmt.Sprintf("from_base64: unknown mode %q", arg)
			}
		default:
			return "", fmt.Sprintf("from_base64: unknown option %q", part)
		}
	}
	return fmt.Sprintf("%d,%d,%s", bytes, offset, mode), ""
}

// legacyFileContent turns filename:VALUE or fileext:VALUE (quotes
// optional, ! negates) into the content option Suricata makes of it.
func legacyFileContent(kw, v string) (string, string) {
	v = strings.TrimSpace(v)
	neg := strings.HasPrefix(v, "!")
	if neg {
		v = strings.TrimSpace(v[1:])
	}
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	if v == "" || strings.ContainsAny(v, `";`) {
		return "", fmt.Sprintf("%s: bad value %q", kw, v)
	}
	mods := "; nocase"
	if kw == "fileext" {
		v = "." + v
		mods += "; endswith"
	}
	bang := ""
	if neg {
		bang = "!"
	}
	return "content:" + bang + `"` + v + `"` + mods, ""
}

// aliasOf returns the stand-in already lent to keyword kw.
func (p *parsed) aliasOf(kw string) (string, bool) {
	for stand, real := range p.alias {
		if real == kw {
			return stand, true
		}
	}
	return "", false
}

// parseGonids calls gonids under the lock and turns its panics (it has a
// few on odd input) into errors.
func parseGonids(text string) (g *gonids.Rule, err error) {
	gonidsMu.Lock()
	defer gonidsMu.Unlock()
	defer func() {
		if p := recover(); p != nil {
			g, err = nil, fmt.Errorf("parser failed: %v", p)
		}
	}()
	return gonids.ParseRule(text)
}

// sniffSID finds "sid:N" in raw text so that even a rule gonids cannot
// parse is reported with its sid.
func sniffSID(text string) int {
	for i := 0; ; {
		j := strings.Index(text[i:], "sid")
		if j < 0 {
			return 0
		}
		i += j + 3
		if i-4 >= 0 && text[i-4] != ';' && text[i-4] != ' ' && text[i-4] != '(' {
			continue
		}
		rest := strings.TrimLeft(text[i:], " ")
		if !strings.HasPrefix(rest, ":") {
			continue
		}
		rest = strings.TrimLeft(rest[1:], " ")
		end := strings.IndexAny(rest, "; )")
		if end < 0 {
			end = len(rest)
		}
		n, err := strconv.Atoi(rest[:end])
		if err == nil {
			return n
		}
	}
}

// keywords lists option keywords as written, skipping quoted text.
func keywords(text string) []string {
	open := strings.IndexByte(text, '(')
	if open < 0 {
		return nil
	}
	var out []string
	start, quoted := open+1, false
	for i := open + 1; i < len(text); i++ {
		switch text[i] {
		case '\\':
			i++
		case '"':
			quoted = !quoted
		case ';':
			if quoted {
				continue
			}
			opt := strings.TrimSpace(text[start:i])
			if k, _, _ := strings.Cut(opt, ":"); k != "" {
				out = append(out, strings.ToLower(strings.TrimSpace(k)))
			}
			start = i + 1
		}
	}
	return out
}

// LoadFiles loads rule files into one set. The error is only for files
// that cannot be read; rule errors are in Set.Errors.
func LoadFiles(paths []string, opts *Options) (*Set, error) {
	defer beginLoad()()
	set := &Set{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return set, fmt.Errorf("rules: %w", err)
		}
		err = set.Load(f, p, opts)
		f.Close()
		if err != nil {
			return set, err
		}
	}
	return set, nil
}

// Load reads rules from r, naming them file:line.
//
// gonids keeps parser state in package variables, so its parse runs on one
// goroutine; the checks before it and the conversion after it run on
// GOMAXPROCS workers alongside, and results keep file order.
func (s *Set) Load(r io.Reader, file string, opts *Options) error {
	defer beginLoad()()
	fc := FileCount{File: file}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxRuleBytes)
	var (
		cur       strings.Builder
		startLine int
		line      int
		items     []*parsed
	)
	flush := func() {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" || strings.HasPrefix(text, "#") {
			return
		}
		items = append(items, &parsed{orig: text, line: startLine})
	}
	for sc.Scan() {
		line++
		text := sc.Text()
		if cur.Len() == 0 {
			startLine = line
			t := strings.TrimSpace(text)
			if t == "" || strings.HasPrefix(t, "#") {
				continue
			}
		}
		if strings.HasSuffix(text, "\\") {
			cur.WriteString(strings.TrimSuffix(text, "\\"))
			if cur.Len() > maxRuleBytes {
				items = append(items, &parsed{out: &Error{File: file, Line: startLine, Reason: "continued rule too long"}})
				cur.Reset()
			}
			continue
		}
		cur.WriteString(text)
		flush()
	}
	flush()
	print := optionsPrint(opts)
	parallel(len(items), func(i int) {
		it := items[i]
		if it.out != nil {
			it.done = true
			return
		}
		key := cacheKeyOf(print, it.orig)
		if r, re, ok := cacheGet(key, file, it.line); ok {
			it.rule, it.done = r, true
			if re != nil {
				it.out = re
			}
			return
		}
		items[i] = prepare(it.orig, file, it.line)
		items[i].key = key
	})
	ready := make(chan int, 256)
	go func() {
		defer close(ready)
		for i, it := range items {
			if !it.done && it.err == nil {
				it.g, it.err = parseGonids(it.text)
			}
			ready <- i
		}
	}()
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ready {
				if it := items[i]; !it.done {
					it.rule, it.out = it.finish(opts)
					it.g = nil
					var re *Error
					if errors.As(it.out, &re) || it.rule != nil {
						cachePut(it.key, it.rule, re)
					}
				}
			}
		}()
	}
	wg.Wait()
	if s.sids == nil {
		s.sids = map[uint64]string{}
	}
	for _, it := range items {
		if r := it.rule; r != nil {
			// Suricata identifies a rule by gid:sid; two rules with one
			// sid would make alerts, thresholds and suppressions
			// ambiguous. The first stays, the second is refused naming
			// both places.
			key := uint64(r.Info.GID)<<32 | uint64(r.Info.SID)
			if first, dup := s.sids[key]; dup {
				it.rule, it.out = nil, &Error{File: file, Line: it.line, SID: int(r.Info.SID),
					Reason: fmt.Sprintf("duplicate sid %d (first at %s)", r.Info.SID, first)}
			} else {
				s.sids[key] = fmt.Sprintf("%s:%d", file, it.line)
				s.Rules = append(s.Rules, r)
				fc.Loaded++
				continue
			}
		}
		var re *Error
		if errors.As(it.out, &re) {
			s.Errors = append(s.Errors, re)
		}
		fc.Rejected++
	}
	s.Files = append(s.Files, fc)
	if err := sc.Err(); err != nil {
		return fmt.Errorf("rules: %s:%d: %w", file, line, err)
	}
	return nil
}

// parallel runs fn(0..n-1) on GOMAXPROCS goroutines.
func parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// LoadClassification parses classification.config lines
// "config classification: name,description,priority".
func LoadClassification(r io.Reader, file string) (map[string]Class, error) {
	out := map[string]Class{}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		rest, ok := strings.CutPrefix(t, "config classification:")
		if !ok {
			return nil, fmt.Errorf("%s:%d: not a classification line", file, line)
		}
		parts := strings.Split(rest, ",")
		if len(parts) != 3 {
			return nil, fmt.Errorf("%s:%d: want name,description,priority", file, line)
		}
		prio, err := strconv.Atoi(strings.TrimSpace(parts[2]))
		if err != nil || prio < 1 {
			return nil, fmt.Errorf("%s:%d: bad priority %q", file, line, parts[2])
		}
		name := strings.TrimSpace(parts[0])
		out[name] = Class{Name: name, Description: strings.TrimSpace(parts[1]), Priority: prio}
	}
	return out, sc.Err()
}

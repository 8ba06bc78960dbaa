package detect

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dlclark/regexp2"

	"github.com/interdict/interdict/inspect/rules"
)

// maxSteps bounds backtracking per chain evaluation, as Suricata's
// inspection recursion limit does, so a rule cannot make one chunk cost
// quadratic time.
const maxSteps = 3000

// cop is a compiled op. Exactly one of the pointers is set.
type cop struct {
	content *ccontent
	pcre    *cpcre
	test    *rules.ByteTest
	jump    *rules.ByteJump
	extract *rules.ByteExtract
	dataAt  *rules.IsDataAt
	bsize   *rules.Bsize
	b64     *cb64
	set     *rules.HashSet
	ent     *rules.Entropy
	// later reports whether any later op is relative to this one's end,
	// i.e. whether trying another occurrence can change the outcome.
	later bool
}

// cb64 is a compiled base64_decode with its base64_data ops.
type cb64 struct {
	*rules.Base64Decode
	ops []cop
}

type ccontent struct {
	*rules.Content
	lower []byte // pattern lower-cased, for nocase
}

type cpcre struct {
	*rules.PCRE
	re  *regexp.Regexp
	re2 *regexp2.Regexp
	// reach is how many bytes from its start position the regex can look
	// at (its longest match plus one byte of lookahead) when it is
	// anchored there and bounded; -1 otherwise. With reach bytes present
	// its outcome no longer depends on what follows.
	reach int
}

// view is one buffer being verified. base is the stream offset of buf[0]
// for the raw stream (0 for app-layer buffers): offsets and depths in rules
// count from the start of the stream, so positions before base cannot be
// checked any more.
type view struct {
	buf   []byte
	runes []rune // lazily built Latin-1 decode, for regexp2
	base  int64
}

func (v *view) latin1() []rune {
	if v.runes == nil {
		v.runes = make([]rune, len(v.buf))
		for i, b := range v.buf {
			v.runes[i] = rune(b)
		}
	}
	return v.runes
}

// evaluator runs chains. vars holds byte_extract values by slot.
type evaluator struct {
	v     *view
	ops   []cop
	vars  []int64
	slots map[string]int
	steps int
	// end is one past the last byte of the positive match that completed
	// the chain, relative to buf.
	end int
	// timeout bounds regexp2.
	timeout time.Duration
	// caps, when set, receives the rule's pcre captures (pcrevars.go).
	caps *[]capture
	rule uint32
	// ent, when set, keeps the values entropy ops computed (entropy.go).
	ent *[]entropyVal

	// more reports that the outcome depended on the end of the buffer:
	// appending bytes could change it. A search for the op at fpOp (the
	// whole fast pattern) running to the end does not count, because the
	// prefilter reports each new occurrence of it anyway.
	more bool
	fpOp int
	// strict is more without the fast pattern exception; it decides
	// which occurrences of the first op are dead (see resume).
	strict bool
	// When track is set and the first op is a positive content, its
	// search starts at from, and resume is returned as the position
	// before which every occurrence of it failed in a way no later bytes
	// can change, so the next evaluation can start there.
	track  bool
	from   int
	resume int
	alive  bool // an occurrence of the first op may still match later
}

// nbytes is the count of bytes a byte_test or byte_jump reads: n, or the
// byte_extract variable named v, which must be at most 8 (23 as a
// string). Suricata checks only that bound at match time, so a variable
// holding 0 makes byte_jump read nothing and jump by post_offset alone
// (byte_test then reads nothing and fails).
func (e *evaluator) nbytes(n int, v string, str bool) (int, bool) {
	if v == "" {
		return n, true
	}
	m := e.val(&rules.Value{Var: v})
	if m < 0 || m > 8 && !str || m > 23 {
		return 0, false
	}
	return int(m), true
}

// grow notes that appended bytes could change the outcome.
func (e *evaluator) grow() { e.more, e.strict = true, true }

func (e *evaluator) val(v *rules.Value) int64 {
	if v.Var != "" {
		if i, ok := e.slots[v.Var]; ok && i < len(e.vars) {
			return e.vars[i]
		}
		return 0
	}
	return int64(v.N)
}

// run reports whether ops[i:] match with the previous match ending at prev
// (relative to buf; the stream start is -base).
func (e *evaluator) run(i int, prev int, maxEnd int) bool {
	if i == len(e.ops) {
		e.end = maxEnd
		return true
	}
	e.steps++
	if e.steps > maxSteps {
		// Fewer steps (a later evaluation resuming further on) could
		// succeed.
		e.grow()
		return false
	}
	op := &e.ops[i]
	buf := e.v.buf
	n := len(buf)
	switch {
	case op.content != nil:
		c := op.content
		plen := len(c.Pattern)
		lo, hi := 0, n
		// bound is where the range ends regardless of the buffer's end;
		// past n, more bytes could bring another occurrence.
		bound := math.MaxInt
		start := int(-e.v.base) // stream position 0 in buf coordinates
		if c.Relative() {
			lo = prev
			if c.Distance != nil {
				lo += int(e.val(c.Distance))
			}
			if c.Within != nil {
				// Suricata counts within from the distance point.
				bound = lo + int(e.val(c.Within))
			}
		} else {
			lo = start
			if c.Offset != nil {
				lo += int(e.val(c.Offset))
			}
			if c.Depth != nil {
				bound = lo + int(e.val(c.Depth))
			}
		}
		if c.StartsWith {
			if c.Relative() {
				bound = min(bound, lo+plen)
			} else {
				lo, bound = start, min(bound, start+plen)
			}
		}
		hi = min(hi, bound)
		lo = max(lo, 0)
		if c.EndsWith {
			e.grow()
		}
		if c.EndsWith {
			lo = max(lo, n-plen)
		}
		first := i == 0 && e.track && !c.Negate && !c.EndsWith
		if first {
			lo = max(lo, e.from)
			e.resume = max(e.resume, e.from)
		}
		for pos := lo; pos+plen <= hi; {
			var j int
			if c.Nocase {
				j = indexFold(buf[pos:hi], c.lower)
			} else {
				j = bytes.Index(buf[pos:hi], c.Pattern)
			}
			if j < 0 {
				break
			}
			at := pos + j
			end := at + plen
			if c.EndsWith && end != n {
				pos = at + 1
				continue
			}
			if c.Negate {
				return false
			}
			if first {
				saved := e.strict
				e.strict = false
				if e.run(i+1, end, max(maxEnd, end)) {
					return true
				}
				if e.strict || e.alive {
					e.alive = true
				} else {
					e.resume = at + 1
				}
				e.strict = e.strict || saved
			} else if e.run(i+1, end, max(maxEnd, end)) {
				return true
			}
			if !op.later || e.steps > maxSteps {
				return false
			}
			pos = at + 1
		}
		if bound > n {
			if i == e.fpOp {
				e.strict = true
			} else {
				e.grow()
			}
		}
		if first && !e.alive {
			// No occurrence starts in [resume, hi-plen]; one starting
			// later needs bytes past hi.
			e.resume = max(e.resume, hi-plen+1)
		}
		if c.Negate {
			return e.run(i+1, prev, maxEnd)
		}
		return false
	case op.pcre != nil:
		p := op.pcre
		from := 0
		if p.Relative {
			from = max(0, prev)
		}
		if from > n {
			e.grow()
			return p.Negate && e.run(i+1, prev, maxEnd)
		}
		if p.reach < 0 || from+p.reach > n {
			e.grow()
		}
		_, end, ok := e.find(p, from)
		if p.Negate {
			if ok {
				return false
			}
			return e.run(i+1, prev, maxEnd)
		}
		if !ok {
			return false
		}
		if p.Captures != nil && e.caps != nil {
			// Captures of an occurrence the rest of the chain rejects
			// are taken back.
			mark := len(*e.caps)
			e.capture(p, from)
			if e.run(i+1, end, max(maxEnd, end)) {
				return true
			}
			*e.caps = (*e.caps)[:min(mark, len(*e.caps))]
			return false
		}
		return e.run(i+1, end, max(maxEnd, end))
	case op.test != nil:
		t := op.test
		pos := e.pos(t.Offset, t.Relative, prev)
		nb, okb := e.nbytes(t.Bytes, t.BytesVar, t.String)
		if !okb {
			return false
		}
		v, ok := e.readNum(pos, nb, t.BigEndian, t.String, t.Base)
		if !ok {
			return false
		}
		if t.Bitmask != 0 {
			v &= t.Bitmask
			v >>= uint(bits.TrailingZeros64(t.Bitmask))
		}
		want := uint64(e.val(&t.Value))
		var r bool
		switch t.Op {
		case "<":
			r = v < want
		case ">":
			r = v > want
		case "=":
			r = v == want
		case "<=":
			r = v <= want
		case ">=":
			r = v >= want
		case "&":
			r = v&want != 0
		case "^":
			r = v^want != 0
		}
		if r == t.Not {
			return false
		}
		return e.run(i+1, prev, maxEnd)
	case op.jump != nil:
		j := op.jump
		pos := e.pos(j.Offset, j.Relative, prev)
		nb, okb := e.nbytes(j.Bytes, j.BytesVar, j.String)
		if !okb {
			return false
		}
		var v uint64
		if nb == 0 {
			// Suricata reads nothing and jumps by post_offset alone, from
			// a position that must still lie within the buffer.
			if pos < 0 || pos > n {
				if pos > n {
					e.grow()
				}
				return false
			}
		} else {
			var ok bool
			if v, ok = e.readNum(pos, nb, j.BigEndian, j.String, j.Base); !ok {
				return false
			}
		}
		if j.Bitmask != 0 {
			v &= j.Bitmask
			v >>= uint(bits.TrailingZeros64(j.Bitmask))
		}
		jump := int64(v) * int64(max(j.Multiplier, 1))
		if j.Align && jump%4 != 0 {
			jump += 4 - jump%4
		}
		var to int64
		switch {
		case j.FromBeginning:
			to = -e.v.base + jump
		case j.FromEnd:
			e.grow()
			to = int64(n) + jump
		default:
			to = int64(pos+nb) + jump
		}
		to += int64(j.PostOffset)
		// Suricata clamps a jump before the buffer to its start (a
		// negative post_offset) but fails one past its end.
		if to > int64(n) {
			e.grow()
			return false
		}
		to = max(to, 0)
		return e.run(i+1, int(to), maxEnd)
	case op.extract != nil:
		x := op.extract
		pos := e.pos(rules.Value{N: x.Offset}, x.Relative, prev)
		v, ok := e.readNum(pos, x.Bytes, x.BigEndian, x.String, x.Base)
		if !ok {
			return false
		}
		if x.Bitmask != 0 {
			v &= x.Bitmask
			v >>= uint(bits.TrailingZeros64(x.Bitmask))
		}
		val := int64(v) * int64(max(x.Multiplier, 1))
		if x.Align > 0 && val%int64(x.Align) != 0 {
			val += int64(x.Align) - val%int64(x.Align)
		}
		slot := e.slots[x.Var]
		old := e.vars[slot]
		e.vars[slot] = val
		if e.run(i+1, pos+x.Bytes, maxEnd) {
			return true
		}
		e.vars[slot] = old
		return false
	case op.dataAt != nil:
		d := op.dataAt
		pos := e.pos(d.Offset, d.Relative, prev)
		// As Suricata: absolute isdataat:N wants a byte at offset N,
		// relative isdataat:N,relative wants N bytes after the previous
		// match (its end plus N within the buffer).
		has := pos >= 0 && (pos < n || d.Relative && pos == n)
		if !has && pos >= 0 {
			e.grow()
		}
		if has == d.Negate {
			return false
		}
		return e.run(i+1, prev, maxEnd)
	case op.bsize != nil:
		e.grow()
		if !op.bsize.Match(n) {
			return false
		}
		return e.run(i+1, prev, maxEnd)
	case op.b64 != nil:
		return e.base64(op.b64, i, prev, maxEnd)
	case op.set != nil:
		if op.set.Set[string(buf)] == op.set.Negate {
			return false
		}
		return e.run(i+1, prev, maxEnd)
	case op.ent != nil:
		if !e.entropy(op.ent) {
			return false
		}
		return e.run(i+1, prev, maxEnd)
	}
	return false
}

// base64 runs base64_decode (Suricata's DetectBase64DecodeDoMatch): the
// bytes from Offset (after the previous match when Relative), at most
// Bytes of them, are decoded and the base64_data ops run on the result.
func (e *evaluator) base64(b *cb64, i, prev, maxEnd int) bool {
	buf := e.v.buf
	n := len(buf)
	start := int(-e.v.base)
	if b.Relative {
		start = prev
	}
	start = max(start, 0)
	if b.Offset > 0 {
		if start+b.Offset >= n {
			e.grow()
			return false
		}
		start += b.Offset
	}
	if start > n {
		e.grow()
		return false
	}
	end := n
	if b.Bytes > 0 && start+b.Bytes < n {
		end = start + b.Bytes
	} else {
		e.grow()
	}
	dec := base64Decode(nil, buf[start:end], b64RFC4648)
	if len(dec) == 0 {
		return false
	}
	sub := evaluator{v: &view{buf: dec}, ops: b.ops, vars: e.vars, slots: e.slots, timeout: e.timeout,
		fpOp: -1, steps: e.steps}
	ok := sub.run(0, 0, 0)
	e.steps = sub.steps
	if !ok {
		return false
	}
	// base64_data ends the rule's inspection (the converter lets
	// nothing follow it).
	return e.run(i+1, prev, maxEnd)
}

// pos resolves an offset: relative to the previous match, or absolute from
// the start of the stream.
func (e *evaluator) pos(off rules.Value, relative bool, prev int) int {
	o := int(e.val(&off))
	if relative {
		return prev + o
	}
	return int(-e.v.base) + o
}

func (e *evaluator) find(p *cpcre, from int) (start, end int, ok bool) {
	if p.re != nil {
		loc := p.re.FindIndex(e.v.buf[from:])
		if loc == nil {
			return 0, 0, false
		}
		return from + loc[0], from + loc[1], true
	}
	m, err := p.re2.FindRunesMatchStartingAt(e.v.latin1(), from)
	if err != nil || m == nil {
		// A timeout is a non-match: the rule is as if it had not fired.
		return 0, 0, false
	}
	return m.Index, m.Index + m.Length, true
}

// readNum is readNum on the buffer, noting a read past its end.
func (e *evaluator) readNum(pos, n int, big, str bool, base int) (uint64, bool) {
	if pos >= 0 && pos+n > len(e.v.buf) {
		e.grow()
	}
	return readNum(e.v.buf, pos, n, big, str, base)
}

// readNum reads n bytes at pos as an integer: binary in the given byte
// order, or as text in base when str is set.
func readNum(buf []byte, pos, n int, big, str bool, base int) (uint64, bool) {
	if pos < 0 || n <= 0 || pos+n > len(buf) {
		return 0, false
	}
	b := buf[pos : pos+n]
	if str {
		v, err := strconv.ParseUint(string(b), base, 64)
		return v, err == nil
	}
	if n > 8 {
		return 0, false
	}
	var tmp [8]byte
	if big {
		copy(tmp[8-n:], b)
		return binary.BigEndian.Uint64(tmp[:]), true
	}
	copy(tmp[:n], b)
	return binary.LittleEndian.Uint64(tmp[:]), true
}

// lowerTab folds ASCII upper case, as Suricata's nocase does.
var lowerTab = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if i >= 'A' && i <= 'Z' {
			t[i] = byte(i) + 32
		}
	}
	return t
}()

// toLowerASCII folds ASCII letters only, so that folding never changes a
// buffer's length or its non-ASCII bytes.
func toLowerASCII(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = lowerTab[c]
	}
	return out
}

// equalFold compares hay with an already folded pattern, ASCII only.
func equalFold(hay, lower []byte) bool {
	for i, c := range hay {
		if lowerTab[c] != lower[i] {
			return false
		}
	}
	return true
}

// indexFold is bytes.Index under ASCII case folding, with pat already
// folded. It needs no folded copy of hay: the stream window used to be
// kept twice (plain and lower-cased) for nocase contents. It anchors on
// the pattern's first byte that has no other case, found with IndexByte;
// a pattern of letters only looks for both cases of its first byte.
func indexFold(hay, pat []byte) int {
	n := len(pat)
	if n == 0 {
		return 0
	}
	if n > len(hay) {
		return -1
	}
	k := -1
	for i, c := range pat {
		if c < 'a' || c > 'z' {
			k = i
			break
		}
	}
	last := len(hay) - n // last possible start
	if k >= 0 {
		c := pat[k]
		for i := 0; i <= last; {
			j := bytes.IndexByte(hay[i+k:last+k+1], c)
			if j < 0 {
				return -1
			}
			at := i + j
			if equalFold(hay[at:at+n], pat) {
				return at
			}
			i = at + 1
		}
		return -1
	}
	lc, uc := pat[0], pat[0]-('a'-'A')
	nl, nu := -1, -1 // next start of each case at or after i; -2 when none
	for i := 0; i <= last; {
		if nl != -2 && nl < i {
			if j := bytes.IndexByte(hay[i:last+1], lc); j >= 0 {
				nl = i + j
			} else {
				nl = -2
			}
		}
		if nu != -2 && nu < i {
			if j := bytes.IndexByte(hay[i:last+1], uc); j >= 0 {
				nu = i + j
			} else {
				nu = -2
			}
		}
		at := nl
		if at == -2 || (nu != -2 && nu < at) {
			at = nu
		}
		if at == -2 {
			return -1
		}
		if equalFold(hay[at+1:at+n], pat[1:]) {
			return at
		}
		i = at + 1
	}
	return -1
}

// maxReach bounds the regex reach worth computing; longer is "unbounded".
const maxReach = 1 << 16

// regexReach computes cpcre.reach for a Go regexp: the longest match plus
// a rune of lookahead (for \b and $), if the expression is anchored at
// its start position (^ without (?m)) and has no unbounded repetition;
// else -1.
func regexReach(expr string) int {
	if !strings.Contains(expr, "^") {
		return -1 // not anchored; most of ET Open, spared a second parse
	}
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return -1
	}
	first := re
	for first.Op == syntax.OpCapture || (first.Op == syntax.OpConcat && len(first.Sub) > 0) {
		first = first.Sub[0]
	}
	if first.Op != syntax.OpBeginText {
		return -1
	}
	n := maxMatchLen(re)
	if n < 0 || n > maxReach {
		return -1
	}
	return n + utf8.UTFMax
}

// maxMatchLen is the most bytes re can match, -1 if unbounded. Runes
// count as UTFMax bytes unless only ASCII can match (case folding can
// match multi-byte runes such as the Kelvin sign for k).
func maxMatchLen(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpNoMatch, syntax.OpBeginLine, syntax.OpEndLine,
		syntax.OpBeginText, syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return 0
	case syntax.OpLiteral:
		n := 0
		for _, r := range re.Rune {
			if r < utf8.RuneSelf && re.Flags&syntax.FoldCase == 0 {
				n++
			} else {
				n += utf8.UTFMax
			}
		}
		return n
	case syntax.OpCharClass:
		if len(re.Rune) > 0 && re.Rune[len(re.Rune)-1] < utf8.RuneSelf {
			return 1
		}
		return utf8.UTFMax
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return utf8.UTFMax
	case syntax.OpCapture, syntax.OpQuest:
		return maxMatchLen(re.Sub[0])
	case syntax.OpRepeat:
		if re.Max < 0 {
			return -1
		}
		n := maxMatchLen(re.Sub[0])
		if n < 0 || n*re.Max > maxReach {
			return -1
		}
		return n * re.Max
	case syntax.OpConcat, syntax.OpAlternate:
		total := 0
		for _, sub := range re.Sub {
			n := maxMatchLen(sub)
			if n < 0 {
				return -1
			}
			if re.Op == syntax.OpConcat {
				total += n
			} else {
				total = max(total, n)
			}
			if total > maxReach {
				return -1
			}
		}
		return total
	}
	return -1 // star, plus and anything new
}

package rules

import (
	"math"
	"strconv"
	"strings"

	"github.com/interdict/interdict/inspect/applayer"
)

// Entropy is Suricata's entropy keyword on the list's buffer: the
// Shannon entropy (bits per byte, 0 to 8) of Bytes bytes (0: the rest)
// from Offset compared with Value. It is not relative and moves no
// match position. Name is the variable the computed value is kept in
// for EVE's metadata.entropy, Suricata's name of the buffer
// ("file_data", "http_uri"; "content" for the payload).
type Entropy struct {
	Offset, Bytes int
	Value         FloatCmp
	Name          string
}

func (*Entropy) opName() string { return "entropy" }

// FloatCmp is Suricata's float comparison (rust/src/detect/float.rs):
// = != < <= > >= against A, "A-B" (A < x < B) and "!A-B" (x <= A or
// x >= B).
type FloatCmp struct {
	Op   string // = != < <= > >= range !range
	A, B float64
}

// Match reports whether v satisfies the comparison.
func (c FloatCmp) Match(v float64) bool {
	switch c.Op {
	case "!=":
		return v != c.A
	case "<":
		return v < c.A
	case "<=":
		return v <= c.A
	case ">":
		return v > c.A
	case ">=":
		return v >= c.A
	case "range":
		return v > c.A && v < c.B
	case "!range":
		return v <= c.A || v >= c.B
	}
	return v == c.A
}

// parseEntropy reads "[bytes N,] [offset N,] value SPEC" in any order,
// each at most once, value required (detect-entropy.c, entropy.rs).
func parseEntropy(v string) (*Entropy, error) {
	e := &Entropy{}
	seen := map[string]bool{}
	parts := strings.Split(v, ",")
	if len(parts) > 3 {
		return nil, rejectf("entropy: more than bytes, offset and value in %q", v)
	}
	for _, part := range parts {
		part = strings.TrimSpace(part)
		name, val, _ := strings.Cut(part, " ")
		val = strings.TrimSpace(val)
		if seen[name] {
			return nil, rejectf("entropy: %s given twice", name)
		}
		seen[name] = true
		switch name {
		case "bytes", "offset":
			n, err := strconv.Atoi(val)
			if err != nil || name == "offset" && (n > 65535 || n < -65535) {
				return nil, rejectf("entropy: invalid %s value %q", name, val)
			}
			if name == "bytes" {
				e.Bytes = n
			} else {
				e.Offset = n
			}
		case "value":
			c, ok := parseFloatCmp(val)
			if !ok {
				return nil, rejectf("entropy: invalid value %q", val)
			}
			e.Value = c
		default:
			return nil, rejectf("entropy: unknown option %q", name)
		}
	}
	if !seen["value"] {
		return nil, rejectf("entropy: value is required")
	}
	return e, nil
}

// parseFloatCmp reads a float comparison as Suricata's
// detect_parse_float: a range "A-B" or "A<>B" (B > A), optionally
// negated with !, or an operator (=, !=, <, <=, >, >=, none for =)
// before the number; spaces may separate them.
func parseFloatCmp(s string) (FloatCmp, bool) {
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "!") && !strings.HasPrefix(s, "!=")
	if neg {
		s = s[1:]
	}
	for _, sep := range []string{"<>", "-"} {
		// A range's separator follows the first number (whose sign may
		// be a leading '-').
		if i := strings.Index(s[min(1, len(s)):], sep); i >= 0 && !strings.ContainsAny(s[:1], "<>=!") {
			i += min(1, len(s))
			a, errA := parseFloat(s[:i])
			b, errB := parseFloat(s[i+len(sep):])
			if errA == nil && errB == nil && b > a {
				op := "range"
				if neg {
					op = "!range"
				}
				return FloatCmp{Op: op, A: a, B: b}, true
			}
		}
	}
	if neg {
		return FloatCmp{}, false
	}
	c := FloatCmp{Op: "="}
	for _, op := range []string{">=", "<=", "!=", ">", "<", "="} {
		if strings.HasPrefix(s, op) {
			c.Op, s = op, s[len(op):]
			break
		}
	}
	a, err := parseFloat(s)
	if err != nil {
		return FloatCmp{}, false
	}
	c.A = a
	return c, true
}

func parseFloat(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "nan") {
		return math.NaN(), nil
	}
	if s == "" || strings.ContainsAny(s, "xX_") {
		return 0, strconv.ErrSyntax // Go would read hex floats and underscores
	}
	return strconv.ParseFloat(s, 64)
}

// entropyNames are Suricata's registered names of the buffers whose
// name is not ours with '.' for '_' (DetectEngineBufferTypeGetNameById).
var entropyNames = map[applayer.Buffer]string{
	applayer.HTTPURIRaw: "http_raw_uri", applayer.HTTPHostRaw: "http_raw_host",
	applayer.HTTPHeaderRaw: "http_raw_header", applayer.HTTPRequestBody: "http_client_body",
	applayer.HTTPResponseBody: "http_server_body", applayer.BufNone: "content",
}

// entropyName is the variable an entropy on buf keeps its value in;
// fileData says the rule named the buffer file.data (file_data).
func entropyName(buf applayer.Buffer, fileData bool) string {
	if fileData {
		return "file_data"
	}
	if n, ok := entropyNames[buf]; ok {
		return n
	}
	return strings.ReplaceAll(buf.String(), ".", "_")
}

// entropy adds an entropy op (written by the loader as a marker pcre) to
// buf's list.
func (c *converter) entropy(buf applayer.Buffer, v string) error {
	e, err := parseEntropy(v)
	if err != nil {
		return err
	}
	if buf == base64DataBuffer {
		e.Name = "base64_data"
		return c.add(buf, nil, e)
	}
	if c.b64 != nil {
		return rejectf("entropy after base64_decode: only base64_data may follow it")
	}
	l := c.list(buf, c.lastTransforms(buf))
	e.Name = entropyName(l.Buffer, isFileData(buf))
	l.Ops = append(l.Ops, e)
	return nil
}

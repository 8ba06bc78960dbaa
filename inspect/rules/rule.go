package rules

import (
	"fmt"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// Error is one rejected rule. A file with errors still yields its other
// rules.
type Error struct {
	File   string
	Line   int
	SID    int // 0 when the text did not get far enough to have one
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d: sid %d: %s", e.File, e.Line, e.SID, e.Reason)
}

// Value is a number in a rule option, or the name of a byte_extract
// variable whose value is known only while matching.
type Value struct {
	N   int
	Var string
}

func (v Value) String() string {
	if v.Var != "" {
		return v.Var
	}
	return fmt.Sprint(v.N)
}

// Op is one step of a buffer's match chain, in rule order: *Content,
// *PCRE, *ByteTest, *ByteJump, *ByteExtract, *IsDataAt, *Bsize or
// *Base64Decode.
type Op interface{ opName() string }

// Content is content:"..." with its modifiers.
type Content struct {
	Pattern                           []byte
	Negate, Nocase                    bool
	Offset, Depth, Distance, Within   *Value // nil when not given
	StartsWith, EndsWith              bool
	FastPattern, FastPatternOnly      bool // explicit fast_pattern
	FastPatternOffset, FastPatternLen int  // fast_pattern:o,l (Len 0: whole)
}

// Relative reports whether the content is anchored to the previous match.
func (c *Content) Relative() bool { return c.Distance != nil || c.Within != nil }

// PCRE is pcre:"/expr/flags". Expr is the pattern with the flags that map
// onto Go/regexp2 syntax already folded in as an inline group.
type PCRE struct {
	Expr     string
	Negate   bool
	Relative bool // R: start after the previous match
	// Complex marks patterns RE2 cannot run (lookaround, backreferences);
	// the engine uses regexp2 with a timeout for them.
	Complex bool
	// Captures name where the capture groups are stored, in group order
	// ("/(a+)(b)/,flow:x,pkt:y": group 1 in flowvar x, group 2 in pktvar
	// y); the match reports them (inspect.Alert.Vars).
	Captures []Capture
}

// Capture is one pcre capture variable: Kind is pkt, flow or alert.
type Capture struct {
	Kind, Name string
}

// ByteTest is byte_test. Bytes is read from the byte_extract variable
// BytesVar when that is set (Suricata 7's nbytes as a variable).
type ByteTest struct {
	Bytes         int
	BytesVar      string
	Op            string // < > = <= >= & ^ (with Not for !)
	Not           bool
	Value, Offset Value
	Relative      bool
	BigEndian     bool // default big; "little" clears it
	String        bool
	Base          int
	Bitmask       uint64
}

// ByteJump is byte_jump; BytesVar as for ByteTest.
type ByteJump struct {
	Bytes         int
	BytesVar      string
	Offset        Value
	Relative      bool
	BigEndian     bool
	String        bool
	Base          int
	Multiplier    int
	Align         bool
	FromBeginning bool
	FromEnd       bool
	PostOffset    int
	Bitmask       uint64
}

// ByteExtract is byte_extract: it stores a value for later ops.
type ByteExtract struct {
	Bytes      int
	Offset     int
	Var        string
	Relative   bool
	BigEndian  bool
	String     bool
	Base       int
	Multiplier int
	Align      int
	Bitmask    uint64
}

// IsDataAt is isdataat.
type IsDataAt struct {
	Offset   Value
	Relative bool
	Negate   bool
}

// IntCmp is a size comparison (dsize, bsize, urilen).
type IntCmp struct {
	Op       string // "=", "<", ">", "<=", ">=", "!=", "<>"
	N        int
	Min, Max int
}

// Match reports whether n satisfies the comparison.
func (c IntCmp) Match(n int) bool {
	switch c.Op {
	case "<":
		return n < c.N
	case ">":
		return n > c.N
	case "<=":
		return n <= c.N
	case ">=":
		return n >= c.N
	case "!=":
		return n != c.N
	case "<>":
		return n > c.Min && n < c.Max
	}
	return n == c.N
}

// Bsize is bsize (or urilen) on the list's buffer.
type Bsize struct{ IntCmp }

// Base64Decode is base64_decode: it decodes Bytes bytes (0: the rest of
// the buffer) from Offset, counted from the previous match when
// Relative, as RFC 4648 (stopping at the first byte outside the
// alphabet), and matches when the base64_data ops Data match the
// decoded bytes. As in Suricata it ends its list: nothing in the rule may
// follow base64_data.
type Base64Decode struct {
	Bytes, Offset int
	Relative      bool
	Data          []Op
}

func (*Content) opName() string      { return "content" }
func (*PCRE) opName() string         { return "pcre" }
func (*ByteTest) opName() string     { return "byte_test" }
func (*ByteJump) opName() string     { return "byte_jump" }
func (*ByteExtract) opName() string  { return "byte_extract" }
func (*IsDataAt) opName() string     { return "isdataat" }
func (*Bsize) opName() string        { return "bsize" }
func (*Base64Decode) opName() string { return "base64_decode" }

// List is the chain of ops that apply to one buffer. Buffer BufNone is the
// raw stream (TCP) or datagram payload (UDP).
type List struct {
	Buffer     applayer.Buffer
	Transforms []string // applied in order before matching
	Ops        []Op
}

// Flow holds the flow keyword.
type Flow struct {
	ToServer, ToClient bool // both false: either direction
	Established        bool
	NotEstablished     bool
	Stateless          bool
	OnlyStream         bool
	NoStream           bool
}

// Flowbit is one flowbits keyword. Names holds more than one name for
// isset/isnotset with | (any) or & (all).
type Flowbit struct {
	Op    string // set, unset, toggle, isset, isnotset
	Names []string
	All   bool // & instead of |
}

// Flowint is one flowint keyword: a modifier (=, +, -) applied when the
// rule matches, or a condition (==, !=, <, <=, >, >=, isset, notset)
// the rule needs. The operand is Value, or the flowint named Var.
type Flowint struct {
	Name  string
	Op    string
	Value int64
	Var   string
}

// Xbit is one xbits keyword: a bit stored per host (ip_src, ip_dst) or
// per IP pair, across flows, that expires Expire seconds after it was
// last set.
type Xbit struct {
	Op     string // set, unset, toggle, isset, isnotset
	Name   string
	Track  string // ip_src, ip_dst, ip_pair
	Expire int
}

// StreamSize is stream_size: a comparison of the bytes a side has sent so
// far (its sequence-number span, so the SYN counts one) in direction
// server, client, both or either.
type StreamSize struct {
	Side string
	Cmp  IntCmp
}

// Threshold is a threshold or detection_filter (Type "" for the latter).
type Threshold struct {
	Type    string // limit, threshold, both, backoff
	Track   string // by_src, by_dst, by_both, by_rule, by_flow
	Count   int
	Seconds int
	// Multiplier is backoff's factor.
	Multiplier int
}

// Rule is one loaded rule.
type Rule struct {
	Info   *inspect.RuleInfo
	Action inspect.Action
	// Proto is the header protocol as written (tcp, udp, http, ...).
	Proto string
	// Transport is 0 for ip (any) or the transport the protocol runs on.
	Transport inspect.Proto
	// IPVersion is 4 or 6 for the ipv4 and ipv6 protocols (Suricata 7):
	// ip restricted to one address family. 0 accepts both.
	IPVersion uint8
	// AppProto is set for protocols with an app-layer parser (http, tls,
	// dns): the flow must have been detected as that protocol.
	AppProto string
	// ApproxApp names an app protocol without a parser here (smtp, ftp,
	// smb, ...): the rule is matched on the raw transport stream instead.
	ApproxApp string
	// Hook is the rule's explicit hook (Suricata 8's tls:client_hello_done
	// in the header): the app-layer state the rule is evaluated at.
	Hook string
	// AppLayerProtos are the rule's app-layer-protocol keywords, all of
	// which must hold.
	AppLayerProtos []AppLayerProto

	Src, Dst           *AddrSet
	SrcPorts, DstPorts *PortSet
	Bidirectional      bool

	Flow            Flow
	Flowbits        []Flowbit
	Flowints        []Flowint
	Xbits           []Xbit
	StreamSize      *StreamSize
	FlowCounts      []FlowCount
	NoAlert         bool
	Threshold       *Threshold
	DetectionFilter *Threshold
	Dsize           *IntCmp
	Lists           []*List
	// Keywords are the option keywords as written, for statistics.
	Keywords []string
	// ICMP is set when the rule tests ICMP header fields (itype, ...).
	ICMP *ICMP
}

// MatchHeader reports whether the rule's addresses and ports accept a
// packet going from src to dst (in that direction), honouring <>.
func (r *Rule) MatchHeader(srcIP, dstIP inspectAddr, srcPort, dstPort uint16) bool {
	if r.IPVersion != 0 && (r.IPVersion == 4) != srcIP.Is4() {
		return false
	}
	if r.Src.Contains(srcIP) && r.Dst.Contains(dstIP) && r.SrcPorts.Contains(srcPort) && r.DstPorts.Contains(dstPort) {
		return true
	}
	return r.Bidirectional && r.Src.Contains(dstIP) && r.Dst.Contains(srcIP) && r.SrcPorts.Contains(dstPort) && r.DstPorts.Contains(srcPort)
}

package detect

import (
	"fmt"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dlclark/regexp2"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
	"github.com/interdict/interdict/inspect/prefilter"
	"github.com/interdict/interdict/inspect/rules"
)

// Options configure an Engine. The zero value is usable.
type Options struct {
	// Prefilter builds the multi-pattern matcher for each group. Nil uses
	// prefilter.Default (the fastest engine built in); prefilter.NewNaive
	// is only fit for small tests.
	Prefilter prefilter.Builder
	// Window is how many bytes of each direction's stream stay available
	// for verification (default 64 KiB). A rule whose match would span
	// more than Window bytes before the chunk that completes it can be
	// missed: its early bytes are gone. Offsets and depths count from the
	// start of the stream, so anchored rules still never match later.
	Window int
	// MaxPending bounds per direction the rules whose fast pattern was
	// seen but whose chain is not complete yet (default 512).
	MaxPending int
	// RegexTimeout bounds one regexp2 match (default 50 ms); a timeout is
	// a non-match.
	RegexTimeout time.Duration
	// Now is the clock for thresholds (default time.Now).
	Now func() time.Time
	// Thresholds is the parsed threshold.config, if any.
	Thresholds *rules.ThresholdConfig
	// Protos are the app-layer protocols to detect (default
	// applayer.Protos() at New time).
	Protos []applayer.Proto
	// MaxProbe bounds the bytes per direction kept while detecting the
	// app-layer protocol (default 4096).
	MaxProbe int
	// HTTPPorts are server ports where traffic is expected to be HTTP: a
	// TCP flow to one that no parser recognises gets the anomaly
	// HTTP_PORT_NOT_HTTP (the policy decides: alert by default, reject to
	// refuse what the inspector cannot read as the server might).
	HTTPPorts []uint16
	// MaxThresholdEntries bounds the engine-wide threshold table (default
	// 65536); when full, the oldest windows are forgotten.
	MaxThresholdEntries int
	// StreamDepth is how many bytes of each TCP direction the raw-stream
	// rules (those on no app-layer buffer) inspect, like Suricata's
	// stream.reassembly.depth; 0 is unlimited. Past it the prefilter no
	// longer scans the stream and raw rules with payload keywords stop;
	// the app-layer parser and the buffer rules go on (each HTTP
	// transaction is still inspected within the body limit), and so do
	// rules without payload keywords (flowbits, dsize, header only).
	// Trade-off: on a flow no parser recognised, bytes past the depth
	// are forwarded unseen by payload rules, so an attacker can pad a
	// connection past it before sending the payload.
	StreamDepth int64
	// StreamDepthReject chooses the other way for a TCP flow no parser
	// recognised: the chunk that would cross StreamDepth raises the
	// anomaly STREAM_DEPTH_UNRECOGNISED (the policy rejects it by default),
	// so nothing past the depth is forwarded uninspected.
	StreamDepthReject bool
	// Packets says the caller reports packets (inspect.PacketInspector:
	// replay); rules on packet counts (flow.pkts, flow.bytes) are
	// rejected without it.
	Packets bool
	// ActionOrder is Suricata's action-order setting: the precedence of
	// pass, drop, reject and alert, strongest first (nil: Suricata's
	// default pass, drop, reject, alert). See ParseActionOrder.
	ActionOrder []inspect.Action
}

func (o *Options) setDefaults() {
	if o.Prefilter == nil {
		o.Prefilter = prefilter.Default()
	}
	if o.Window <= 0 {
		o.Window = 64 << 10
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 512
	}
	if o.RegexTimeout <= 0 {
		o.RegexTimeout = 50 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Protos == nil {
		o.Protos = applayer.Protos()
	}
	if o.MaxProbe <= 0 {
		o.MaxProbe = 4096
	}
	if o.MaxThresholdEntries <= 0 {
		o.MaxThresholdEntries = 65536
	}
}

const (
	trTCP = iota
	trUDP
	numTransports
)

type groupKey struct {
	tr  uint8
	dir inspect.Direction
	buf applayer.Buffer
	tf  string // transforms joined with ","
}

// group is the set of rules triggered from one buffer in one direction
// on one transport.
type group struct {
	key        groupKey
	transforms []string
	m          prefilter.Matcher // nil when no rule has a fast pattern here
	always     []uint32          // rules evaluated whenever the buffer is seen
	nrules     int
	// solo: every rule looks only at this group's buffer and reads no
	// flowbits, so its verdict is a function of the buffer alone.
	solo bool
	// ai indexes always by address (raw groups; nil: check each rule).
	ai *alwaysIndex
	// pool lends streams for buffers scanned whole (see scanBuffer).
	pool sync.Pool
}

type clist struct {
	buf        applayer.Buffer
	transforms []string
	tf         string
	ops        []cop
}

type cflowbit struct {
	op  string
	ids []int
	all bool
}

type crule struct {
	r     *rules.Rule
	idx   uint32
	lists []clist
	dirs  uint8 // bit 1<<dir
	trs   uint8 // bit 1<<trTCP, 1<<trUDP
	bits  []cflowbit
	ints  []cflowint
	xbits []cxbit
	reads bool // has isset/isnotset (or flowint conditions): runs after rules that set bits
	slots map[string]int
	nvars int
	// caps: a pcre of the rule stores capture groups (pcrevars.go);
	// ent: it has entropy ops, whose values the flow keeps (entropy.go).
	caps  bool
	ent   bool
	fpLen int // 0: no fast pattern (always evaluated)
	// order is the order lists are verified in on a Unit: buffers first,
	// the raw stream last. The raw list of a rule mixing it with buffers
	// is a search of the whole stream window; ET Open has such rules
	// (content:"/icon.php"; urilen:9) whose buffer part fails on almost
	// every request, and verifying the window first was most of the
	// verification time of BenchmarkInspectETOpen/full.
	order []int
	// fpOp is the index in the trigger list of the content that is
	// wholly the fast pattern, -1 if there is none (fast_pattern:o,l on
	// part of it): the prefilter reports every new occurrence of it.
	fpOp     int
	trigger  int // index into lists of the trigger list, -1: raw without list
	thresh   *rules.Threshold
	suppress []rules.Suppress
	rate     *rules.RateFilter
	// perDir: the rule alerts once per transaction and direction, not
	// once per transaction. Suricata's tls_generic keywords (ssl_version)
	// are inspected in both directions of the one TLS transaction, and a
	// rule on them alerts for each side that matches.
	perDir bool
	// pdOnly: only app-layer-protocol tests (applayerproto.go).
	pdOnly bool
	// pkt marks a rule without payload keywords: when the caller reports
	// packets (FlowMeta.Packets) it is evaluated per TCP packet, as
	// Suricata does, not per stream chunk (packet.go).
	pkt bool
	// ipOnly: a pkt rule with nothing but its header, evaluated on the
	// first packet of each direction only (Suricata's IP-only rules).
	// flowScope: its pass decides the flow, not only the packet (IP-only
	// and protocol-only rules); other pkt rules pass one packet.
	ipOnly, flowScope bool
}

// Engine is a compiled rule set. It is safe for concurrent use and
// implements inspect.FlowFactory.
type Engine struct {
	opts   Options
	rules  []*crule
	groups map[groupKey]*group
	raw    [numTransports][2]*group
	byBuf  map[groupKey][]*group // key with tf "" -> all transform variants
	// bufGroups is byBuf as an array, for the per-Unit loop over every
	// buffer (hashing groupKey there was ~6% of inspection time).
	bufGroups [numTransports][2][applayer.NumBuffers][]*group
	bitNames  []string
	intIDs    map[string]int // flowint names (flowint.go)
	xbits     *xbitTable     // nil without xbits rules (xbits.go)
	rejected  []*rules.Error
	th        *thresholdTable
	icmp      []uint32 // rules run on each ICMP message, in load order
	rank      actionRank
	// pcres and pcreErrs hold the regexes compiled ahead by
	// compilePCREs, during New only.
	pcres    map[*rules.PCRE]*cpcre
	pcreErrs map[*rules.PCRE]error
}

var _ inspect.FlowFactory = (*Engine)(nil)

// bufDirs says which direction a buffer can appear in (bit 1<<dir), so
// that a rule without flow:to_server still only runs where its buffer is.
func bufDirs(b applayer.Buffer) uint8 {
	const cs, sc = 1 << inspect.ToServer, 1 << inspect.ToClient
	switch b {
	case applayer.HTTPMethod, applayer.HTTPURI, applayer.HTTPURIRaw, applayer.HTTPRequestLine,
		applayer.HTTPHost, applayer.HTTPHostRaw, applayer.HTTPUserAgent, applayer.HTTPCookie,
		applayer.HTTPRequestBody, applayer.HTTPAccept, applayer.HTTPAcceptEnc, applayer.HTTPAcceptLang,
		applayer.HTTPReferer, applayer.TLSSNI, applayer.HTTPRequestHeader, applayer.JA3Hash, applayer.JA3String,
		applayer.JA4Hash, applayer.DNSQuery:
		return cs
	case applayer.HTTPStatCode, applayer.HTTPStatMsg, applayer.HTTPResponseLine, applayer.HTTPResponseBody,
		applayer.HTTPLocation, applayer.HTTPServer, applayer.HTTPResponseHeader, applayer.TLSCertSubject,
		applayer.TLSCertIssuer, applayer.TLSCertSerial, applayer.TLSCertFingerprint, applayer.TLSCerts,
		applayer.JA3SHash, applayer.JA3SString, applayer.TLSSubjectAltName, applayer.DNSResponseRRName:
		return sc
	}
	return cs | sc
}

// New compiles rules. Rules the engine cannot run are left out and listed
// by Rejected; New fails only when a prefilter cannot be built.
func New(rs []*rules.Rule, opts Options) (*Engine, error) {
	opts.setDefaults()
	e := &Engine{opts: opts, groups: map[groupKey]*group{}, byBuf: map[groupKey][]*group{}}
	e.th = newThresholdTable(opts.MaxThresholdEntries)
	if err := e.rank.set(opts.ActionOrder); err != nil {
		return nil, err
	}
	bitIDs := map[string]int{}
	patterns := map[groupKey][]prefilter.Pattern{}
	e.compilePCREs(rs)
	for _, r := range rs {
		cr, err := e.compileRule(r, bitIDs)
		if err != nil {
			e.rejected = append(e.rejected, &rules.Error{File: r.Info.File, Line: r.Info.Line, SID: int(r.Info.SID), Reason: err.Error()})
			continue
		}
		cr.idx = uint32(len(e.rules))
		e.rules = append(e.rules, cr)
		e.addICMP(cr)
		var buf applayer.Buffer
		var tf string
		var tfs []string
		var fp []byte
		var nocase bool
		if cr.trigger >= 0 {
			l := &cr.lists[cr.trigger]
			buf, tf, tfs = l.buf, l.tf, l.transforms
			var at int
			fp, nocase, at = fastPattern(l)
			if at >= 0 && len(fp) == len(l.ops[at].content.Pattern) {
				cr.fpOp = at
			}
		}
		cr.fpLen = len(fp)
		for tr := uint8(0); tr < numTransports; tr++ {
			if cr.trs&(1<<tr) == 0 {
				continue
			}
			for d := inspect.ToServer; d <= inspect.ToClient; d++ {
				if cr.dirs&(1<<d) == 0 {
					continue
				}
				k := groupKey{tr: tr, dir: d, buf: buf, tf: tf}
				switch {
				case buf == applayer.FileData && d == inspect.ToClient:
					// To the client file.data's one file is the response
					// body: its rules join the body's prefilter group, so
					// the body is scanned once, and only its new bytes
					// with each Unit (a group of its own scanned each
					// Unit's body whole: ET Open at 0.7x).
					k.buf = applayer.HTTPResponseBody
				case buf == applayer.FileData && tf == "":
					// To the server the files are pieces of the request
					// body (a PUT body, multipart parts): a fast pattern
					// in a file is in the body, so the body's prefilter
					// finds every candidate, and evaluation looks at each
					// file. Transformed, a file is not a piece of the
					// transformed body: those keep a group of their own.
					k.buf = applayer.HTTPRequestBody
				}
				g := e.groups[k]
				if g == nil {
					g = &group{key: k, transforms: tfs, solo: true}
					e.groups[k] = g
					bk := k
					bk.tf = ""
					e.byBuf[bk] = append(e.byBuf[bk], g)
					if buf == applayer.BufNone {
						e.raw[tr][d] = g
					}
				}
				g.nrules++
				if len(cr.lists) != 1 || cr.reads || cr.r.Dsize != nil {
					g.solo = false
				}
				if fp == nil {
					g.always = append(g.always, cr.idx)
				} else {
					patterns[k] = append(patterns[k], prefilter.Pattern{ID: cr.idx, Data: fp, Nocase: nocase})
				}
			}
		}
	}
	e.pcres, e.pcreErrs = nil, nil
	e.bitNames = make([]string, len(bitIDs))
	for n, i := range bitIDs {
		e.bitNames[i] = n
	}
	var raw []*group
	for _, g := range e.raw {
		for _, gd := range g {
			if gd != nil {
				raw = append(raw, gd)
			}
		}
	}
	e.indexAlways(raw)
	for k, gs := range e.byBuf {
		if k.buf != applayer.BufNone && k.dir <= inspect.ToClient {
			e.bufGroups[k.tr][k.dir][k.buf] = gs
		}
	}
	for k, ps := range patterns {
		m, err := opts.Prefilter(ps)
		if err != nil {
			return nil, fmt.Errorf("detect: prefilter for %s: %w", groupName(k), err)
		}
		e.groups[k].m = m
	}
	return e, nil
}

func groupName(k groupKey) string {
	tr := "tcp"
	if k.tr == trUDP {
		tr = "udp"
	}
	b := k.buf.String()
	if b == "" {
		b = "stream"
	}
	if k.tf != "" {
		b += "|" + k.tf
	}
	return tr + "/" + k.dir.String() + "/" + b
}

// fastPattern picks a list's fast pattern: the explicit fast_pattern, else
// the longest positive content, the more varied of equally long ones (as
// Suricata does). at is the index of its op (-1: none).
func fastPattern(l *clist) (fp []byte, nocase bool, at int) {
	var best *ccontent
	at = -1
	for i, op := range l.ops {
		c := op.content
		if c == nil || c.Negate {
			continue
		}
		if c.FastPattern {
			best, at = c, i
			break
		}
		if best == nil || len(c.Pattern) > len(best.Pattern) ||
			len(c.Pattern) == len(best.Pattern) && patternStrength(c.Pattern) > patternStrength(best.Pattern) {
			best, at = c, i
		}
	}
	if best == nil {
		return nil, false, -1
	}
	p := best.Pattern
	if best.FastPatternLen > 0 {
		p = p[best.FastPatternOffset : best.FastPatternOffset+best.FastPatternLen]
	}
	return p, best.Nocase, at
}

// patternStrength scores how rarely a pattern of a given length can be
// expected in traffic: each distinct byte counts more than a repeated
// one, and bytes outside the letters more than letters.
func patternStrength(p []byte) int {
	var seen [256]bool
	s := 0
	for _, c := range p {
		switch {
		case seen[c]:
			s++
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			s += 3
		case c >= 0x20 && c < 0x7f || c == 0 || c == 1 || c == 0xff:
			s += 4
		default:
			s += 6
		}
		seen[c] = true
	}
	return s
}

// triggerPriority ranks the lists a rule can be triggered from, as
// Suricata's fast pattern selection ranks buffers: app-layer buffers
// first, then the raw stream, and http.method last (a handful of values,
// GET and POST on nearly every request). In ET Open, rules like
// http.method; content:"POST"; http.uri; content:"/login" triggered on
// every POST.
func triggerPriority(b applayer.Buffer) int {
	switch b {
	case applayer.HTTPMethod:
		return 0
	case applayer.BufNone:
		return 1
	}
	return 2
}

func (e *Engine) compileRule(r *rules.Rule, bitIDs map[string]int) (*crule, error) {
	cr := &crule{r: r, trigger: -1, fpOp: -1, slots: map[string]int{}, pdOnly: pdOnly(r)}
	switch r.Transport {
	case inspect.ProtoTCP:
		cr.trs = 1 << trTCP
	case inspect.ProtoUDP:
		cr.trs = 1 << trUDP
	case 0:
		cr.trs = 1<<trTCP | 1<<trUDP
	case inspect.ProtoICMP:
		// ICMP rules join no stream or datagram group: see icmp.go.
		cr.trs = 0
	default:
		return nil, fmt.Errorf("protocol %s: only TCP streams and UDP payloads are inspected", r.Proto)
	}
	cr.dirs = 1<<inspect.ToServer | 1<<inspect.ToClient
	switch {
	case r.Flow.ToServer:
		cr.dirs = 1 << inspect.ToServer
	case r.Flow.ToClient:
		cr.dirs = 1 << inspect.ToClient
	}
	hasRaw, hasBuf := false, false
	for _, l := range r.Lists {
		cl := clist{buf: l.Buffer, transforms: l.Transforms, tf: strings.Join(l.Transforms, ",")}
		if l.Buffer == applayer.BufNone {
			hasRaw = true
			if len(l.Transforms) > 0 {
				return nil, fmt.Errorf("transforms on the raw stream are not supported")
			}
		} else {
			hasBuf = true
			cr.dirs &= bufDirs(l.Buffer)
			// Suricata's tls_generic and HTTP/2 frame keywords are
			// inspected in both directions of a transaction.
			cr.perDir = cr.perDir || l.Buffer == applayer.SSLVersion || l.Buffer.IsHTTP2()
		}
		if l.Buffer == applayer.AppLayerEvent {
			if err := e.checkEvent(l); err != nil {
				return nil, err
			}
		}
		if l.Buffer == applayer.AppHook {
			if err := e.checkHook(r); err != nil {
				return nil, err
			}
		}
		for _, op := range l.Ops {
			c, err := e.compileOp(op, cr)
			if err != nil {
				return nil, err
			}
			cl.ops = append(cl.ops, c)
		}
		// An op is worth retrying at another occurrence only if something
		// after it depends on where it matched.
		for i := range cl.ops {
			for _, later := range cl.ops[i+1:] {
				if isRelative(later) {
					cl.ops[i].later = true
					break
				}
			}
		}
		cr.lists = append(cr.lists, cl)
	}
	for i := range cr.lists {
		if cr.lists[i].buf != applayer.BufNone {
			cr.order = append(cr.order, i)
		}
	}
	for i := range cr.lists {
		if cr.lists[i].buf == applayer.BufNone {
			cr.order = append(cr.order, i)
		}
	}
	if cr.dirs == 0 {
		// Request buffers stay set on the response's Unit, so a rule that
		// mixes them runs on the response.
		cr.dirs = 1 << inspect.ToClient
		if r.Flow.ToServer {
			return nil, fmt.Errorf("flow:to_server with response buffers")
		}
	}
	// Trigger on the list holding the best fast pattern: an explicit
	// fast_pattern, else by buffer priority, then length, then strength;
	// else the first list.
	type rank struct{ explicit, prio, n, strength int }
	better := func(a, b rank) bool {
		if a.explicit != b.explicit {
			return a.explicit > b.explicit
		}
		if a.prio != b.prio {
			return a.prio > b.prio
		}
		if a.n != b.n {
			return a.n > b.n
		}
		return a.strength > b.strength
	}
	var bestRank rank
	best := -1
	for i := range cr.lists {
		if hasRaw && hasBuf && cr.lists[i].buf == applayer.BufNone {
			// Mixed rules trigger from a buffer; the raw list is then
			// checked against the stream window of the Unit's direction.
			continue
		}
		if fp, _, _ := fastPattern(&cr.lists[i]); fp != nil {
			r := rank{prio: triggerPriority(cr.lists[i].buf), n: len(fp), strength: patternStrength(fp)}
			for _, op := range cr.lists[i].ops {
				if op.content != nil && op.content.FastPattern && !op.content.Negate {
					r.explicit = 1
				}
			}
			if best < 0 || better(r, bestRank) {
				bestRank, best = r, i
			}
		}
	}
	if best < 0 && len(cr.lists) > 0 {
		best = 0
		for i := range cr.lists {
			if cr.lists[i].buf != applayer.BufNone {
				best = i
				break
			}
		}
	}
	cr.trigger = best
	for _, fb := range r.Flowbits {
		cf := cflowbit{op: fb.Op, all: fb.All}
		for _, n := range fb.Names {
			id, ok := bitIDs[n]
			if !ok {
				id = len(bitIDs)
				bitIDs[n] = id
			}
			cf.ids = append(cf.ids, id)
		}
		if fb.Op == "isset" || fb.Op == "isnotset" {
			cr.reads = true
		}
		cr.bits = append(cr.bits, cf)
	}
	e.compileFlowints(r, cr)
	e.compileXbits(r, cr)
	if len(r.FlowCounts) > 0 && !e.opts.Packets {
		return nil, fmt.Errorf("flow.pkts and flow.bytes count packets, which only replay sees: a proxy inspects streams")
	}
	if len(cr.lists) == 0 {
		cr.pkt = true
		cr.flowScope = r.Flow == (rules.Flow{}) && len(r.Flowbits) == 0 && len(r.Flowints) == 0 && len(r.Xbits) == 0 &&
			r.Dsize == nil && r.StreamSize == nil && r.ICMP == nil && len(r.FlowCounts) == 0
		cr.ipOnly = cr.flowScope && r.AppProto == "" && r.ApproxApp == "" && len(r.AppLayerProtos) == 0
	}
	cr.thresh = r.Threshold
	if tc := e.opts.Thresholds; tc != nil {
		if t, ok := tc.Override[r.Info.SID]; ok {
			cr.thresh = t
		}
		cr.suppress = tc.Suppress[r.Info.SID]
		cr.rate = tc.Rate[r.Info.SID]
	}
	return cr, nil
}

// compilePCRE compiles one pcre op for regexp or regexp2.
func compilePCRE(o *rules.PCRE, timeout time.Duration) (*cpcre, error) {
	p := &cpcre{PCRE: o, reach: -1}
	if !o.Complex {
		re, err := regexp.Compile(o.Expr)
		if err != nil {
			return nil, fmt.Errorf("pcre: %w", err)
		}
		p.re = re
		p.reach = regexReach(o.Expr)
		return p, nil
	}
	re, err := regexp2.Compile(o.Expr, regexp2.None)
	if err != nil {
		return nil, fmt.Errorf("pcre: %w", err)
	}
	re.MatchTimeout = timeout
	p.re2 = re
	return p, nil
}

// compilePCREs compiles every pcre of rs on GOMAXPROCS goroutines ahead
// of the (serial) rule compilation, where they were most of New's time.
func (e *Engine) compilePCREs(rs []*rules.Rule) {
	var ops []*rules.PCRE
	for _, r := range rs {
		for _, l := range r.Lists {
			for _, op := range l.Ops {
				if o, ok := op.(*rules.PCRE); ok {
					ops = append(ops, o)
				}
			}
		}
	}
	out := make([]*cpcre, len(ops))
	errs := make([]error, len(ops))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(ops)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ops) {
					return
				}
				out[i], errs[i] = compilePCRE(ops[i], e.opts.RegexTimeout)
			}
		}()
	}
	wg.Wait()
	e.pcres = make(map[*rules.PCRE]*cpcre, len(ops))
	e.pcreErrs = map[*rules.PCRE]error{}
	for i, o := range ops {
		if errs[i] != nil {
			e.pcreErrs[o] = errs[i]
			continue
		}
		e.pcres[o] = out[i]
	}
}

func isRelative(op cop) bool {
	switch {
	case op.content != nil:
		return op.content.Relative()
	case op.pcre != nil:
		return op.pcre.Relative
	case op.test != nil:
		return op.test.Relative
	case op.jump != nil:
		return op.jump.Relative
	case op.extract != nil:
		return op.extract.Relative
	case op.dataAt != nil:
		return op.dataAt.Relative
	case op.b64 != nil:
		return op.b64.Relative
	}
	return false
}

func (e *Engine) compileOp(op rules.Op, cr *crule) (cop, error) {
	switch o := op.(type) {
	case *rules.Content:
		return cop{content: &ccontent{Content: o, lower: toLowerASCII(o.Pattern)}}, nil
	case *rules.PCRE:
		p, err := e.pcres[o], e.pcreErrs[o]
		if p == nil && err == nil {
			p, err = compilePCRE(o, e.opts.RegexTimeout)
		}
		if err != nil {
			return cop{}, err
		}
		cr.caps = cr.caps || o.Captures != nil
		return cop{pcre: p}, nil
	case *rules.ByteTest:
		return cop{test: o}, nil
	case *rules.ByteJump:
		return cop{jump: o}, nil
	case *rules.ByteExtract:
		if _, ok := cr.slots[o.Var]; !ok {
			cr.slots[o.Var] = cr.nvars
			cr.nvars++
		}
		return cop{extract: o}, nil
	case *rules.IsDataAt:
		return cop{dataAt: o}, nil
	case *rules.Bsize:
		return cop{bsize: o}, nil
	case *rules.HashSet:
		return cop{set: o}, nil
	case *rules.Entropy:
		cr.ent = true
		return cop{ent: o}, nil
	case *rules.Base64Decode:
		b := &cb64{Base64Decode: o}
		for _, d := range o.Data {
			c, err := e.compileOp(d, cr)
			if err != nil {
				return cop{}, err
			}
			b.ops = append(b.ops, c)
		}
		for i := range b.ops {
			for _, later := range b.ops[i+1:] {
				if isRelative(later) {
					b.ops[i].later = true
					break
				}
			}
		}
		return cop{b64: b}, nil
	}
	return cop{}, fmt.Errorf("unsupported op %T", op)
}

// Rules returns the number of rules compiled in.
func (e *Engine) Rules() int { return len(e.rules) }

// Rejected lists loaded rules the engine could not run, with the reason.
func (e *Engine) Rejected() []*rules.Error { return e.rejected }

// GroupStat describes one prefilter group.
type GroupStat struct {
	Name     string
	Rules    int
	Patterns int
	Always   int
	Engine   string
}

// Groups describes the prefilter groups, sorted by name.
func (e *Engine) Groups() []GroupStat {
	var out []GroupStat
	for k, g := range e.groups {
		s := GroupStat{Name: groupName(k), Rules: g.nrules, Always: len(g.always)}
		if g.m != nil {
			s.Patterns, s.Engine = g.m.Patterns(), g.m.Name()
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// checkHook refuses a rule hooked at a state its protocol's parser does
// not mark: it would load and never fire.
func (e *Engine) checkHook(r *rules.Rule) error {
	name := r.AppProto
	if name == "http1" {
		name = "http" // the HTTP/1 parser's name
	}
	for _, p := range e.opts.Protos {
		if p.Name == name && slices.Contains(p.Hooks, r.Hook) {
			return nil
		}
	}
	return fmt.Errorf("rule hook %s:%s: the %s parser does not mark that state", r.Proto, r.Hook, r.AppProto)
}

// checkEvent refuses app-layer-event names that the protocol's parser
// declares it never raises: such a rule would load and never fire.
func (e *Engine) checkEvent(l *rules.List) error {
	for _, op := range l.Ops {
		c, ok := op.(*rules.Content)
		if !ok {
			continue
		}
		proto, name, _ := strings.Cut(string(c.Pattern), ".")
		for _, p := range e.opts.Protos {
			if p.Name == proto && p.Events != nil && !slices.Contains(p.Events, name) {
				return fmt.Errorf("app-layer-event %s: the %s parser does not raise it", c.Pattern, proto)
			}
		}
	}
	return nil
}

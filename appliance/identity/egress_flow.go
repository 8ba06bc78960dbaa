package identity

import (
	"cmp"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/net/http2/hpack"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/netstack"
)

// Bounds of the DNS answer cache.
const (
	// maxTTL caps how long an answer allows its addresses: a resolver
	// that answers with a week-long TTL must not open an address for a
	// week.
	maxTTL = time.Hour
	// minTTL keeps an address usable for the connection that follows
	// its answer even when the TTL is 0.
	minTTL = 5 * time.Second
	// maxCachedAddrs bounds the addresses kept per identity; when full,
	// expired ones go first, then arbitrary ones.
	maxCachedAddrs = 4096
	// maxNamesPerAddr bounds the names kept per address.
	maxNamesPerAddr = 8
)

// cachedName is a name a DNS answer gave an address, until its TTL ends.
type cachedName struct {
	name  string
	until time.Time
}

// dnsCache keeps, per identity, the names DNS answers forwarded to it
// gave each address. A slice once published is never written again, so
// readers use it without the lock.
type dnsCache struct {
	mu sync.RWMutex
	m  map[string]map[netip.Addr][]cachedName
}

func (c *dnsCache) lookup(identity string, a netip.Addr) []cachedName {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[identity][a]
}

func (c *dnsCache) add(identity string, a netip.Addr, name string, until time.Time, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]map[netip.Addr][]cachedName{}
	}
	byAddr := c.m[identity]
	if byAddr == nil {
		byAddr = map[netip.Addr][]cachedName{}
		c.m[identity] = byAddr
	}
	old, had := byAddr[a]
	if !had && len(byAddr) >= maxCachedAddrs {
		for k, v := range byAddr {
			if expired(v, now) {
				delete(byAddr, k)
			}
		}
		for k := range byAddr {
			if len(byAddr) < maxCachedAddrs {
				break
			}
			delete(byAddr, k)
		}
	}
	next := make([]cachedName, 0, len(old)+1)
	for _, cn := range old {
		if cn.name != name && now.Before(cn.until) {
			next = append(next, cn)
		}
	}
	if len(next) >= maxNamesPerAddr {
		next = next[1:]
	}
	byAddr[a] = append(next, cachedName{name: name, until: until})
}

func expired(v []cachedName, now time.Time) bool {
	for _, cn := range v {
		if now.Before(cn.until) {
			return false
		}
	}
	return true
}

// SetPolicies compiles and installs the egress policies; on an error
// the running policies stay. known is as for CompilePolicies.
func (e *Engine) SetPolicies(list []PolicyConfig, known func(string) bool) error {
	ps, err := CompilePolicies(list, known)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		ps = nil
	}
	e.pols.Store(ps)
	return nil
}

// egressNewFlow decides a new flow of id under policy eg: refused before
// inner sees it (so before any upstream dial), admitted, or admitted
// behind a wrapper that decides on the first bytes. DNS over UDP is
// always wrapped: each query is checked by name.
func (e *Engine) egressNewFlow(eg *egress, id *Identity, info *netstack.FlowInfo, inner netstack.Handler) (netstack.FlowHandler, netstack.Verdict) {
	now := e.clock.Now()
	dst := info.Dst
	if info.Proto == netstack.UDP && dst.Port() == 53 {
		fh, v := inner.NewFlow(info)
		if v.Terminal() {
			return fh, v
		}
		out, _, _ := eg.decideL4(dst, info.Proto, now, nil)
		return &dnsFlow{wrapped: newWrapped(e, id, info, fh, v), eg: eg, addrAllowed: out == l4Allow || eg.defAllow}, netstack.Continue
	}
	resolved := e.dns.lookup(id.Name, dst.Addr().Unmap())
	out, _, _ := eg.decideL4(dst, info.Proto, now, resolved)
	if out == l4Deny && !eg.enforcing && info.Proto == netstack.TCP {
		// Audit: the first bytes name the destination, for the
		// would-deny event and for what policy suggest learns.
		out = l4NeedL7
	}
	if out != l4NeedL7 {
		e.observe(id, seenName(resolved, now), dst.Addr().Unmap(), dst.Port(), info.Proto, "", "")
	}
	switch {
	case out == l4Allow || eg.defAllow:
		e.m.egressAllow.Inc()
		return inner.NewFlow(info)
	case out == l4NeedL7:
		fh, v := inner.NewFlow(info)
		if v.Terminal() {
			return fh, v
		}
		return &l7Flow{wrapped: newWrapped(e, id, info, fh, v), eg: eg}, netstack.Continue
	}
	name := ""
	src := ""
	if len(resolved) > 0 {
		name, src = resolved[len(resolved)-1].name, "dns"
	}
	if e.deny(eg, id, info, denial{name: name, source: src, reason: "no allow entry matches the address, port and protocol"}) {
		return nil, netstack.Reject
	}
	return inner.NewFlow(info)
}

// seenName is the freshest name a DNS answer gave the address, "" if
// none is in force.
func seenName(resolved []cachedName, now time.Time) string {
	for i := len(resolved) - 1; i >= 0; i-- {
		if now.Before(resolved[i].until) {
			return resolved[i].name
		}
	}
	return ""
}

// denial describes what a denial saw, for the EVE event.
type denial struct {
	name, source, method, path, reason string
}

// deny records a denial (or would-deny) and counts it for the
// policy-denial triggers; it reports whether the flow must be refused.
func (e *Engine) deny(eg *egress, id *Identity, info *netstack.FlowInfo, d denial) bool {
	action := "deny"
	if !eg.enforcing {
		action = "would-deny"
	}
	e.m.egress.WithLabelValues(action).Inc()
	meta := inspect.FlowMeta{ID: info.ID, Proto: inspect.Proto(info.Proto), Src: info.Src, Dst: info.Dst, Identity: id, Start: info.Start}
	ev := eve.Base(e.clock.Now(), eve.TypePolicy, &meta, inspect.ToServer)
	ev.InIface = info.NIC
	ev.Policy = &eve.Policy{Action: action, Policy: eg.name, Entry: "default", Name: d.name, NameSource: d.source,
		Method: d.method, Path: d.path, Reason: d.reason}
	e.emit(&ev)
	e.countTrigger(kindDenial, id, info)
	return eg.enforcing
}

// countTrigger feeds the triggers of a kind counted per flow event
// (policy denials, token misuse); resets run on another goroutine.
func (e *Engine) countTrigger(kind string, id *Identity, info *netstack.FlowInfo) {
	s := e.set.Load()
	if !s.kinds[kind] {
		return
	}
	if cs := e.countFlow(s, kind, id, info); len(cs) > 0 {
		e.async(func() { e.apply(cs) })
	}
}

// l7Flow holds a flow whose policy decision needs its first bytes: the
// TLS SNI or the HTTP request (Host, method, path). A ClientHello or
// request head split over reads is held (netstack.Hold) until it is
// whole, so a denial resets the flow before the target sees any of it.
// Every later HTTP request of the flow is checked too: the framer finds
// each one, in a read of its own, pipelined behind another or behind a
// body.
type l7Flow struct {
	wrapped
	eg *egress

	mu      sync.Mutex
	decided bool
	http    bool
	head    headBuf   // a ClientHello split over reads
	reqs    reqFramer // the requests of an HTTP flow
	h2      *h2Reqs   // its requests after an Upgrade: h2c
}

// Chunk implements netstack.FlowHandler.
func (f *l7Flow) Chunk(dir netstack.Direction, b []byte) netstack.Verdict {
	if dir == netstack.ToServer {
		v, fwd := f.check(b)
		if v.Terminal() || v == netstack.Hold {
			return v
		}
		b = fwd
	} else {
		f.mu.Lock()
		fromServer(&f.reqs, &f.h2, b)
		f.mu.Unlock()
	}
	if f.innerPassed.Load() {
		f.mu.Lock()
		done := f.decided && (!f.http || f.reqs.st == frOpaque && f.h2 == nil)
		f.mu.Unlock()
		if done {
			return netstack.Pass
		}
	}
	return f.next(dir, b)
}

// check decides on the chunk b to the server. On a verdict that lets it
// through, fwd is what the inner handler has not seen yet: the held
// reads with b when they were held, else b.
func (f *l7Flow) check(b []byte) (v netstack.Verdict, fwd []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.decided && !f.http {
		return netstack.Continue, b
	}
	now := f.e.clock.Now()
	resolved := f.e.dns.lookup(f.id.Name, f.info.Dst.Addr().Unmap())
	if !f.decided {
		if head := f.head.add(b); len(head) > 0 && head[0] == 0x16 {
			sni, done := helloSNI(head)
			if !done {
				if f.head.wait(head, b) {
					return netstack.Hold, b
				}
			}
			fwd = f.head.release(head, b)
			f.decided = true
			f.e.observe(f.id, cmp.Or(sni, seenName(resolved, now)), f.info.Dst.Addr().Unmap(), f.info.Dst.Port(), netstack.TCP, "", "")
			if _, ok := f.eg.decideL7(f.info.Dst, now, sni, "", "", resolved); ok {
				f.e.m.egressAllow.Inc()
				return netstack.Continue, fwd
			}
			return f.refuse(denial{name: sni, source: nameSource(sni, "sni"), reason: "TLS server name not allowed"}), fwd
		}
	}
	allowed := func(h *reqHead) bool {
		f.decided, f.http = true, true
		f.e.observe(f.id, cmp.Or(h.host, seenName(resolved, now)), f.info.Dst.Addr().Unmap(), f.info.Dst.Port(), netstack.TCP, h.method, h.path)
		if _, ok := f.eg.decideL7(f.info.Dst, now, h.host, h.method, h.path, resolved); ok {
			f.e.m.egressAllow.Inc()
			return true
		}
		return !f.e.deny(f.eg, f.id, f.info, denial{name: h.host, source: nameSource(h.host, "host"), method: h.method, path: h.path,
			reason: "HTTP request not allowed"})
	}
	if f.h2 != nil {
		// After an Upgrade: h2c: each HTTP/2 request is decided like an
		// HTTP/1 one; HTTP/2 that does not parse is refused. Bytes held
		// as the start of a request when the 101 came are HTTP/2 too.
		b = f.reqs.release(b)
		switch f.h2.feed(inspect.ToServer, b, func(fields []hpack.HeaderField) bool {
			h := h2Head(fields)
			if h.method == "" {
				// Trailers: the stream's request was decided on its
				// HEADERS (a request without :method is malformed and
				// refused by servers).
				return true
			}
			return allowed(&h)
		}) {
		case frameStop:
			return netstack.Reject, b
		case frameBad:
			name := seenName(resolved, now)
			return f.refuse(denial{name: name, source: nameSource(name, "dns"), reason: "HTTP/2 the policy cannot read"}), b
		}
		return netstack.Continue, b
	}
	res := f.reqs.feed(b, allowed)
	switch {
	case res == frameMore:
		f.reqs.hold(b)
		return netstack.Hold, b
	case res == frameStop:
		return netstack.Reject, b
	case res == frameOK, res == frameOpaque && f.decided: // switched protocols after an allowed request
		return netstack.Continue, f.reqs.release(b)
	}
	// Not a request where one must start: what follows cannot be framed
	// (in ids mode the rest of the flow goes unchecked).
	fwd = f.reqs.release(b)
	f.reqs.st = frOpaque
	name := seenName(resolved, now)
	reason := "bytes where an HTTP request must start are not one the policy can read"
	if !f.decided {
		f.decided = true
		f.e.observe(f.id, name, f.info.Dst.Addr().Unmap(), f.info.Dst.Port(), netstack.TCP, "", "")
		reason = "no TLS server name or HTTP request in the first bytes"
	}
	return f.refuse(denial{name: name, source: nameSource(name, "dns"), reason: reason}), fwd
}

// maxPending bounds the bytes kept while a ClientHello or request head
// is incomplete; past it the flow is decided on what was seen (a head:
// refused). It is below netstack's default hold bound (64 KiB), so the
// policy decides, not the relay's fail-closed reject.
const maxPending = 16 << 10

// headBuf gathers a ClientHello split over reads, and has the relay hold
// its parts (netstack.Hold) until it is whole: the target sees none of a
// hello that is then denied.
type headBuf struct {
	b    []byte
	held bool // the gathered bytes were held, not forwarded
}

// add returns the bytes gathered so far with b.
func (h *headBuf) add(b []byte) []byte {
	if len(h.b) == 0 {
		return b
	}
	h.b = append(h.b, b...)
	return h.b
}

// wait keeps head (b its newest read) for the next read, for which the
// caller holds b. It returns false, and keeps nothing, once the bound is
// reached or the stream ended (an empty b): the caller decides on what
// it has.
func (h *headBuf) wait(head, b []byte) bool {
	if len(head) >= maxPending || len(b) == 0 {
		return false
	}
	if len(h.b) == 0 {
		h.b = append([]byte(nil), b...)
	}
	h.held = true
	return true
}

// release ends the gathering and returns what the inner handler has not
// seen: head when it was held, else b.
func (h *headBuf) release(head, b []byte) []byte {
	fwd := b
	if h.held {
		fwd = head
	}
	h.b, h.held = nil, false
	return fwd
}

func nameSource(name, src string) string {
	if name == "" {
		return ""
	}
	return src
}

func (f *l7Flow) refuse(d denial) netstack.Verdict {
	if f.e.deny(f.eg, f.id, f.info, d) {
		return netstack.Reject
	}
	return netstack.Continue
}

// helloSNI reads the server name of a TLS ClientHello from its start
// in b. done is false while b ends before the server_name extension (or
// the end of the extensions) is reached; with done true, "" means the
// hello names no server (or b is not a ClientHello).
func helloSNI(b []byte) (sni string, done bool) {
	// Record header (type, version, length), handshake header (type,
	// 24-bit length), client version, random.
	if len(b) < 6 {
		return "", false
	}
	if b[5] != 1 {
		return "", true // not a ClientHello
	}
	r := helloReader{b: b, off: 9}
	if r.skip(2 + 32) {
		return "", false
	}
	for _, lenBytes := range []int{1, 2, 1} { // session id, cipher suites, compression
		n, short := r.vec(lenBytes)
		if short || r.skip(n) {
			return "", false
		}
	}
	extLen, short := r.vec(2)
	if short {
		return "", false
	}
	end := r.off + extLen
	for r.off+4 <= end {
		typ, _ := r.vec(2)
		n, short := r.vec(2)
		if short {
			return "", false
		}
		if typ != 0 { // not server_name
			if r.skip(n) {
				return "", false
			}
			continue
		}
		if r.off+n > len(r.b) {
			return "", false
		}
		ext := r.b[r.off : r.off+n]
		// server_name_list: length(2), then type(1) length(2) name.
		if len(ext) < 5 || ext[2] != 0 {
			return "", true
		}
		l := int(ext[3])<<8 | int(ext[4])
		if 5+l > len(ext) {
			return "", true
		}
		return strings.ToLower(string(ext[5 : 5+l])), true
	}
	return "", true
}

// helloReader walks a ClientHello that may be cut short.
type helloReader struct {
	b   []byte
	off int
}

// skip advances n bytes; true if b ends first.
func (r *helloReader) skip(n int) bool {
	if r.off+n > len(r.b) {
		return true
	}
	r.off += n
	return false
}

// vec reads a big-endian length of n bytes.
func (r *helloReader) vec(n int) (int, bool) {
	if r.off+n > len(r.b) {
		return 0, true
	}
	v := 0
	for _, c := range r.b[r.off : r.off+n] {
		v = v<<8 | int(c)
	}
	r.off += n
	return v, false
}

func splitHostPort(h string) (string, string, error) {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		return strings.Trim(h[:i], "[]"), h[i+1:], nil
	}
	return strings.Trim(h, "[]"), "", nil
}

// dnsFlow checks each DNS query of an identity by name and learns the
// addresses of the answers it forwards. Port 53 of any address is open
// to queries for allowed names, so nothing else passes there unless the
// policy allows the address itself: no other payload, no response sent
// as a query, no second question, no records beyond EDNS's OPT.
type dnsFlow struct {
	wrapped
	eg          *egress
	addrAllowed bool // an entry allows the address, port and protocol
}

var _ netstack.Answerer = (*dnsFlow)(nil)

// maxOPTData bounds the EDNS option data of a query (a cookie is at most
// 40 bytes): more is room for data, not for a query's options.
const maxOPTData = 64

// queryName parses a DNS query: a standard query of one question, with
// at most an EDNS OPT record besides. ok is false for anything else.
func queryName(b []byte) (h dnsmessage.Header, q dnsmessage.Question, ok bool) {
	var p dnsmessage.Parser
	h, err := p.Start(b)
	if err != nil || h.Response || h.OpCode != 0 {
		return h, q, false
	}
	if q, err = p.Question(); err != nil {
		return h, q, false
	}
	if _, err := p.Question(); err != dnsmessage.ErrSectionDone {
		return h, q, false
	}
	if _, err := p.AnswerHeader(); err != dnsmessage.ErrSectionDone {
		return h, q, false
	}
	if _, err := p.AuthorityHeader(); err != dnsmessage.ErrSectionDone {
		return h, q, false
	}
	for i := 0; ; i++ {
		rh, err := p.AdditionalHeader()
		if err == dnsmessage.ErrSectionDone {
			return h, q, true
		}
		if err != nil || i > 0 || rh.Type != dnsmessage.TypeOPT {
			return h, q, false
		}
		opt, err := p.OPTResource()
		if err != nil {
			return h, q, false
		}
		n := 0
		for _, o := range opt.Options {
			n += len(o.Data)
		}
		if n > maxOPTData {
			return h, q, false
		}
	}
}

func dnsName(n dnsmessage.Name) string {
	return strings.ToLower(strings.TrimSuffix(n.String(), "."))
}

// Answer implements netstack.Answerer: a query for a name no entry
// allows gets REFUSED (policy dns: refuse) in ips mode.
func (f *dnsFlow) Answer(b []byte) []byte {
	h, q, ok := queryName(b)
	if !ok {
		return nil
	}
	name := dnsName(q.Name)
	if f.eg.nameAllowed(name) {
		return nil
	}
	if !f.e.deny(f.eg, f.id, f.info, denial{name: name, source: "query", reason: "DNS query for a name not allowed"}) || f.eg.dnsDrop {
		return nil // forwarded (ids), or dropped by Chunk
	}
	resp := dnsmessage.Message{
		Header: dnsmessage.Header{ID: h.ID, Response: true, OpCode: h.OpCode, RecursionDesired: h.RecursionDesired,
			RecursionAvailable: true, RCode: dnsmessage.RCodeRefused},
		Questions: []dnsmessage.Question{q},
	}
	out, err := resp.Pack()
	if err != nil {
		return nil
	}
	return out
}

// Chunk implements netstack.FlowHandler: a denied query under dns: drop,
// or a datagram that is no query (to an address no entry allows), ends
// the session silently; answers teach the cache.
func (f *dnsFlow) Chunk(dir netstack.Direction, b []byte) netstack.Verdict {
	if dir == netstack.ToServer {
		_, q, ok := queryName(b)
		switch {
		case !ok && !f.addrAllowed:
			if f.e.deny(f.eg, f.id, f.info, denial{reason: "not a DNS query the policy can read, to an address no entry allows"}) {
				return netstack.Drop
			}
		case ok && f.eg.enforcing && f.eg.dnsDrop && !f.eg.nameAllowed(dnsName(q.Name)):
			return netstack.Drop
		}
	} else {
		f.learn(b)
	}
	return f.next(dir, b)
}

// learn caches the A and AAAA records of an answer under the question's
// name (a CNAME chain answers for the name that was asked, and allowed).
func (f *dnsFlow) learn(b []byte) {
	var p dnsmessage.Parser
	h, err := p.Start(b)
	if err != nil || !h.Response || h.RCode != dnsmessage.RCodeSuccess {
		return
	}
	q, err := p.Question()
	if err != nil {
		return
	}
	name := dnsName(q.Name)
	if f.eg.enforcing && !f.eg.nameAllowed(name) {
		return // a REFUSED or dropped query has no answer to learn
	}
	if err := p.SkipAllQuestions(); err != nil {
		return
	}
	now := f.e.clock.Now()
	for {
		rh, err := p.AnswerHeader()
		if err != nil {
			return
		}
		ttl := min(max(time.Duration(rh.TTL)*time.Second, minTTL), maxTTL)
		switch rh.Type {
		case dnsmessage.TypeA:
			r, err := p.AResource()
			if err != nil {
				return
			}
			f.e.dns.add(f.id.Name, netip.AddrFrom4(r.A), name, now.Add(ttl), now)
		case dnsmessage.TypeAAAA:
			r, err := p.AAAAResource()
			if err != nil {
				return
			}
			f.e.dns.add(f.id.Name, netip.AddrFrom16(r.AAAA).Unmap(), name, now.Add(ttl), now)
		default:
			if err := p.SkipAnswer(); err != nil {
				return
			}
		}
	}
}

// wrapped is what the engine's flow handlers (l7Flow, dnsFlow,
// tokenFlow) share: the flow, and the inner handler they pass chunks on
// to unless it passed the flow at NewFlow.
type wrapped struct {
	e           *Engine
	id          *Identity
	info        *netstack.FlowInfo
	inner       netstack.FlowHandler
	innerPassed *atomic.Bool // the two directions call concurrently
}

func newWrapped(e *Engine, id *Identity, info *netstack.FlowInfo, fh netstack.FlowHandler, v netstack.Verdict) wrapped {
	w := wrapped{e: e, id: id, info: info, inner: fh, innerPassed: new(atomic.Bool)}
	w.innerPassed.Store(fh == nil || v == netstack.Pass)
	return w
}

// next hands a chunk to the inner handler. An inner Pass or Monitor (a
// pass rule, an inspector that gave up on the flow) becomes Continue:
// it ends signature inspection, not the identity's checks, which still
// decide on later chunks (requests, tokens), so the relay must keep
// calling the wrapper. After Pass the inner handler is not called again,
// as the relay would not have called it; after Monitor it goes on
// seeing every chunk.
func (w *wrapped) next(dir netstack.Direction, b []byte) netstack.Verdict {
	if w.innerPassed.Load() {
		return netstack.Continue
	}
	switch v := w.inner.Chunk(dir, b); v {
	case netstack.Pass:
		w.innerPassed.Store(true)
		return netstack.Continue
	case netstack.Monitor:
		return netstack.Continue
	default:
		return v
	}
}

// Close implements netstack.FlowHandler.
func (w *wrapped) Close(st netstack.FlowStats) {
	if w.inner != nil {
		w.inner.Close(st)
	}
}

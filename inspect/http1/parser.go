package http1

import (
	"bytes"
	"errors"
	"slices"
	"sync"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
	"github.com/interdict/interdict/inspect/decode"
	"github.com/interdict/interdict/inspect/proxyproto"
)

// span locates a buffer inside a message's derived or raw arena.
type span struct {
	s, e int32
	ok   bool
	raw  bool // in msg.raw rather than msg.derived
}

type header struct {
	name, value span // in derived
	dup         bool // merged into an earlier header of the same name
}

// msg is one direction of a transaction.
type msg struct {
	raw     []byte // start line and header lines as received, bounded
	derived []byte // normalised values and assembled buffers
	bufs    [applayer.NumBuffers]span
	hdrs    []header
	lines   []span        // "Name: value" per merged header, in derived
	body    []byte        // bounded copy of the (de-chunked) body
	bodyLen int64         // body bytes seen, beyond the bound too
	framing int64         // chunk-size lines and CRLFs of a chunked body
	bodyOff int64         // offset in the body of body[0]: bytes slid out of the window
	codings []string      // Content-Encoding, until its decoder starts at the first body byte
	dec     *decode.Chain // Content-Encoding decoder; nil: none or given up
	decLive *int          // the parser's count of live decoders, while dec is set
	decN    int           // decoders (coding layers) dec holds in that count
	probed  bool          // the body's start was checked for a request (bodyIsRequest)
	decoded int64         // decoded body bytes
	file    file          // the body as a file, for EVE fileinfo

	lineEnd   int // end of the start line (with its line ending) in raw
	clen      int64
	clenSeen  bool
	chunked   bool
	teSeen    bool
	anomalies uint64 // bit per anomaly, so each is reported once per message
}

func (m *msg) reset() {
	m.raw, m.derived, m.body, m.hdrs = m.raw[:0], m.derived[:0], m.body[:0], m.hdrs[:0]
	m.lines = m.lines[:0]
	m.bufs = [applayer.NumBuffers]span{}
	m.bodyLen, m.bodyOff, m.lineEnd, m.clen, m.framing = 0, 0, 0, 0, 0
	m.closeDec()
	m.codings, m.decoded = nil, 0
	m.file = file{}
	m.clenSeen, m.chunked, m.teSeen, m.probed = false, false, false, false
	m.anomalies = 0
}

// closeDec ends the message's decoder (zstd's runs a goroutine).
func (m *msg) closeDec() {
	if m.dec != nil {
		m.dec.Close()
		m.dec = nil
		*m.decLive -= m.decN
	}
}

func (m *msg) get(sp span) []byte {
	if !sp.ok {
		return nil
	}
	if sp.raw {
		return m.raw[sp.s:sp.e:sp.e]
	}
	return m.derived[sp.s:sp.e:sp.e]
}

// setDerived records derived[start:] as buffer b.
func (m *msg) setDerived(b applayer.Buffer, start int) {
	m.bufs[b] = span{s: int32(start), e: int32(len(m.derived)), ok: true}
}

func (m *msg) setRaw(b applayer.Buffer, s, e int) {
	m.bufs[b] = span{s: int32(s), e: int32(e), ok: true, raw: true}
}

type tx struct {
	id        uint64
	req, resp msg
	head      bool // HEAD request: the response has no body
	connect   bool
	http09    bool // request line without protocol: response has no status line
	continued bool // a 100 Continue was seen
	maybe09   bool // http09 until the line after the request line says otherwise
	reqDone   bool
	respDone  bool
	status    int
	h2        bool   // an HTTP/2 stream
	stream    uint32 // its stream ID
	reqHdrs   bool   // HTTP/2: the request's header block was seen
	respHdrs  bool   // HTTP/2: the final response's header block was seen
	// frames are the HTTP/2 stream's frames per direction (h2frames.go);
	// frame is the one being inspected on a Unit of its own.
	frames [2]frameFacts
	frame  []byte
	// doh: HTTP/2, the direction's body is a DNS message (doh.go).
	doh [2]bool
}

type state uint8

const (
	stStart       state = iota // before a start line; empty lines skipped
	stLine                     // in the start line
	stHeaders                  // in the header block
	stBodyLen                  // Content-Length body
	stChunkSize                // chunk-size line
	stChunkData                // chunk data
	stChunkEnd                 // CRLF after chunk data
	stTrailers                 // trailer section after the last chunk
	stBodyClose                // response body delimited by the end of the flow
	stConnectWait              // request side after CONNECT, until its response
	stTunnel                   // opaque after CONNECT 2xx or 101
	stGarbage                  // not HTTP: ignore the rest of this direction
	stH2                       // HTTP/2 frames (prior knowledge or h2c upgrade)
)

// side is the parsing state of one direction.
type side struct {
	dir       inspect.Direction
	st        state
	cur       *tx
	lineStart int   // start of the current line in cur's raw
	remaining int64 // body or chunk bytes left
	overflow  bool  // header bound exceeded: lines no longer stored
	skipLine  bool  // dropping the rest of an overlong line
	cr        bool  // the last header byte seen was a CR
	scratch   []byte
	bodyDirty bool
	stash     []byte // request bytes after CONNECT, before its response
	replay    bool   // stash must be parsed as requests (CONNECT refused)
	early     bool   // REQUEST_BEFORE_CONNECT_RESPONSE raised for this stash
}

// Parser parses one HTTP/1.x flow. It implements applayer.Parser.
type Parser struct {
	mpFiles []mpFile // scratch: the files of a multipart request body (multipart.go)
	cfg     config
	req     side
	resp    side
	pending []*tx // requests waiting for their response, oldest first
	free    []*tx
	nextID  uint64
	anoms   []inspect.Anomaly
	// The PROXY header before the first request, if any (proxyDone once
	// the flow's first bytes showed there is none or it was read).
	proxyDone bool
	proxyBuf  []byte
	proxy     *inspect.ProxyHeader
	h2        *h2 // HTTP/2 mode, once the flow is in it
	// lastReq is the last request completed (lastReqID tells whether it
	// is still that one): lines after it that are no request line are its
	// unexpected body, as libhtp reads them.
	lastReq   *tx
	lastReqID uint64
	decoders  int // live body decoders (at most maxDecoders)
	// decMem is the flow's share of the decoder memory budget, made at
	// the first decoder; Close returns it, whatever chains are left.
	decMem *decode.Account
	// x holds what few flows need (HTTP/1 frames, a CONNECT tunnel's
	// start), made on first use: a Parser is made per flow, and these
	// fields in it cost every HTTP flow ~80 bytes (BenchmarkInspectETOpen).
	x *parserExtras
}

// parserExtras are the Parser's rarely used fields.
type parserExtras struct {
	frame []byte // the HTTP/1 frame buffer of the Unit being emitted (Limits.Frames)
	// tunnelNew: a CONNECT tunnel opened and detection was not told yet
	// (Tunnel); tunnelBuf holds its first bytes per direction till then.
	tunnelNew bool
	tunnelBuf [2][]byte
}

func (p *Parser) extras() *parserExtras {
	if p.x == nil {
		p.x = &parserExtras{}
	}
	return p.x
}

var _ applayer.Parser = (*Parser)(nil)

// New returns a parser for one flow.
func New(opts ...Option) *Parser {
	p := &Parser{cfg: config{Limits: DefaultLimits, maxHeader: DefaultLimits.HeaderSection, maxBody: DefaultLimits.Body}}
	for _, o := range opts {
		o(&p.cfg)
	}
	p.req.dir, p.resp.dir = inspect.ToServer, inspect.ToClient
	if p.cfg.h2 {
		p.ensureH2()
		p.req.st, p.resp.st = stH2, stH2
	}
	return p
}

func (p *Parser) newTx() *tx {
	var t *tx
	if n := len(p.free); n > 0 {
		t = p.free[n-1]
		p.free = p.free[:n-1]
		t.req.reset()
		t.resp.reset()
		*t = tx{req: t.req, resp: t.resp}
	} else {
		t = &tx{}
	}
	t.id = p.nextID
	p.nextID++
	return t
}

func (p *Parser) release(t *tx) {
	if !t.reqDone || !t.respDone {
		return
	}
	t.req.returnBody()
	t.resp.returnBody()
	t.req.closeDec()
	t.resp.closeDec()
	if len(p.free) < maxPending+2 {
		p.free = append(p.free, t)
	}
}

// Bodies past lendFrom bytes move to a buffer of the full bound lent by
// bodyPool, and go back when their transaction completes. A flow used to
// keep the bodies of its completed transactions (up to MaxBodyBytes each,
// in the free list) for as long as it lived, and grew each large body
// by repeated doubling.
const lendFrom = 16 << 10

var bodyPool sync.Pool // *[]byte

func (m *msg) returnBody() {
	if cap(m.body) > lendFrom {
		b := m.body[:0]
		bodyPool.Put(&b)
		m.body = nil
	}
}

// growBody makes room for n more body bytes, bounded by limit.
func (m *msg) growBody(n, limit int) {
	need := len(m.body) + n
	if need <= cap(m.body) || need <= lendFrom || limit <= lendFrom {
		return
	}
	var b []byte
	if v, ok := bodyPool.Get().(*[]byte); ok && cap(*v) >= limit {
		b = *v
	} else {
		b = make([]byte, 0, limit)
	}
	m.body = append(b, m.body...)
}

// Feed implements applayer.Parser.
func (p *Parser) Feed(dir inspect.Direction, data []byte, emit func(*applayer.Unit)) {
	if dir == inspect.ToServer && !p.proxyDone {
		if data = p.proxyHeader(data); len(data) == 0 {
			if len(p.anoms) > 0 {
				p.emitAnomalies(&p.req, emit)
			}
			return
		}
	}
	if dir == inspect.ToServer {
		if p.req.replay {
			p.req.replay = false
			stash := p.req.stash
			p.req.stash = nil
			p.feedSide(&p.req, stash, emit)
		}
		p.feedSide(&p.req, data, emit)
		return
	}
	p.feedSide(&p.resp, data, emit)
}

// proxyHeader steps over a PROXY header at the start of the flow and
// returns the bytes after it (everything, when there is none). A broken
// header is an anomaly and its bytes are parsed as HTTP: a server that
// does not expect the header answers 400 to "PROXY ...".
func (p *Parser) proxyHeader(data []byte) []byte {
	buf := data
	if len(p.proxyBuf) > 0 {
		buf = append(p.proxyBuf, data...)
	}
	if !proxyproto.Detect(buf) {
		p.proxyDone, p.proxyBuf = true, nil
		return buf
	}
	h, n, err := proxyproto.Parse(buf)
	switch {
	case errors.Is(err, proxyproto.ErrMore):
		p.proxyBuf = append(p.proxyBuf[:0:0], buf...)
		return nil
	case err != nil:
		p.proxyDone, p.proxyBuf = true, nil
		p.anomaly(nil, inspect.ToServer, anomProxyInvalid)
		return buf
	}
	p.proxyDone, p.proxyBuf = true, nil
	p.proxy = &inspect.ProxyHeader{Version: h.Version, Command: h.Command, Transport: h.Transport, Src: h.Src, Dst: h.Dst}
	return buf[n:]
}

// Close implements applayer.Parser: a body running to the end of the flow
// ends now, and every transaction still open is logged as it stands.
func (p *Parser) Close(emit func(*applayer.Unit)) {
	defer p.decMem.Close()
	if p.h2 != nil {
		p.h2.close(emit)
		p.req.st, p.resp.st = stGarbage, stGarbage
		return
	}
	if p.req.replay {
		p.req.replay = false
		stash := p.req.stash
		p.req.stash = nil
		p.feedSide(&p.req, stash, emit)
	}
	if t := p.resp.cur; t != nil {
		p.resp.cur = nil
		t.respDone = true
		p.emit(inspect.ToClient, t, true, emit)
		if t.resp.file.size > 0 {
			// A body delimited by the end of the flow is whole now.
			state := "TRUNCATED"
			if p.resp.st == stBodyClose {
				state = "CLOSED"
			}
			p.emitFile(inspect.ToClient, t, &t.resp, state, emit)
		}
		p.release(t)
	}
	for _, t := range p.pending {
		t.respDone = true
		p.emit(inspect.ToClient, t, true, emit)
		p.release(t)
	}
	p.pending = p.pending[:0]
	if t := p.req.cur; t != nil {
		p.finishMultipart(&p.req, t, false, emit)
		if t.req.file.size > 0 {
			p.emitFile(inspect.ToServer, t, &t.req, "TRUNCATED", emit)
		}
		t.req.closeDec()
	}
	p.req.cur = nil
	p.req.st, p.resp.st = stGarbage, stGarbage
}

func (p *Parser) anomaly(m *msg, dir inspect.Direction, a anom) {
	if m != nil {
		if m.anomalies&(1<<a) != 0 {
			return
		}
		m.anomalies |= 1 << a
	}
	p.anoms = append(p.anoms, inspect.Anomaly{AppProto: AppProto, Event: a.name(dir)})
}

func (p *Parser) feedSide(s *side, data []byte, emit func(*applayer.Unit)) {
	for len(data) > 0 {
		var n int
		switch s.st {
		case stStart:
			n = p.start(s, data, emit)
		case stLine, stHeaders:
			n = p.headerBytes(s, data, emit)
		case stBodyLen:
			n = int(min(s.remaining, int64(len(data))))
			p.body(s, data[:n], emit)
			s.remaining -= int64(n)
			if s.remaining == 0 {
				p.endMessage(s, emit)
			}
		case stChunkSize, stTrailers:
			sizeLine := s.st == stChunkSize
			n = p.chunkLine(s, data, emit)
			if m := p.msgOf(s); sizeLine && m != nil {
				m.framing += int64(n)
			}
		case stChunkData:
			n = int(min(s.remaining, int64(len(data))))
			p.body(s, data[:n], emit)
			s.remaining -= int64(n)
			if s.remaining == 0 {
				s.st, s.remaining = stChunkEnd, 0
			}
		case stChunkEnd:
			// CRLF after chunk data; a bare LF is tolerated as libhtp does.
			c := data[0]
			n = 1
			if m := p.msgOf(s); m != nil && (c == '\r' || c == '\n') {
				m.framing++
			}
			switch {
			case c == '\r' && s.remaining == 0:
				s.remaining = 1
			case c == '\n':
				s.st, s.remaining = stChunkSize, 0
				s.scratch = s.scratch[:0]
			default:
				p.anomaly(p.msgOf(s), s.dir, anomChunkLen)
				p.toBodyClose(s, emit)
				n = 0
			}
		case stBodyClose:
			n = len(data)
			p.body(s, data, emit)
		case stH2:
			n = len(data)
			p.h2.feed(s.dir, data, emit)
		case stConnectWait:
			n = len(data)
			room := p.cfg.maxHeader - len(s.stash)
			if room > 0 {
				s.stash = append(s.stash, data[:min(room, n)]...)
			}
			if !s.early && (room < n || Probe(s.dir, s.stash) == applayer.ProbeYes) {
				// A request (or more than the stash holds) before the
				// CONNECT's answer: a server that is no proxy reads it
				// as the next request now, and it would be inspected
				// only once the answer came, after it had passed.
				s.early = true
				p.anomaly(nil, s.dir, anomConnectEarly)
			}
		case stTunnel:
			n = len(data)
			p.tunnelBytes(s.dir, data)
		default: // stGarbage
			n = len(data)
		}
		data = data[n:]
	}
	if s.bodyDirty && s.cur != nil {
		s.bodyDirty = false
		p.emit(s.dir, s.cur, false, emit)
	}
	if len(p.anoms) > 0 {
		p.emitAnomalies(s, emit)
	}
}

// emitAnomalies emits anomalies found where no buffer became complete.
func (p *Parser) emitAnomalies(s *side, emit func(*applayer.Unit)) {
	if s.cur != nil {
		p.emit(s.dir, s.cur, false, emit)
		return
	}
	u := getUnit()
	u.Dir, u.TxID = s.dir, p.nextID
	u.AppProto = AppProto
	if p.h2 != nil {
		u.AppProto = AppProto2
	}
	u.Anomalies = p.anoms
	emit(u)
	p.anoms = p.anoms[:0]
	putUnit(u)
}

func (p *Parser) msgOf(s *side) *msg {
	if s.cur == nil {
		return nil
	}
	if s.dir == inspect.ToServer {
		return &s.cur.req
	}
	return &s.cur.resp
}

// start skips empty lines before a start line and begins a message.
func (p *Parser) start(s *side, data []byte, emit func(*applayer.Unit)) int {
	i := 0
	for i < len(data) && (data[i] == '\r' || data[i] == '\n') {
		i++
	}
	if i == len(data) {
		return i
	}
	if s.dir == inspect.ToServer {
		if len(p.pending) >= maxPending {
			// Too many requests without responses: forget the oldest so
			// memory stays bounded; its response will pair with the next.
			old := p.pending[0]
			copy(p.pending, p.pending[1:])
			p.pending = p.pending[:len(p.pending)-1]
			p.anomaly(nil, s.dir, anomTooManyPipelined)
			old.respDone = true
			p.release(old)
		}
		t := p.newTx()
		s.cur = t
		p.pending = append(p.pending, t)
	} else {
		// A 1xx response keeps its transaction for the final response.
		if s.cur == nil {
			if len(p.pending) > 0 {
				s.cur = p.pending[0]
				copy(p.pending, p.pending[1:])
				p.pending = p.pending[:len(p.pending)-1]
			} else {
				t := p.newTx()
				t.reqDone = true
				s.cur = t
				p.anomaly(&t.resp, s.dir, anomUnmatchedResponse)
			}
		}
		if s.cur.http09 {
			// An HTTP/0.9 response is bare body until the end of the flow.
			s.st = stBodyClose
			return i
		}
	}
	s.st, s.lineStart, s.overflow, s.skipLine, s.cr = stLine, 0, false, false, false
	return i
}

// unexpectedBody takes a request line that is none (line, the current
// request's) after a finished request as more body of that request, as
// libhtp does (REQUEST_BODY_UNEXPECTED), and reports whether it did.
// libhtp takes any line not starting with a method it knows; here only
// a line that is no request line at all (no token and whitespace),
// because a server accepts any token as a method and would read such a
// line as a request that must be inspected as one.
func (p *Parser) unexpectedBody(s *side, m *msg, line []byte, emit func(*applayer.Unit)) bool {
	t, cur := p.lastReq, s.cur
	if s != &p.req || t == nil || t == cur || t.id != p.lastReqID || t.connect || !slices.Contains(p.pending, t) {
		// Only the HTTP/1 request side has lines between requests (an
		// HTTP/2 stream's request line is made up from its headers).
		return false
	}
	raw := m.raw[bytesOffset(m.raw, line):m.lineEnd]
	p.anomaly(&t.req, s.dir, anomBodyUnexpected)
	s.cur = t
	p.body(s, raw, emit)
	s.bodyDirty = false
	p.emit(s.dir, t, false, emit)
	s.cur = cur
	// The line started no request: its transaction is forgotten and its
	// id given back, so later transactions number as in Suricata.
	p.dropRequest(s, cur)
	if cur.id == p.nextID-1 {
		p.nextID--
	}
	s.st = stStart
	return true
}

// headerBytes stores start line and header bytes (bounded) and handles
// each completed line.
func (p *Parser) headerBytes(s *side, data []byte, emit func(*applayer.Unit)) int {
	m := p.msgOf(s)
	nl := bytes.IndexByte(data, '\n')
	chunk := data
	if nl >= 0 {
		chunk = data[:nl+1]
	}
	p.bareCR(s, m, chunk)
	if s.skipLine {
		if nl >= 0 {
			s.skipLine = false
			if s.st == stLine {
				p.startLine(s, m, nil, emit)
			}
		}
		return len(chunk)
	}
	if s.overflow {
		// Past the bound: only framing headers are still looked at, from a
		// small scratch line.
		if len(s.scratch)+len(chunk) <= 256 {
			s.scratch = append(s.scratch, chunk...)
		} else {
			s.scratch = append(s.scratch[:0], '!') // too long to matter
		}
		if nl >= 0 {
			line := trimEOL(s.scratch)
			s.scratch = s.scratch[:0]
			if len(line) == 0 {
				p.endHeaders(s, m, emit)
			} else {
				p.framingHeader(s, m, line)
			}
		}
		return len(chunk)
	}
	if lineLen := len(m.raw) - s.lineStart + len(chunk); s.st == stLine && lineLen > p.cfg.StartLine {
		p.anomaly(m, s.dir, anomStartLineTooLong)
		if lineLen > FieldLimit {
			// libhtp bounds a start line by its field limit too.
			p.anomaly(m, s.dir, anomFieldTooLong)
		}
	} else if s.st == stHeaders && lineLen > p.cfg.HeaderLine {
		p.anomaly(m, s.dir, anomFieldTooLong)
	}
	if len(m.raw)+len(chunk) > p.cfg.maxHeader {
		p.anomaly(m, s.dir, anomHeaderSectionTooLarge)
		// The part of the current line already stored moves to scratch, so
		// the line is judged whole however the stream was cut.
		partial := m.raw[s.lineStart:]
		s.scratch = s.scratch[:0]
		if len(partial) <= 256 {
			s.scratch = append(s.scratch, partial...)
		} else {
			s.scratch = append(s.scratch, '!')
		}
		m.raw = m.raw[:s.lineStart]
		if s.st == stLine {
			s.skipLine = nl < 0
			if nl >= 0 {
				p.startLine(s, m, nil, emit)
			}
			return len(chunk)
		}
		s.overflow = true
		return 0 // reparse this chunk in overflow mode
	}
	m.raw = append(m.raw, chunk...)
	if nl < 0 {
		if s.st == stLine && s.dir == inspect.ToClient {
			// A status line shows it is none at its first bytes: an
			// answer without "HTTP/" (HTTP/0.9, junk) is refused there,
			// not at its line end, which may come after the whole file
			// or never.
			part := m.raw[s.lineStart:]
			if n := min(len(part), len(httpSlash)); !bytes.EqualFold(part[:n], httpSlash[:n]) {
				p.anomaly(m, s.dir, anomResponseInvalidProtocol)
				p.garbage(s, emit)
			}
		}
		return len(chunk)
	}
	line := m.raw[s.lineStart:]
	s.lineStart = len(m.raw)
	if s.st == stLine {
		m.lineEnd = len(m.raw)
		p.startLine(s, m, trimEOL(line), emit)
		return len(chunk)
	}
	if p.versionless(s, m, line, emit) {
		return len(chunk)
	}
	if len(trimEOL(line)) == 0 {
		p.endHeaders(s, m, emit)
	}
	return len(chunk)
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

func isToken(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) >= 0
}

// bareCR reports a CR not followed by LF as soon as the next byte shows
// it: a message whose lines end in bare CRs has no LF at all, and would
// otherwise sit unparsed while a client that ends lines at CR reads it.
func (p *Parser) bareCR(s *side, m *msg, chunk []byte) {
	if s.cr && len(chunk) > 0 && chunk[0] != '\n' {
		p.anomaly(m, s.dir, anomBareCR)
	}
	for i := bytes.IndexByte(chunk, '\r'); i >= 0 && i+1 < len(chunk); {
		if chunk[i+1] != '\n' {
			p.anomaly(m, s.dir, anomBareCR)
			break
		}
		j := bytes.IndexByte(chunk[i+1:], '\r')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	s.cr = len(chunk) > 0 && chunk[len(chunk)-1] == '\r'
}

// startLine handles a complete request or status line (nil if it was too
// long to keep).
func (p *Parser) startLine(s *side, m *msg, line []byte, emit func(*applayer.Unit)) {
	s.st = stHeaders
	if line == nil {
		return
	}
	if bytes.IndexByte(line, '\r') >= 0 {
		p.anomaly(m, s.dir, anomBareCR)
	}
	if s.dir == inspect.ToServer {
		p.requestLine(s, m, line, emit)
	} else {
		p.statusLine(s, m, line, emit)
	}
}

func (p *Parser) requestLine(s *side, m *msg, line []byte, emit func(*applayer.Unit)) {
	t := s.cur
	base := bytesOffset(m.raw, line)
	m.setRaw(applayer.HTTPRequestLine, base, base+len(line))
	// The method is a token; spaces and tabs (and VT, FF), in runs,
	// separate the fields, as the lenient servers (Apache, nginx) read
	// them. Leading whitespace is skipped, as IIS and libhtp do.
	lead := 0
	for s == &p.req && lead < len(line) && isLineSpace(line[lead]) {
		// (An HTTP/2 stream's line is made up from its pseudo-headers:
		// a leading space there is an empty :method.)
		lead++
	}
	sp := lead
	for sp < len(line) && isToken(line[sp]) {
		sp++
	}
	if sp == lead || sp == len(line) || !isLineSpace(line[sp]) {
		if p.unexpectedBody(s, m, line, emit) {
			return
		}
		p.anomaly(m, s.dir, anomRequestLineInvalid)
		p.garbage(s, emit)
		return
	}
	if lead > 0 {
		p.anomaly(m, s.dir, anomLeadingWhitespace)
	}
	method := line[lead:sp]
	m.setRaw(applayer.HTTPMethod, base+lead, base+sp)
	if delimNonSP(line[sp:]) {
		p.anomaly(m, s.dir, anomMethodDelim)
	}
	uri, proto, ok := splitProtocol(line[sp:])
	if ok {
		o := bytesOffset(m.raw, proto)
		m.setRaw(applayer.HTTPProtocol, o, o+len(proto))
		if gap := line[bytesOffset(line, uri)+len(uri) : bytesOffset(line, proto)]; bytes.IndexByte(gap, ' ') < 0 {
			p.anomaly(m, s.dir, anomURIDelim)
		}
	} else {
		p.anomaly(m, s.dir, anomMissingProtocol)
		// HTTP/0.9 (no headers), unless the next line is a header line
		// (libhtp reads such a request's headers): headerLine decides.
		t.http09, t.maybe09 = true, s == &p.req
	}
	off := bytesOffset(m.raw, uri)
	m.setRaw(applayer.HTTPURIRaw, off, off+len(uri))
	if string(method) == "PRI" && string(uri) == "*" && string(proto) == "HTTP/2.0" {
		// The HTTP/2 client preface (after an h2c upgrade): the rest of
		// this direction is frames.
		p.toH2(s, t, emit)
		return
	}
	t.head = string(method) == "HEAD"
	t.connect = string(method) == "CONNECT"

	d := len(m.derived)
	switch {
	case t.connect:
		m.derived = append(m.derived, uri...)
		m.setDerived(applayer.HTTPURI, d)
	default:
		target := uri
		if auth, rest, ok := splitAbsolute(uri); ok {
			target = rest
			if len(auth) > 0 {
				a := off + int(bytesOffset(uri, auth))
				m.setRaw(applayer.HTTPHostRaw, a, a+len(auth))
			}
		}
		m.derived = appendNormalizedURI(m.derived, target)
		m.setDerived(applayer.HTTPURI, d)
		if doubleEncoded(target) {
			p.anomaly(m, s.dir, anomDoubleEncodedURI)
		}
		if uEscape(target) || overlongUTF8(m.derived[d:]) {
			p.anomaly(m, s.dir, anomURIEncodingAmbiguous)
		}
	}
	if t.http09 && !t.maybe09 {
		// No headers follow a 0.9 request line.
		p.emit(s.dir, t, false, emit)
		p.finishRequest(s, emit)
		return
	}
	p.emit(s.dir, t, false, emit)
}

// versionless decides, at the line after a request line without a
// version, whether the request was HTTP/0.9: a header line (a ':') means
// headers follow, as libhtp reads them; an empty line ends the 0.9
// request; any other line starts the next request. Deciding on the whole
// next line keeps the result the same however the stream is cut. It
// reports whether it took the line.
func (p *Parser) versionless(s *side, m *msg, line []byte, emit func(*applayer.Unit)) bool {
	t := s.cur
	if t == nil || !t.maybe09 {
		return false
	}
	t.maybe09 = false
	l := trimEOL(line)
	if bytes.IndexByte(l, ':') >= 0 {
		t.http09 = false
		return false
	}
	var next []byte
	if len(l) > 0 {
		next = append(next, line...)
	}
	m.raw = m.raw[:len(m.raw)-len(line)]
	s.lineStart = len(m.raw)
	p.finishRequest(s, emit)
	if next != nil {
		p.feedSide(s, next, emit)
	}
	return true
}

// delimNonSP reports whether the whitespace run at the start of b holds
// anything but SP (libhtp: METHOD_DELIM_NON_COMPLIANT).
func delimNonSP(b []byte) bool {
	for _, c := range b {
		if !isLineSpace(c) {
			return false
		}
		if c != ' ' {
			return true
		}
	}
	return false
}

// bytesOffset is the offset of sub within b; sub must be a subslice of b.
func bytesOffset(b, sub []byte) int {
	return cap(b) - cap(sub)
}

func (p *Parser) statusLine(s *side, m *msg, line []byte, emit func(*applayer.Unit)) {
	t := s.cur
	base := bytesOffset(m.raw, line)
	if len(line) < len(httpSlash) || !bytes.EqualFold(line[:len(httpSlash)], httpSlash) {
		p.anomaly(m, s.dir, anomResponseInvalidProtocol)
		p.garbage(s, emit)
		return
	}
	m.setRaw(applayer.HTTPResponseLine, base, base+len(line))
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		m.setRaw(applayer.HTTPProtocol, base, base+len(line))
		p.anomaly(m, s.dir, anomResponseInvalidStatus)
		p.emit(s.dir, t, false, emit)
		return
	}
	m.setRaw(applayer.HTTPProtocol, base, base+sp)
	rest := line[sp+1:]
	off := base + sp + 1
	for len(rest) > 0 && rest[0] == ' ' {
		rest, off = rest[1:], off+1
	}
	end := bytes.IndexByte(rest, ' ')
	if end < 0 {
		end = len(rest)
	}
	code := rest[:end]
	status := 0
	if len(code) == 3 {
		for _, c := range code {
			if c < '0' || c > '9' {
				status = -1
				break
			}
			status = status*10 + int(c-'0')
		}
	} else {
		status = -1
	}
	if status < 100 {
		p.anomaly(m, s.dir, anomResponseInvalidStatus)
		status = 0
	}
	t.status = status
	m.setRaw(applayer.HTTPStatCode, off, off+end)
	if end < len(rest) {
		m.setRaw(applayer.HTTPStatMsg, off+end+1, off+len(rest))
	} else {
		m.setRaw(applayer.HTTPStatMsg, off+end, off+end)
	}
	p.emit(s.dir, t, false, emit)
}

// garbage gives up on a direction that does not speak HTTP. A request
// that is not one is forgotten; a response that is not one leaves its
// request to be logged at Close.
func (p *Parser) garbage(s *side, emit func(*applayer.Unit)) {
	s.st = stGarbage
	t := s.cur
	if s.dir == inspect.ToClient || t == nil {
		return
	}
	p.emit(s.dir, t, false, emit)
	p.dropRequest(s, t)
}

// dropRequest forgets request t, which will have no response of its own.
func (p *Parser) dropRequest(s *side, t *tx) {
	s.cur = nil
	for i, pt := range p.pending {
		if pt == t {
			p.pending = append(p.pending[:i], p.pending[i+1:]...)
			break
		}
	}
	t.reqDone, t.respDone = true, true
	p.release(t)
}

// framingHeader looks at a header line for Content-Length and
// Transfer-Encoding only; used past the header bound.
func (p *Parser) framingHeader(s *side, m *msg, line []byte) {
	c := bytes.IndexByte(line, ':')
	if c <= 0 {
		return
	}
	p.framing(s, m, trimSpace(line[:c]), trimSpace(line[c+1:]))
}

func (p *Parser) framing(s *side, m *msg, name, value []byte) {
	switch {
	case bytes.EqualFold(name, []byte("Content-Length")):
		n, ok := parseLength(value)
		if !ok {
			p.anomaly(m, s.dir, anomInvalidCL)
			return
		}
		if m.clenSeen && m.clen != n {
			p.anomaly(m, s.dir, anomDuplicateCL)
			// Keep the first, as libhtp does; the anomaly lets rules act.
			return
		}
		m.clen, m.clenSeen = n, true
	case bytes.EqualFold(name, []byte("Transfer-Encoding")):
		m.teSeen = true
		last := value
		if i := bytes.LastIndexByte(value, ','); i >= 0 {
			last = value[i+1:]
		}
		m.chunked = bytes.EqualFold(trimSpace(last), []byte("chunked"))
		if !m.chunked {
			p.anomaly(m, s.dir, anomInvalidTE)
		} else if !bytes.EqualFold(trimSpace(value), []byte("chunked")) {
			// Chunked framing around a coding not decoded here: the
			// body would be inspected still coded.
			p.anomaly(m, s.dir, anomTECoding)
		}
		if s.dir == inspect.ToClient && !bytes.EqualFold(trimSpace(value), []byte("chunked")) &&
			bytes.Contains(bytes.ToLower(value), []byte("chunked")) {
			// libhtp's warning on a response's chunked coding given
			// with others ("gzip, chunked").
			p.anomaly(m, s.dir, anomAbnormalTE)
		}
	}
}

func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// endHeaders parses the stored header block, builds every header buffer,
// emits them and decides how the body is framed.
func (p *Parser) endHeaders(s *side, m *msg, emit func(*applayer.Unit)) {
	t := s.cur
	s.overflow = false
	p.parseHeaders(s, m)
	p.contentEncoding(s, m)
	p.startFile(m)
	if m.clenSeen && m.teSeen {
		p.anomaly(m, s.dir, anomCLAndTE)
	}
	if m.teSeen && string(m.get(m.bufs[applayer.HTTPProtocol])) == "HTTP/1.0" {
		p.anomaly(m, s.dir, anomTEInHTTP10)
	}
	if s.dir == inspect.ToServer {
		p.emit(s.dir, t, false, emit)
		switch {
		case m.teSeen && m.chunked:
			s.st = stChunkSize
			s.scratch = s.scratch[:0]
		case m.teSeen:
			// Unknown coding on a request: RFC 9112 6.3 says reject; the
			// anomaly is reported and no body assumed.
			p.finishRequest(s, emit)
		case m.clenSeen && m.clen > 0:
			s.st, s.remaining = stBodyLen, m.clen
		default:
			p.finishRequest(s, emit)
		}
		return
	}
	st := t.status
	if t.connect && st >= 200 && !(st < 300) && p.req.st == stConnectWait {
		// CONNECT refused: the client's later bytes are requests again.
		p.req.st = stStart
		p.req.replay = len(p.req.stash) > 0
	}
	switch {
	case st >= 100 && st < 200 && st != 101:
		// Interim response: the final one follows for the same request.
		p.emit(s.dir, t, false, emit)
		m.reset()
		if st == 100 {
			if t.continued {
				p.anomaly(m, s.dir, anomContinueSeen)
			}
			t.continued = true
		}
		s.st = stStart
	case st == 101 && upgradeH2C(&t.req) && upgradeH2C(m):
		// h2c upgrade: the HTTP/1 transaction ends with its 101, and
		// the HTTP/2 connection that follows answers the request on
		// stream 1 (upgrade.go).
		s.cur = nil
		t.respDone = true
		p.emit(s.dir, t, true, emit)
		p.ensureH2().upgrade(t, emit)
		p.release(t)
		s.st = stH2
	case st == 101 || (t.connect && st >= 200 && st < 300):
		p.tunnel(s, emit)
	case t.head || st == 204 || st == 304:
		p.endMessage(s, emit)
	case m.teSeen && m.chunked:
		p.emit(s.dir, t, false, emit)
		s.st = stChunkSize
		s.scratch = s.scratch[:0]
	case m.teSeen:
		p.emit(s.dir, t, false, emit)
		s.st = stBodyClose
	case m.clenSeen:
		if m.clen == 0 {
			p.endMessage(s, emit)
			return
		}
		p.emit(s.dir, t, false, emit)
		s.st, s.remaining = stBodyLen, m.clen
	default:
		if ct := m.headerValue("Content-Type"); ct != nil && bytes.Contains(bytes.ToLower(ct), []byte("multipart/byteranges")) {
			// A self-delimiting body libhtp does not parse (it stops
			// there); read here to the end of the connection, as
			// clients without a Range request do.
			p.anomaly(m, s.dir, anomMultipartByteranges)
		}
		p.emit(s.dir, t, false, emit)
		s.st = stBodyClose
	}
}

// tunnel completes the transaction and stops parsing both directions: what
// follows is another protocol (TLS through a proxy, WebSocket).
func (p *Parser) tunnel(s *side, emit func(*applayer.Unit)) {
	t := s.cur
	s.cur = nil
	t.respDone = true
	p.emit(s.dir, t, true, emit)
	p.release(t)
	s.st = stTunnel
	p.req.st = stTunnel
	if t.connect {
		p.openTunnel()
	}
	p.req.stash = nil
}

func (p *Parser) finishRequest(s *side, emit func(*applayer.Unit)) {
	t := s.cur
	if s.bodyDirty {
		s.bodyDirty = false
		p.emit(s.dir, t, false, emit)
	}
	p.finishMultipart(s, t, true, emit)
	if t.req.file.size > 0 {
		p.emitFile(s.dir, t, &t.req, "CLOSED", emit)
	}
	t.reqDone = true
	s.cur = nil
	s.st = stStart
	p.lastReq, p.lastReqID = t, t.id
	if t.connect && !t.respDone {
		s.st = stConnectWait
		s.stash, s.early = s.stash[:0], false
	}
	p.release(t)
}

// endMessage ends the message being parsed on side s.
func (p *Parser) endMessage(s *side, emit func(*applayer.Unit)) {
	if s.dir == inspect.ToServer {
		p.finishRequest(s, emit)
		return
	}
	t := s.cur
	s.bodyDirty = false
	t.respDone = true
	s.cur = nil
	s.st = stStart
	p.emit(s.dir, t, true, emit)
	if t.resp.file.size > 0 {
		p.emitFile(s.dir, t, &t.resp, "CLOSED", emit)
	}
	p.release(t)
}

// toBodyClose is the fallback after broken chunking: a response runs to
// the end of the flow, a request direction stops being parsed.
func (p *Parser) toBodyClose(s *side, emit func(*applayer.Unit)) {
	if s.dir == inspect.ToClient {
		s.st = stBodyClose
		return
	}
	if s.cur != nil {
		p.finishRequest(s, emit)
	}
	s.st = stGarbage
}

// body inspects body bytes: decoded when the message has a
// Content-Encoding the decoder knows, as the endpoint will read them.
func (p *Parser) body(s *side, b []byte, emit func(*applayer.Unit)) {
	m := p.msgOf(s)
	if m == nil || len(b) == 0 {
		return
	}
	if m.bodyLen == 0 && s.dir == inspect.ToClient {
		if cr := m.headerValue("Content-Range"); cr != nil && !validContentRange(cr) {
			// Suricata opens the response's file at its first byte
			// and checks the range then (app-layer-htp-file.c).
			p.anomaly(m, s.dir, anomRangeInvalid)
		}
	}
	m.bodyLen += int64(len(b))
	if p.cfg.maxBody <= 0 {
		return
	}
	if m.codings != nil {
		p.startDecoder(s, m)
	}
	if m.dec == nil {
		m.file.write(b)
		p.window(s, m, b, emit)
		p.bodyIsRequest(s, m)
		return
	}
	bomb := false
	err := m.dec.Write(b, func(out []byte) {
		m.decoded += int64(len(out))
		if m.decoded > p.cfg.Decoded || m.decoded > maxRatio*m.bodyLen && m.decoded > 1<<20 {
			// Checked on each piece, not after Write: a segment of
			// stacked gzip decoded to 64 MiB within one Write, all of it
			// inspected before the check.
			bomb = true
			m.dec.Stop()
			return
		}
		m.file.write(out)
		p.window(s, m, out, emit)
	})
	switch {
	case bomb:
		p.anomaly(m, s.dir, anomDecompressionBomb)
		m.closeDec()
	case errors.Is(err, decode.ErrMemory):
		// Past the decoder memory of all flows: the body is refused (by
		// default), neither decoded nor forwarded undecoded.
		p.anomaly(m, s.dir, anomDecoderMemory)
		m.closeDec()
	case err != nil:
		// Undecodable: inspect the raw bytes from here, and let the
		// policy decide (a client may decode what we could not).
		p.anomaly(m, s.dir, anomEncodingInvalid)
		m.closeDec()
		m.file.write(b)
		p.window(s, m, b, emit)
	}
}

// bodyIsRequest raises REQUEST_BODY_IS_REQUEST when the body of a GET,
// HEAD, OPTIONS, DELETE or TRACE request starts with a request line
// (the "CL.0" desync): RFC 9112 reads it as the body, as here, but servers
// that ignore a body on these methods read the next request from it, and
// its rules would never run. It looks at the body's first bytes, as they
// arrive, until the probe decides.
func (p *Parser) bodyIsRequest(s *side, m *msg) {
	if m.probed || s.dir != inspect.ToServer || s.cur == nil || s.cur.h2 {
		return
	}
	switch string(bytes.ToUpper(m.get(m.bufs[applayer.HTTPMethod]))) {
	case "GET", "HEAD", "OPTIONS", "DELETE", "TRACE":
	default:
		m.probed = true
		return
	}
	if m.bodyOff > 0 {
		m.probed = true
		return
	}
	switch Probe(s.dir, m.body[:min(len(m.body), probeLine)]) {
	case applayer.ProbeYes:
		m.probed = true
		p.anomaly(m, s.dir, anomBodyIsRequest)
	case applayer.ProbeNo:
		m.probed = true
	}
}

// maxRatio is the decoded:encoded ratio past which a body is a
// decompression bomb. One deflate layer tops out near 1032:1 on zeros and
// real content compresses 3-20:1, so 200:1 only trips on crafted input
// (stacked layers) or very repetitive data.
const maxRatio = 200

// window adds bytes to the inspection window. A full window is
// inspected, then slides: its last quarter stays so a pattern cut by the
// slide is still seen whole, and bodyOff tells detection the buffer moved.
// A body past the window used to be forwarded uninspected.
func (p *Parser) window(s *side, m *msg, b []byte, emit func(*applayer.Unit)) {
	for len(b) > 0 {
		room := p.cfg.maxBody - len(m.body)
		if room == 0 {
			if s.bodyDirty {
				s.bodyDirty = false
				p.emit(s.dir, s.cur, false, emit)
			}
			keep := p.cfg.maxBody / 4
			drop := len(m.body) - keep
			copy(m.body, m.body[drop:])
			m.body = m.body[:keep]
			m.bodyOff += int64(drop)
			continue
		}
		n := min(room, len(b))
		m.growBody(n, p.cfg.maxBody)
		m.body = append(m.body, b[:n]...)
		b = b[n:]
		s.bodyDirty = true
	}
}

// contentEncoding reads a message's Content-Encoding; its decoder starts
// at the first body byte (a message without a body holds none).
func (p *Parser) contentEncoding(s *side, m *msg) {
	for _, h := range m.hdrs {
		if h.dup || !equalFoldString(m.get(h.name), "Content-Encoding") {
			continue
		}
		if hasControl(m.get(h.value)) {
			p.anomaly(m, s.dir, anomCEAmbiguous)
		}
		tooMany, abnormal := libhtpCodings(m.get(h.value))
		if tooMany {
			p.anomaly(m, s.dir, anomTooManyLayers)
		}
		if abnormal {
			p.anomaly(m, s.dir, anomAbnormalCE)
		}
		codings := decode.ParseCodings(m.get(h.value))
		if len(codings) == 0 {
			return
		}
		if decode.Check(codings) != nil {
			p.anomaly(m, s.dir, anomEncodingUnsupported)
			return
		}
		m.codings = codings
		return
	}
}

// startDecoder makes the decoder of m's Content-Encoding.
func (p *Parser) startDecoder(s *side, m *msg) {
	codings := m.codings
	m.codings = nil
	if p.decoders+len(codings) > maxDecoders {
		// HTTP/2 streams could each hold a decoder's window, and each
		// layer of a stacked coding holds its own (five br layers held
		// 84 MB): a flow's decoder memory stays bounded, and the body
		// is not forwarded undecoded.
		p.anomaly(m, s.dir, anomTooManyDecoders)
		return
	}
	if p.decMem == nil {
		b := p.cfg.Budget
		if b == nil {
			b = defaultBudget
		}
		p.decMem = b.Account()
	}
	c, err := decode.NewChain(codings, p.decMem)
	if err != nil {
		p.anomaly(m, s.dir, anomEncodingUnsupported)
		return
	}
	m.dec, m.decLive, m.decN = c, &p.decoders, len(codings)
	p.decoders += len(codings)
}

// chunkLine reads a chunk-size line or a trailer line into scratch.
func (p *Parser) chunkLine(s *side, data []byte, emit func(*applayer.Unit)) int {
	nl := bytes.IndexByte(data, '\n')
	chunk := data
	if nl >= 0 {
		chunk = data[:nl+1]
	}
	if len(s.scratch)+len(chunk) <= p.cfg.ChunkLine {
		s.scratch = append(s.scratch, chunk...)
	} else if s.st == stChunkSize {
		p.anomaly(p.msgOf(s), s.dir, anomChunkLen)
		p.toBodyClose(s, emit)
		return 0
	}
	if nl < 0 {
		return len(chunk)
	}
	line := trimEOL(s.scratch)
	s.scratch = s.scratch[:0]
	if s.st == stTrailers {
		if len(line) == 0 {
			p.endMessage(s, emit)
		}
		return len(chunk)
	}
	size, ok := parseChunkSize(line)
	if !ok {
		p.anomaly(p.msgOf(s), s.dir, anomChunkLen)
		p.toBodyClose(s, emit)
		return len(chunk)
	}
	if bytes.IndexByte(line, ';') >= 0 {
		p.anomaly(p.msgOf(s), s.dir, anomChunkExtension)
	}
	if size == 0 {
		s.st = stTrailers
		return len(chunk)
	}
	s.st, s.remaining = stChunkData, size
	return len(chunk)
}

// parseChunkSize reads "hex[ ;ext]" with optional surrounding whitespace.
func parseChunkSize(line []byte) (int64, bool) {
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = trimSpace(line)
	if len(line) == 0 || len(line) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range line {
		if !isHex(c) {
			return 0, false
		}
		n = n<<4 | int64(unhex(c))
	}
	return n, true
}

// upgradeH2C reports whether a message's Upgrade header names h2c.
func upgradeH2C(m *msg) bool {
	for _, h := range m.hdrs {
		if h.dup || !equalFoldString(m.get(h.name), "Upgrade") {
			continue
		}
		for _, v := range bytes.Split(m.get(h.value), []byte(",")) {
			if equalFoldString(trimSpace(v), "h2c") {
				return true
			}
		}
	}
	return false
}

// toH2 switches the request direction to HTTP/2 at the preface's first
// line, which the HTTP/2 reader is given to check the rest of the preface.
func (p *Parser) toH2(s *side, t *tx, emit func(*applayer.Unit)) {
	p.dropRequest(s, t)
	s.st = stH2
	if len(p.pending) == 0 && p.resp.cur == nil && p.resp.st == stStart {
		// No upgrade awaits its 101: prior knowledge (after a PROXY
		// header), and the server answers in HTTP/2 too.
		p.resp.st = stH2
	}
	p.ensureH2().feed(inspect.ToServer, []byte("PRI * HTTP/2.0\r\n"), emit)
}

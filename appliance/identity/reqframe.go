package identity

import (
	"bytes"
	"strconv"
	"strings"
)

// reqFramer follows the HTTP/1 requests a client sends on one connection:
// where each request head starts and ends and how long the body after it
// is (Content-Length, chunked), so that every request of a keep-alive
// connection is checked, whether it comes in a read of its own, behind
// another request or behind a body in the same read. Where a request
// must start and the bytes are not one a server could read the same
// way, the framer says so and the caller fails closed: a policy or token
// check that cannot tell where a request is must not let it pass.
//
// Lines end with CRLF or a bare LF (servers such as Go's accept both),
// empty lines before a request line are skipped (RFC 9112 2.2), obsolete
// line folding and a body framed by both Transfer-Encoding and
// Content-Length are refused, like a request that asks to switch
// protocols (Upgrade, CONNECT) until the server answers 101 or 2xx:
// after that the connection carries another protocol and the framer
// stops. It says whether that protocol is HTTP/2 (the preface as the
// first bytes, or an "Upgrade: h2c" answered 101), whose requests the
// caller reads with h2Reqs.
type reqFramer struct {
	st    frameState
	n     int64  // body or chunk bytes left
	part  []byte // a head or chunk line begun in an earlier read
	held  []byte // reads answered with Hold, for the inner handler
	heads int    // request heads seen
	// switching is what the last request asked for: Upgrade (a 101
	// switches; 'h' for h2c) or CONNECT (a 2xx does).
	switching byte
	// h2: the connection speaks HTTP/2 (st is frOpaque).
	h2 bool
	// passWords: the first bytes of a flow, while they are one bare
	// token that may still become a method but is no known method's
	// start (those are held, as before), are passed on rather than made
	// opaque, and judged with the bytes that follow (word says part
	// holds such passed bytes). For the token
	// check: a server takes any token as a method, so "Q" + "UERY /..."
	// must be framed as "QUERY /...", or the flow went opaque and every
	// request behind it passed unchecked; and holding a bare word would
	// stall a protocol whose client sends one and waits. A request head
	// is refused by the read that completes it, so the passed prefix
	// gives a server nothing it can act on. The egress check does not
	// pass them: no byte reaches an undecided destination.
	passWords, word bool
}

type frameState uint8

const (
	frHead      frameState = iota // a request head (or empty lines) comes next
	frBody                        // n body bytes left
	frChunkLine                   // a chunk size line
	frChunkData                   // n chunk bytes left
	frChunkEnd                    // the CRLF after a chunk's data
	frTrailer                     // trailer lines until an empty one
	frOpaque                      // another protocol: not framed any more
)

// frameResult is what feed found in a read.
type frameResult uint8

const (
	frameOK     frameResult = iota // framed; every whole head in it was passed to fn
	frameMore                      // the read ends inside a request head: hold it
	frameBad                       // no request where one must start, or framing a server may read otherwise
	frameStop                      // fn refused a head
	frameOpaque                    // the connection switched protocols, or its first bytes are not HTTP/1
)

// reqHead is a parsed request head.
type reqHead struct {
	method, path, host string
	raw                []byte // the head without its empty line, for the token check
}

// h2Preface starts HTTP/2 with prior knowledge: not HTTP/1.
const h2Preface = "PRI * HTTP/2.0\r\n"

// maxLine bounds a chunk line or trailer line, like maxPending a head.
const maxLine = 4 << 10

// feed frames b (the next bytes to the server; empty at the end of the
// stream) and calls fn with each request head it completes; fn returns
// false to refuse the request, which stops the walk.
func (r *reqFramer) feed(b []byte, fn func(h *reqHead) bool) frameResult {
	if len(b) == 0 {
		if r.word && r.st == frHead {
			return frameOK // a bare word, passed: nothing to check
		}
		if len(r.part) > 0 || r.st == frChunkLine || r.st == frChunkEnd || r.st == frTrailer {
			return frameBad // a head or chunk line cut short
		}
		return frameOK
	}
	for len(b) > 0 {
		switch r.st {
		case frOpaque:
			return frameOpaque
		case frBody, frChunkData:
			k := int64(len(b))
			if k > r.n {
				k = r.n
			}
			r.n -= k
			b = b[k:]
			if r.n == 0 {
				if r.st == frBody {
					r.st = frHead
				} else {
					r.st = frChunkEnd
				}
			}
		case frHead:
			if len(r.part) == 0 {
				for len(b) > 0 && (b[0] == '\r' || b[0] == '\n') {
					b = b[1:]
				}
				if len(b) == 0 {
					return frameOK
				}
			}
			// A head whole in this read is parsed in place; one split
			// over reads is gathered in part.
			buf, start := b, 0
			if len(r.part) > 0 {
				start = len(r.part)
				r.part = append(r.part, b...)
				buf = r.part
			}
			if r.passWords && r.heads == 0 && bareWord(buf) && !methodPrefix(buf) && !strings.HasPrefix(h2Preface, string(buf)) {
				if len(r.part) == 0 {
					r.part = append(r.part, b...)
				}
				r.word = true
				return frameOK
			}
			end, next := headEnd(buf, start)
			if !r.mayBeRequest(buf) {
				if r.heads == 0 {
					r.st = frOpaque
					r.h2 = bytes.HasPrefix(buf, []byte(h2Preface))
					r.part = nil
					return frameOpaque
				}
				return frameBad
			}
			if end < 0 {
				if len(buf) >= maxPending {
					return frameBad
				}
				if len(r.part) == 0 {
					r.part = append(r.part, b...)
				}
				return frameMore
			}
			head := buf[:end]
			b = b[len(b)-(len(buf)-next):]
			h, body, ok := parseHead(head)
			if !ok {
				return frameBad
			}
			r.heads++
			if !fn(&h) {
				return frameStop
			}
			switch {
			case h.method == "CONNECT":
				r.switching = 'c'
			case hasToken(headerValue(head, "upgrade"), "h2c"):
				r.switching = 'h'
			case headerValue(head, "upgrade") != nil:
				r.switching = 'u'
			default:
				r.switching = 0
			}
			r.part, r.word = r.part[:0], false // head may be part: done with it only now
			switch {
			case body == bodyChunked:
				r.st = frChunkLine
			case body > 0:
				r.st, r.n = frBody, int64(body)
			}
		default: // chunk line, chunk end, trailer: one line at a time
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				r.part = append(r.part, b...)
				if len(r.part) > maxLine {
					return frameBad
				}
				return frameOK
			}
			line := append(r.part, b[:i]...)
			b = b[i+1:]
			line = bytes.TrimSuffix(line, []byte("\r"))
			if !r.chunkLine(line) {
				return frameBad
			}
			r.part = r.part[:0]
		}
	}
	return frameOK
}

// chunkLine advances the chunked body by one line.
func (r *reqFramer) chunkLine(line []byte) bool {
	switch r.st {
	case frChunkEnd:
		r.st = frChunkLine
		return len(line) == 0
	case frTrailer:
		if len(line) == 0 {
			r.st = frHead
		}
		return len(line) == 0 || line[0] != ' ' && line[0] != '\t'
	}
	size, _, _ := bytes.Cut(line, []byte(";"))
	n, err := strconv.ParseInt(string(bytes.TrimRight(size, " \t")), 16, 64)
	if err != nil || n < 0 || len(size) == 0 || size[0] == '+' || size[0] == '-' {
		return false
	}
	if n == 0 {
		r.st = frTrailer
	} else {
		r.st, r.n = frChunkData, n
	}
	return true
}

// response looks at the start of a read from the server: the answer that
// switches the connection to another protocol ends the framing.
func (r *reqFramer) response(b []byte) {
	if r.switching == 0 || r.st != frHead || len(b) < 12 || !bytes.HasPrefix(b, []byte("HTTP/1.")) || b[8] != ' ' {
		return
	}
	code := string(b[9:12])
	if r.switching != 'c' && code == "101" || r.switching == 'c' && code[0] == '2' {
		r.st, r.part = frOpaque, nil
		// HTTP/2 only if the server chose h2c of what the client offered.
		head := b
		if end, _ := headEnd(b, 0); end >= 0 {
			head = b[:end]
		}
		r.h2 = r.switching == 'h' && hasToken(headerValue(head, "upgrade"), "h2c")
	}
}

// hasToken reports whether the comma-separated list v names tok (case
// insensitively), as "Upgrade: h2c" or "Upgrade: foo, h2c" does.
func hasToken(v []byte, tok string) bool {
	for _, t := range bytes.Split(v, []byte(",")) {
		if bytes.EqualFold(bytes.TrimSpace(t), []byte(tok)) {
			return true
		}
	}
	return false
}

// hold keeps a read the caller answers with Hold, for the inner handler.
func (r *reqFramer) hold(b []byte) { r.held = append(r.held, b...) }

// release returns what the inner handler has not seen: the held reads
// and b.
func (r *reqFramer) release(b []byte) []byte {
	if len(r.held) == 0 {
		return b
	}
	fwd := append(r.held, b...)
	r.held = nil
	return fwd
}

// mayBeRequest reports whether b can start a request line: a method
// token of at most 16 characters followed by a space, or the start of
// one. The first request of a flow must name a known method (in any
// case) before the space: a protocol that starts with a short word and
// waits for an answer is not held as the start of a request.
func (r *reqFramer) mayBeRequest(b []byte) bool {
	if r.heads == 0 && bytes.HasPrefix(b, []byte(h2Preface)) {
		return false
	}
	if r.heads == 0 && strings.HasPrefix(h2Preface, string(b)) {
		return true // the preface cut short: held until it shows
	}
	sp := bytes.IndexByte(b, ' ')
	if sp < 0 && r.heads == 0 {
		return methodPrefix(b)
	}
	for i, c := range b {
		if c == ' ' {
			return i > 0
		}
		if i >= 16 || !isTokenChar(c) {
			return false
		}
	}
	return true
}

// methodPrefix reports whether b is the start of a known method, in any
// case.
func methodPrefix(b []byte) bool {
	for _, m := range httpMethods {
		if len(b) <= len(m) && strings.EqualFold(string(b), m[:len(b)]) {
			return true
		}
	}
	return false
}

// httpMethods are the methods a flow's first request may start with.
var httpMethods = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
	"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT", "SEARCH", "PURGE"}

// bareWord reports whether b is at most 16 token characters: the start
// of a method with its space still to come.
func bareWord(b []byte) bool {
	if len(b) > 16 {
		return false
	}
	for _, c := range b {
		if !isTokenChar(c) {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// headEnd finds the empty line that ends a head in b, searching from
// from (minus the 3 bytes an ending split over reads may have left
// behind). end is where the head's last line ends, next where what
// follows the empty line starts; end is -1 if b has no empty line yet.
func headEnd(b []byte, from int) (end, next int) {
	for i := max(0, from-3); i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		j := i + 1
		if j < len(b) && b[j] == '\r' {
			j++
		}
		if j < len(b) && b[j] == '\n' {
			return i, j + 1
		}
	}
	return -1, 0
}

// Body framings of a request head: a Content-Length, or these.
const (
	bodyNone    = 0
	bodyChunked = -1
)

// parseHead parses a request head (without its empty line): the request
// line and the header fields the policy and the framing need. ok is
// false for a head a server may read otherwise than this parser.
func parseHead(head []byte) (h reqHead, body int, ok bool) {
	h.raw = head
	line, rest, _ := bytes.Cut(head, []byte("\n"))
	parts := strings.Split(strings.TrimSuffix(string(line), "\r"), " ")
	if len(parts) != 3 || parts[0] == "" || !strings.HasPrefix(parts[2], "HTTP/1.") {
		return h, 0, false
	}
	for _, c := range []byte(parts[0]) {
		if !isTokenChar(c) {
			return h, 0, false
		}
	}
	h.method = parts[0]
	target := parts[1]
	// Absolute form: the authority is the host (it wins over Host).
	if i := strings.Index(target, "://"); i > 0 && strings.IndexByte(target[:i], '/') < 0 {
		auth := target[i+3:]
		j := strings.IndexByte(auth, '/')
		if j < 0 {
			h.host, target = auth, "/"
		} else {
			h.host, target = auth[:j], auth[j:]
		}
		if k := strings.LastIndexByte(h.host, '@'); k >= 0 {
			h.host = h.host[k+1:]
		}
	}
	if q := strings.IndexAny(target, "?#"); q >= 0 {
		target = target[:q]
	}
	h.path = target
	hostHdr, hosts, cl, te := "", 0, -1, false
	for len(rest) > 0 {
		var l []byte
		l, rest, _ = bytes.Cut(rest, []byte("\n"))
		l = bytes.TrimSuffix(l, []byte("\r"))
		k, v, found := bytes.Cut(l, []byte(":"))
		if !found || len(k) == 0 || bytes.ContainsAny(k, " \t") {
			return h, 0, false // obsolete folding, a name with spaces, no colon
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("host")):
			hosts++
			hostHdr = string(v)
		case bytes.EqualFold(k, []byte("content-length")):
			n, err := strconv.Atoi(string(v))
			if err != nil || n < 0 || v[0] == '+' || cl >= 0 && cl != n {
				return h, 0, false
			}
			cl = n
		case bytes.EqualFold(k, []byte("transfer-encoding")):
			codings := strings.Split(strings.ToLower(string(v)), ",")
			if te || strings.TrimSpace(codings[len(codings)-1]) != "chunked" {
				return h, 0, false
			}
			te = true
		}
	}
	if hosts > 1 || te && cl >= 0 {
		return h, 0, false
	}
	if h.host == "" {
		h.host = hostHdr
	}
	h.host = normHost(h.host)
	switch {
	case te:
		body = bodyChunked
	case cl > 0:
		body = cl
	}
	return h, body, true
}

// normHost is the host name of a Host or authority: without its port,
// in lower case, without a trailing dot.
func normHost(host string) string {
	if hh, _, err := splitHostPort(host); err == nil {
		host = hh
	}
	return strings.ToLower(strings.TrimSuffix(host, "."))
}

// headerValue returns the value of the first header field name in a
// head, nil if there is none.
func headerValue(head []byte, name string) []byte {
	_, rest, _ := bytes.Cut(head, []byte("\n"))
	for len(rest) > 0 {
		var l []byte
		l, rest, _ = bytes.Cut(rest, []byte("\n"))
		if k, v, ok := bytes.Cut(l, []byte(":")); ok && bytes.EqualFold(k, []byte(name)) {
			return bytes.TrimSpace(v)
		}
	}
	return nil
}

package http1

import (
	"bytes"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

var (
	crlf       = []byte("\r\n")
	colonSpace = []byte(": ")
	commaSpace = []byte(", ")
)

// field maps a header name to the buffer holding its value.
type field struct {
	name string
	buf  applayer.Buffer
}

var reqFields = []field{
	{"Host", applayer.HTTPHostRaw}, {"User-Agent", applayer.HTTPUserAgent},
	{"Cookie", applayer.HTTPCookie}, {"Content-Type", applayer.HTTPContentType},
	{"Content-Length", applayer.HTTPContentLen}, {"Accept", applayer.HTTPAccept},
	{"Accept-Encoding", applayer.HTTPAcceptEnc}, {"Accept-Language", applayer.HTTPAcceptLang},
	{"Connection", applayer.HTTPConnection}, {"Referer", applayer.HTTPReferer},
}

var respFields = []field{
	{"Set-Cookie", applayer.HTTPCookie}, {"Content-Type", applayer.HTTPContentType},
	{"Content-Length", applayer.HTTPContentLen}, {"Connection", applayer.HTTPConnection},
	{"Location", applayer.HTTPLocation}, {"Server", applayer.HTTPServer},
}

// parseHeaders parses the header lines stored in m.raw after the start
// line and builds the header buffers in m.derived.
func (p *Parser) parseHeaders(s *side, m *msg) {
	dir := s.dir
	if m.lineEnd > len(m.raw) {
		m.lineEnd = len(m.raw)
	}
	m.setRaw(applayer.HTTPHeaderRaw, m.lineEnd, len(m.raw))
	blk := m.raw[m.lineEnd:]
	for len(blk) > 0 {
		var line []byte
		if nl := bytes.IndexByte(blk, '\n'); nl >= 0 {
			line, blk = blk[:nl+1], blk[nl+1:]
		} else {
			line, blk = blk, nil
		}
		line = trimEOL(line)
		if len(line) == 0 {
			break
		}
		if bytes.IndexByte(line, 0) >= 0 {
			p.anomaly(m, dir, anomHeaderInvalid)
		}
		if bytes.IndexByte(line, '\r') >= 0 {
			// A bare CR ends a line for some parsers (browsers) and not
			// for others (curl, most servers).
			p.anomaly(m, dir, anomBareCR)
		}
		if line[0] == ' ' || line[0] == '\t' {
			if n := len(m.hdrs); n > 0 {
				// obs-fold: the continuation joins the previous value
				// with one space. That value is the last thing in derived.
				if v := trimSpace(line); len(v) > 0 {
					h := &m.hdrs[n-1]
					if h.value.e > h.value.s {
						m.derived = append(m.derived, ' ')
					}
					m.derived = append(m.derived, v...)
					h.value.e = int32(len(m.derived))
				}
				continue
			}
			p.anomaly(m, dir, anomFieldFolding)
			line = trimSpace(line)
		}
		c := bytes.IndexByte(line, ':')
		if c < 0 {
			p.anomaly(m, dir, anomMissingColon)
			continue
		}
		if len(m.hdrs) >= p.cfg.HeaderCount {
			p.anomaly(m, dir, anomTooManyHeaders)
			p.framing(s, m, trimSpace(line[:c]), trimSpace(line[c+1:]))
			continue
		}
		name := line[:c]
		if tn := trimSpace(name); len(tn) != len(name) {
			// "Name : v" is how some request smuggling starts; libhtp
			// flags it as an invalid field.
			p.anomaly(m, dir, anomHeaderInvalid)
			name = tn
		}
		for _, ch := range name {
			if !isToken(ch) {
				p.anomaly(m, dir, anomHeaderInvalid)
				break
			}
		}
		var h header
		ds := len(m.derived)
		m.derived = append(m.derived, name...)
		h.name = span{s: int32(ds), e: int32(len(m.derived)), ok: true}
		ds = len(m.derived)
		m.derived = append(m.derived, trimSpace(line[c+1:])...)
		h.value = span{s: int32(ds), e: int32(len(m.derived)), ok: true}
		m.hdrs = append(m.hdrs, h)
	}
	for i := range m.hdrs {
		p.framing(s, m, m.get(m.hdrs[i].name), m.get(m.hdrs[i].value))
	}
	p.mergeRepeated(m, dir, s.cur != nil && s.cur.h2)
	uriHost := m.bufs[applayer.HTTPHostRaw].ok // set by an absolute target
	p.buildHeaderBuffers(dir, m)
	if dir == inspect.ToServer {
		t := s.cur
		p.checkAuthorization(m)
		if uriHost {
			p.checkHostAmbiguous(m)
		}
		if !t.h2 {
			// HTTP/2 is not parsed by libhtp in Suricata: its own
			// authority events apply (h2.go).
			p.checkHostSyntax(m, t.connect, uriHost)
		}
		if !m.bufs[applayer.HTTPHostRaw].ok {
			if proto := m.get(m.bufs[applayer.HTTPProtocol]); string(proto) == "HTTP/1.1" {
				p.anomaly(m, dir, anomMissingHost)
			}
		}
		if hr := m.get(m.bufs[applayer.HTTPHostRaw]); hr != nil {
			ds := len(m.derived)
			if t.connect {
				// CONNECT's target is the authority; the Host header only
				// repeats it.
				if u := m.get(m.bufs[applayer.HTTPURIRaw]); len(u) > 0 {
					hr = u
				}
			}
			m.derived = appendNormalizedHost(m.derived, hr)
			m.setDerived(applayer.HTTPHost, ds)
		}
	}
}

// mergeRepeated merges repeated headers into the first of their name as
// "v1, v2", as libhtp's header table does (and Suricata's HTTP/2 header
// buffers), in one pass per name so the cost stays linear in bytes.
// Repetition is libhtp's anomaly, not HTTP/2's: an HTTP/2 header block
// (h2) repeats fields as a matter of course (cookie crumbs, RFC 9113
// 8.2.3), and Suricata's http2 parser raises nothing for it.
func (p *Parser) mergeRepeated(m *msg, dir inspect.Direction, h2 bool) {
	for i := range m.hdrs {
		if m.hdrs[i].dup {
			continue
		}
		name := m.get(m.hdrs[i].name)
		start := -1
		for j := i + 1; j < len(m.hdrs); j++ {
			h := &m.hdrs[j]
			if h.dup || !bytes.EqualFold(m.get(h.name), name) {
				continue
			}
			if start < 0 {
				if !h2 {
					p.anomaly(m, dir, anomHeaderRepetition)
				}
				start = len(m.derived)
				m.derived = append(m.derived, m.get(m.hdrs[i].value)...)
			}
			m.derived = append(m.derived, commaSpace...)
			m.derived = append(m.derived, m.get(h.value)...)
			h.dup = true
		}
		if start >= 0 {
			m.hdrs[i].value = span{s: int32(start), e: int32(len(m.derived)), ok: true}
		}
	}
}

func (p *Parser) buildHeaderBuffers(dir inspect.Direction, m *msg) {
	cookie := []byte("Cookie")
	fields := reqFields
	if dir == inspect.ToClient {
		cookie = []byte("Set-Cookie")
		fields = respFields
	}
	if len(m.hdrs) > 0 {
		ds := len(m.derived)
		for _, h := range m.hdrs {
			if h.dup || bytes.EqualFold(m.get(h.name), cookie) {
				continue
			}
			m.derived = appendHeader(m.derived, m.get(h.name), m.get(h.value))
		}
		if len(m.derived) > ds {
			m.setDerived(applayer.HTTPHeader, ds)
		}
		ds = len(m.derived)
		for _, h := range m.hdrs {
			if h.dup {
				continue
			}
			m.derived = append(m.derived, crlf...)
			m.derived = append(m.derived, m.get(h.name)...)
		}
		m.derived = append(m.derived, "\r\n\r\n"...)
		m.setDerived(applayer.HTTPHeaderNames, ds)
		// http.request_header/http.response_header instances.
		for _, h := range m.hdrs {
			if h.dup {
				continue
			}
			ds = len(m.derived)
			m.derived = append(append(append(m.derived, m.get(h.name)...), colonSpace...), m.get(h.value)...)
			m.lines = append(m.lines, span{s: int32(ds), e: int32(len(m.derived)), ok: true})
		}
	}
	if m.lineEnd > 0 {
		ds := len(m.derived)
		m.derived = append(m.derived, trimEOL(m.raw[:m.lineEnd])...)
		m.derived = append(m.derived, crlf...)
		for _, h := range m.hdrs {
			if !h.dup {
				m.derived = appendHeader(m.derived, m.get(h.name), m.get(h.value))
			}
		}
		m.derived = append(m.derived, crlf...)
		m.setDerived(applayer.HTTPStart, ds)
	}
	for _, f := range fields {
		if f.buf == applayer.HTTPHostRaw && m.bufs[f.buf].ok {
			continue // the absolute URI's authority wins, as in libhtp
		}
		for _, h := range m.hdrs {
			if !h.dup && equalFoldString(m.get(h.name), f.name) {
				m.bufs[f.buf] = h.value
				break
			}
		}
	}
}

// checkHostAmbiguous flags an absolute request target whose authority
// names another host or port than the Host header (libhtp:
// HOST_HEADER_AMBIGUOUS); the target's wins, as servers take it.
func (p *Parser) checkHostAmbiguous(m *msg) {
	h := m.headerValue("Host")
	if h == nil {
		return
	}
	u := m.get(m.bufs[applayer.HTTPHostRaw])
	var a, b [64]byte
	if !bytes.Equal(appendNormalizedHost(a[:0], u), appendNormalizedHost(b[:0], h)) ||
		applayer.HostPort(u) != applayer.HostPort(h) {
		p.anomaly(m, inspect.ToServer, anomHostAmbiguous)
	}
}

// authSchemes are the Authorization schemes libhtp parses; any other is
// REQUEST_AUTH_UNRECOGNIZED.
var authSchemes = []string{"basic", "digest", "bearer"}

// checkAuthorization flags an Authorization header whose scheme libhtp
// does not recognise.
func (p *Parser) checkAuthorization(m *msg) {
	for _, h := range m.hdrs {
		if h.dup || !equalFoldString(m.get(h.name), "Authorization") {
			continue
		}
		v := m.get(h.value)
		end := 0
		for end < len(v) && !isSpace(v[end]) {
			end++
		}
		for _, sc := range authSchemes {
			if equalFoldString(v[:end], sc) {
				return
			}
		}
		p.anomaly(m, inspect.ToServer, anomAuthUnrecognized)
		return
	}
}

func appendHeader(dst, name, value []byte) []byte {
	dst = append(dst, name...)
	dst = append(dst, colonSpace...)
	dst = append(dst, value...)
	return append(dst, crlf...)
}

// equalFoldString is ASCII case-insensitive equality without converting
// the string (which would allocate per header).
func equalFoldString(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c, d := b[i], s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if d >= 'A' && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

// hasControl reports whether a header value holds a control character
// other than a tab (NUL, VT, FF, DEL): readers differ on where such a
// value ends and what it trims.
func hasControl(v []byte) bool {
	for _, c := range v {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return true
		}
	}
	return false
}

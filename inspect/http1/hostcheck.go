package http1

import (
	"bytes"
	"net/netip"
	"strconv"
	"unicode"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// checkHostSyntax raises libhtp's warnings on a request's Host header
// and its target's authority (an absolute URI's, or CONNECT's target)
// that do not parse as a host and port. uriHost says the target was an
// absolute URI (whose authority is in HTTPHostRaw).
func (p *Parser) checkHostSyntax(m *msg, connect, uriHost bool) {
	if h := m.headerValue("Host"); h != nil {
		if valid, parsed := libhtpHostport(h); parsed && !valid {
			p.anomaly(m, inspect.ToServer, anomHeaderHostInvalid)
		}
	}
	var auth []byte
	switch {
	case connect:
		auth = m.get(m.bufs[applayer.HTTPURIRaw])
	case uriHost:
		auth = m.get(m.bufs[applayer.HTTPHostRaw])
	}
	if i := bytes.LastIndexByte(auth, '@'); i >= 0 {
		auth = auth[i+1:]
	}
	if len(auth) > 0 {
		if valid, parsed := libhtpHostport(auth); parsed && !valid {
			p.anomaly(m, inspect.ToServer, anomURIHostInvalid)
		}
	}
}

// libhtpHostport reads a Host value or a request target's authority as
// libhtp's parse_hostport does, for its REQUEST_HEADER_HOST_INVALID and
// REQUEST_URI_HOST_INVALID warnings. parsed is false where libhtp finds
// no host at all (empty, or a path) and raises nothing; otherwise valid
// says whether the host (validate_hostname) and the port are valid and
// nothing follows them.
func libhtpHostport(v []byte) (valid, parsed bool) {
	v = bytes.TrimPrefix(v, []byte("//"))
	if len(v) > 0 && v[0] == '/' {
		return false, false
	}
	v = bytes.TrimLeft(v, " ")
	var host []byte
	if len(v) > 0 && v[0] == '[' {
		end := 1
		for end < len(v) && bytes.IndexByte([]byte("/?#]"), v[end]) < 0 {
			end++
		}
		if end == 1 {
			return false, false
		}
		if end < len(v) && v[end] == ']' {
			end++
		}
		host, v = v[:end], v[end:]
	} else {
		end := 0
		for end < len(v) && bytes.IndexByte([]byte("/?#:"), v[end]) < 0 {
			end++
		}
		if end == 0 {
			return false, false
		}
		host, v = v[:end], v[end:]
	}
	host = bytes.TrimRight(host, " ")
	valid = validHostname(host)
	switch {
	case len(v) > 0 && v[0] == ':':
		port := bytes.TrimLeft(v[1:], " ")
		end := 0
		for end < len(port) && bytes.IndexByte([]byte("/?#"), port[end]) < 0 {
			end++
		}
		if end == 0 {
			return false, true // ":" and no port
		}
		port = port[:end]
		if i := bytes.IndexByte(port, ' '); i >= 0 {
			port = port[:i]
		}
		return valid && validPort(port), true
	case len(v) > 0:
		return false, true // trailing data after the host ("h/x", "[::1]x")
	}
	return valid, true
}

// validPort is libhtp's convert_port: a number 1-65535 (Rust's u16
// parser also takes a leading '+').
func validPort(p []byte) bool {
	p = bytes.TrimPrefix(p, []byte("+"))
	n, err := strconv.ParseUint(string(p), 10, 16)
	return err == nil && n > 0 && len(p) > 0 && p[0] != '-'
}

// validHostname is libhtp's relaxed validate_hostname: 1-255 bytes; a
// bracketed IPv6 address; else no leading dot, no "..", labels of at
// most 63 letters, digits, '-' or '_' (letters and digits as Rust's
// char::is_alphanumeric on each byte taken as a Latin-1 character).
func validHostname(h []byte) bool {
	if len(h) == 0 || len(h) > 255 {
		return false
	}
	if h[0] == '[' {
		if end := bytes.IndexAny(h, "#?/]"); end > 1 && h[end] == ']' {
			a, err := netip.ParseAddr(string(h[1:end]))
			return err == nil && a.Is6() && a.Zone() == ""
		}
	}
	if h[0] == '.' || bytes.Contains(h, []byte("..")) {
		return false
	}
	for _, label := range bytes.Split(h, []byte(".")) {
		if len(label) > 63 {
			return false
		}
		for _, c := range label {
			r := rune(c)
			if c != '_' && c != '-' && !unicode.IsLetter(r) && !unicode.IsNumber(r) {
				return false
			}
		}
	}
	return true
}

// validContentRange reads a response's Content-Range as Suricata does
// for its file ranges (rust/src/http2/range.rs and
// HTPParseAndCheckContentRange): a unit, then "*/size" or
// "start-end/size" (size may be "*"). It is invalid when it does not
// parse, or when start > end or end is past a known size.
func validContentRange(v []byte) bool {
	v = bytes.TrimLeft(v, " ")
	if i := bytes.IndexByte(v, ' '); i >= 0 {
		v = v[i:]
	} else {
		v = nil
	}
	v = bytes.TrimLeft(v, " ")
	num := func(b []byte) (int64, []byte, bool) {
		i := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		n, err := strconv.ParseInt(string(b[:i]), 10, 64)
		return n, b[i:], i > 0 && err == nil
	}
	if bytes.HasPrefix(v, []byte("*/")) {
		_, _, ok := num(v[2:])
		return ok
	}
	start, rest, ok := num(v)
	if !ok || !bytes.HasPrefix(rest, []byte("-")) {
		return false
	}
	end, rest, ok := num(rest[1:])
	if !ok || !bytes.HasPrefix(rest, []byte("/")) {
		return false
	}
	size := int64(-1)
	if !bytes.HasPrefix(rest[1:], []byte("*")) {
		if size, _, ok = num(rest[1:]); !ok {
			return false
		}
	}
	if end <= 0 || size <= 0 || start == 0 && end == size-1 {
		return true
	}
	return start <= end && end <= size-1
}

package http1

import "bytes"

// splitAbsolute splits an absolute-form request target
// ("http://host:80/p?q") into its authority and the rest ("/p?q"; "/" when
// empty). ok is false for origin-form and other targets.
func splitAbsolute(uri []byte) (authority, rest []byte, ok bool) {
	i := bytes.Index(uri, []byte("://"))
	if i <= 0 {
		return nil, nil, false
	}
	for _, c := range uri[:i] {
		if !isSchemeChar(c) {
			return nil, nil, false
		}
	}
	after := uri[i+3:]
	end := len(after)
	for j, c := range after {
		if c == '/' || c == '?' || c == '#' {
			end = j
			break
		}
	}
	authority, rest = after[:end], after[end:]
	if len(rest) == 0 {
		rest = []byte("/")
	}
	return authority, rest, true
}

func isSchemeChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}

// appendNormalizedURI appends the normalised form of an origin-form target
// (path plus optional ?query / #fragment) to dst. See the package doc for
// the steps; the query is percent-decoded once and the fragment kept
// raw, as libhtp's normalised URI has them (+ stays +: Suricata turns
// libhtp's plus-to-space decoding off).
func appendNormalizedURI(dst, target []byte) []byte {
	path, tail := target, []byte(nil)
	if i := bytes.IndexAny(target, "?#"); i >= 0 {
		path, tail = target[:i], target[i:]
	}
	start := len(dst)
	// Percent-decode, map backslash to slash and fold slash runs in one
	// pass, so %5C and %2F take part in folding and dot removal as libhtp
	// decodes before it normalises separators.
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c == '%' && i+2 < len(path) && isHex(path[i+1]) && isHex(path[i+2]) {
			c = unhex(path[i+1])<<4 | unhex(path[i+2])
			i += 2
		}
		if c == '\\' {
			c = '/'
		}
		if c == '/' && len(dst) > start && dst[len(dst)-1] == '/' {
			continue
		}
		dst = append(dst, c)
	}
	dst = removeDotSegments(dst, start)
	if len(tail) > 0 && tail[0] == '?' {
		query := tail
		tail = nil
		if i := bytes.IndexByte(query, '#'); i >= 0 {
			query, tail = query[:i], query[i:]
		}
		dst = appendPercentDecoded(dst, query)
	}
	return append(dst, tail...)
}

// doubleEncoded reports whether an origin-form target's path or query,
// once percent-decoded, still holds a valid %XX escape ("/a%2527b"):
// libhtp's DOUBLE_ENCODED_URI. libhtp looks only when its double-decode
// options are on, and then also decodes http.uri a second time; here
// the event is always raised and http.uri stays decoded once, as the
// server reads it (a server that decodes twice is what the event warns
// of). The fragment is not decoded, so it is not looked at.
func doubleEncoded(target []byte) bool {
	if i := bytes.IndexByte(target, '#'); i >= 0 {
		target = target[:i]
	}
	path, query := target, []byte(nil)
	if i := bytes.IndexByte(target, '?'); i >= 0 {
		path, query = target[:i], target[i+1:]
	}
	return escapeAfterDecoding(path) || escapeAfterDecoding(query)
}

// escapeAfterDecoding decodes b's valid %XX escapes on the fly and
// reports whether the decoded bytes hold '%' and two hex digits.
func escapeAfterDecoding(b []byte) bool {
	var w [3]byte // the last three decoded bytes
	n := 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '%' && i+2 < len(b) && isHex(b[i+1]) && isHex(b[i+2]) {
			c = unhex(b[i+1])<<4 | unhex(b[i+2])
			i += 2
		}
		w[0], w[1], w[2] = w[1], w[2], c
		if n++; n >= 3 && w[0] == '%' && isHex(w[1]) && isHex(w[2]) {
			return true
		}
	}
	return false
}

// uEscape reports whether target holds an IIS %uXXXX escape, which IIS
// decodes and other servers keep as it is.
func uEscape(target []byte) bool {
	for i := 0; i+5 < len(target); i++ {
		if target[i] == '%' && (target[i+1] == 'u' || target[i+1] == 'U') &&
			isHex(target[i+2]) && isHex(target[i+3]) && isHex(target[i+4]) && isHex(target[i+5]) {
			return true
		}
	}
	return false
}

// overlongUTF8 reports whether b holds an overlong UTF-8 sequence (a
// character encoded in more bytes than it needs, "\xc0\xaf" for "/"):
// no encoder writes one, and decoders that accept it (IIS of old) read
// an ASCII character where others read bytes.
func overlongUTF8(b []byte) bool {
	for i := 0; i+1 < len(b); i++ {
		c, n := b[i], b[i+1]
		switch {
		case (c == 0xc0 || c == 0xc1) && n >= 0x80 && n <= 0xbf,
			c == 0xe0 && n >= 0x80 && n <= 0x9f,
			c == 0xf0 && n >= 0x80 && n <= 0x8f:
			return true
		}
	}
	return false
}

// appendPercentDecoded appends b with every valid %XX decoded; invalid
// escapes stay as they are (libhtp's default, PRESERVE_PERCENT).
func appendPercentDecoded(dst, b []byte) []byte {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '%' && i+2 < len(b) && isHex(b[i+1]) && isHex(b[i+2]) {
			c = unhex(b[i+1])<<4 | unhex(b[i+2])
			i += 2
		}
		dst = append(dst, c)
	}
	return dst
}

// removeDotSegments applies RFC 3986 5.2.4 in place to dst[start:], which
// has no "//" runs. It returns dst truncated to the result.
func removeDotSegments(dst []byte, start int) []byte {
	in := dst[start:]
	out := start // write position; output never overtakes input
	abs := len(in) > 0 && in[0] == '/'
	i := 0
	for i < len(in) {
		// One segment: from i (just after a '/', or the start) to the next '/'.
		if in[i] == '/' {
			i++
			if out == start || dst[out-1] != '/' {
				dst[out] = '/'
				out++
			}
			continue
		}
		j := i
		for j < len(in) && in[j] != '/' {
			j++
		}
		seg := in[i:j]
		switch {
		case len(seg) == 1 && seg[0] == '.':
			if j < len(in) {
				j++ // "./" vanishes with its slash
			}
		case len(seg) == 2 && seg[0] == '.' && seg[1] == '.':
			// Drop the previous segment and its slash, keeping the root.
			o := out
			if o > start && dst[o-1] == '/' {
				o--
			}
			for o > start && dst[o-1] != '/' {
				o--
			}
			if o == start && abs {
				o = start + 1
			}
			out = o
			if j < len(in) {
				j++
			}
		default:
			out += copy(dst[out:], seg)
		}
		i = j
	}
	if abs && out == start {
		dst[out] = '/'
		out++
	}
	return dst[:out]
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// appendNormalizedHost appends the host of a Host value or authority in
// lower case, without userinfo, port or trailing dots (libhtp's
// htp_normalize_hostname). An IPv6 literal keeps its brackets.
func appendNormalizedHost(dst, h []byte) []byte {
	h = trimSpace(h)
	if i := bytes.LastIndexByte(h, '@'); i >= 0 {
		h = h[i+1:]
	}
	if len(h) > 0 && h[0] == '[' {
		if i := bytes.IndexByte(h, ']'); i >= 0 {
			h = h[:i+1]
		}
	} else if i := bytes.IndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	for len(h) > 0 && h[len(h)-1] == '.' {
		h = h[:len(h)-1]
	}
	for _, c := range h {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

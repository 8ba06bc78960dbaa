package detect

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// applyTransform runs one of the transforms that take a value or that
// applyTransforms does not inline. t is the name, or "name:value" as
// inspect/rules writes transforms with an argument (xor, pcrexform).
// Semantics follow Suricata's transforms documentation.
func applyTransform(in []byte, t string) []byte {
	name, arg, _ := strings.Cut(t, ":")
	switch name {
	case "url_decode":
		return urlDecode(in)
	case "header_lowercase":
		return headerLowercase(in)
	case "to_md5":
		s := md5.Sum(in)
		return s[:]
	case "to_sha1":
		s := sha1.Sum(in)
		return s[:]
	case "to_sha256":
		s := sha256.Sum256(in)
		return s[:]
	case "xor":
		key, err := hex.DecodeString(strings.Trim(arg, `"`))
		if err != nil || len(key) == 0 {
			return in
		}
		for i := range in {
			in[i] ^= key[i%len(key)]
		}
		return in
	case "from_base64":
		return fromBase64(in, arg)
	case "pcrexform":
		re := pcrexform(strings.Trim(arg, `"`))
		if re == nil {
			return in
		}
		// The first capture group replaces the buffer; without a match
		// the buffer is left as it was.
		if m := re.FindSubmatchIndex(in); len(m) >= 4 && m[2] >= 0 {
			return append([]byte(nil), in[m[2]:m[3]]...)
		}
		return in
	}
	return in
}

// fromBase64 is Suricata 8's from_base64 transform; arg is
// "bytes,offset,mode" (bytes 0: the rest). The decoded bytes replace the
// buffer; when the offset or byte count reach past it, or nothing
// decodes, the buffer is left as it was.
func fromBase64(in []byte, arg string) []byte {
	parts := strings.Split(arg, ",")
	if len(parts) != 3 {
		return in
	}
	nbytes, _ := strconv.Atoi(parts[0])
	offset, _ := strconv.Atoi(parts[1])
	mode := b64RFC4648
	switch parts[2] {
	case "rfc2045":
		mode = b64RFC2045
	case "strict":
		mode = b64Strict
	}
	if offset > len(in) {
		return in
	}
	src := in[offset:]
	if nbytes > 0 {
		if nbytes > len(src) {
			return in
		}
		src = src[:nbytes]
	}
	if len(src) == 0 {
		return in
	}
	out := base64Decode(nil, src, mode)
	if len(out) == 0 {
		return in
	}
	return out
}

// urlDecode replaces %HH with its byte and '+' with a space; a '%' not
// followed by two hex digits is kept.
func urlDecode(in []byte) []byte {
	out := in[:0]
	for i := 0; i < len(in); i++ {
		switch c := in[i]; {
		case c == '+':
			out = append(out, ' ')
		case c == '%' && i+2 < len(in) && isHex(in[i+1]) && isHex(in[i+2]):
			out = append(out, unhex(in[i+1])<<4|unhex(in[i+2]))
			i += 2
		default:
			out = append(out, c)
		}
	}
	return out
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// headerLowercase lower-cases each header line's name, up to its ':', and
// leaves values alone.
func headerLowercase(in []byte) []byte {
	name := true
	for i, c := range in {
		switch {
		case c == '\n':
			name = true
		case c == ':':
			name = false
		case name:
			in[i] = bytes.ToLower(in[i : i+1])[0]
		}
	}
	return in
}

var pcrexforms sync.Map // pattern -> *regexp.Regexp (nil if it does not compile)

func pcrexform(pat string) *regexp.Regexp {
	if v, ok := pcrexforms.Load(pat); ok {
		return v.(*regexp.Regexp)
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		re = nil
	}
	pcrexforms.Store(pat, re)
	return re
}

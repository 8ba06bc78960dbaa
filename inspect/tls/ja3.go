package tls

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ja3 builds a JA3 (ClientHello) or JA3S (ServerHello) string: fields of
// decimal values joined by "-", fields joined by ",", GREASE values
// (RFC 8701) left out, as Salesforce's reference and Suricata do.
type ja3 struct {
	fields [5][]string
}

func (j *ja3) add(field, v int) {
	if field > 0 && isGREASE(v) {
		return
	}
	j.fields[field] = append(j.fields[field], strconv.Itoa(v))
}

// String joins the first n fields.
func (j *ja3) String(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = strings.Join(j.fields[i], "-")
	}
	return strings.Join(parts, ",")
}

// md5Hex is the JA3 hash of a JA3 string.
func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// ja4 collects what the JA4 TLS client fingerprint (FoxIO's JA4 spec, as
// Suricata's ja4.hash) needs from a ClientHello over TCP: GREASE values
// are left out everywhere.
type ja4 struct {
	ciphers, exts []uint16
	sni           bool
	alpn          []byte // the first ALPN protocol
	sigAlgs       []uint16
}

func (j *ja4) cipher(v int) {
	if !isGREASE(v) {
		j.ciphers = append(j.ciphers, uint16(v))
	}
}

func (j *ja4) extension(typ int, data []byte) {
	if isGREASE(typ) {
		return
	}
	j.exts = append(j.exts, uint16(typ))
	switch typ {
	case 0:
		j.sni = true
	case 16: // ALPN: u16 list length, then u8-prefixed protocols
		r := reader{b: data}
		l := reader{b: r.bytes(r.u16())}
		if p := l.bytes(l.u8()); !l.bad && len(p) > 0 && j.alpn == nil {
			j.alpn = p
		}
	case 13: // signature_algorithms
		r := reader{b: data}
		for l := (reader{b: r.bytes(r.u16())}); len(l.b) > 1; {
			j.sigAlgs = append(j.sigAlgs, uint16(l.u16()))
		}
	}
}

// ja4Version spells the highest offered version in JA4's two characters.
func ja4Version(v uint16) string {
	switch v {
	case 0x0304:
		return "13"
	case 0x0303:
		return "12"
	case 0x0302:
		return "11"
	case 0x0301:
		return "10"
	case 0x0300:
		return "s3"
	case 0x0002:
		return "s2"
	}
	return "00"
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// String builds "t13d1516h2_<ciphers hash>_<extensions hash>": protocol,
// version, d (SNI present) or i, cipher and extension counts (at most
// 99), the first ALPN's first and last characters; then the first 12
// hex digits of the SHA-256 of the sorted cipher list, and of the sorted
// extensions (SNI and ALPN left out) followed by "_" and the signature
// algorithms in the order offered.
func (j *ja4) String(version uint16) string {
	var sb strings.Builder
	sb.WriteByte('t')
	sb.WriteString(ja4Version(version))
	if j.sni {
		sb.WriteByte('d')
	} else {
		sb.WriteByte('i')
	}
	fmt.Fprintf(&sb, "%02d%02d", min(len(j.ciphers), 99), min(len(j.exts), 99))
	switch a := j.alpn; {
	case len(a) == 0:
		sb.WriteString("00")
	case isAlnum(a[0]) && isAlnum(a[len(a)-1]):
		sb.WriteByte(a[0])
		sb.WriteByte(a[len(a)-1])
	default:
		h := hex.EncodeToString(a)
		sb.WriteByte(h[0])
		sb.WriteByte(h[len(h)-1])
	}
	sb.WriteByte('_')
	sb.WriteString(hash12(hexList(j.ciphers, true)))
	sb.WriteByte('_')
	var exts []uint16
	for _, e := range j.exts {
		if e != 0 && e != 16 {
			exts = append(exts, e)
		}
	}
	in := hexList(exts, true)
	if len(j.sigAlgs) > 0 && in != "" {
		in += "_" + hexList(j.sigAlgs, false)
	}
	sb.WriteString(hash12(in))
	return sb.String()
}

// hexList spells values as 4-digit lower-case hex joined by ",".
func hexList(vs []uint16, sorted bool) string {
	if sorted {
		vs = slices.Sorted(slices.Values(vs))
	}
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprintf("%04x", v)
	}
	return strings.Join(parts, ",")
}

// hash12 is the first 12 hex digits of the SHA-256 of s, or twelve zeros
// for an empty list.
func hash12(s string) string {
	if s == "" {
		return "000000000000"
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:12]
}

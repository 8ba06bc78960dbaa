package tls

import (
	"crypto/sha1"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"
)

// cert is what detection and EVE read from one X.509 certificate, spelled
// as Suricata spells it (its Rust x509 module): a DN is its RDNs in
// certificate order joined by ", " (attributes within one RDN by " + "),
// the serial is the DER integer's bytes as upper-case hex joined by ":",
// the fingerprint is the SHA-1 of the DER as lower-case hex joined by ":".
//
// crypto/x509 is not used: it rejects certificates Suricata still
// describes (negative serials, odd encodings), spells DNs in RFC 2253's
// reversed order and drops the serial's leading zero byte.
type cert struct {
	subject, issuer     string
	serial, fingerprint string
	notBefore, notAfter time.Time
	sans                []string
}

// der is one TLV.
type der struct {
	tag  byte // identifier octet (single-byte tags only)
	body []byte
}

// errDERHeader marks a DER element, anywhere in the certificate, whose
// header (tag and length) is cut by the end of what holds it: the parser
// Suricata uses (x509-parser) then wants more input, which Suricata
// reports as CERTIFICATE_INVALID_LENGTH. Other failures, an element whose
// content runs past its container included, are INVALID_CERTIFICATE.
var errDERHeader = errors.New("DER element header")

// readDER splits the first TLV off b.
func readDER(b []byte) (der, []byte, error) {
	if len(b) < 2 {
		return der{}, nil, fmt.Errorf("%w: short", errDERHeader)
	}
	tag, l := b[0], int(b[1])
	if tag&0x1f == 0x1f {
		return der{}, nil, fmt.Errorf("multi-byte DER tag")
	}
	b = b[2:]
	if l&0x80 != 0 {
		n := l & 0x7f
		if n == 0 || n > 8 || len(b) < n {
			return der{}, nil, fmt.Errorf("%w: bad length", errDERHeader)
		}
		var ul uint64
		for _, c := range b[:n] {
			ul = ul<<8 | uint64(c)
		}
		b = b[n:]
		if ul > uint64(len(b)) {
			return der{}, nil, fmt.Errorf("DER element longer than its container")
		}
		l = int(ul)
	}
	if l > len(b) {
		return der{}, nil, fmt.Errorf("DER element longer than its container")
	}
	return der{tag: tag, body: b[:l:l]}, b[l:], nil
}

// children returns the elements of a constructed element's body.
func children(b []byte) ([]der, error) {
	var out []der
	for len(b) > 0 {
		e, rest, err := readDER(b)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		b = rest
	}
	return out, nil
}

// parseCert reads the fields of a DER certificate (RFC 5280 4.1). A DER
// header cut short, at any depth, wraps errDERHeader; any other fault is
// an invalid certificate.
func parseCert(raw []byte) (*cert, error) {
	top, _, err := readDER(raw)
	if err != nil {
		return nil, err
	}
	c, err := parseCertBody(raw, top)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	return c, nil
}

func parseCertBody(raw []byte, top der) (*cert, error) {
	if top.tag != 0x30 {
		return nil, fmt.Errorf("certificate is not a SEQUENCE")
	}
	tbsEl, _, err := readDER(top.body)
	if err != nil {
		return nil, err
	}
	if tbsEl.tag != 0x30 {
		return nil, fmt.Errorf("tbsCertificate is not a SEQUENCE")
	}
	f, err := children(tbsEl.body)
	if err != nil {
		return nil, err
	}
	if len(f) > 0 && f[0].tag == 0xa0 { // [0] EXPLICIT version
		f = f[1:]
	}
	// serial, signature, issuer, validity, subject, subjectPublicKeyInfo
	if len(f) < 6 || f[0].tag != 0x02 || f[2].tag != 0x30 || f[3].tag != 0x30 || f[4].tag != 0x30 {
		return nil, fmt.Errorf("tbsCertificate lacks its fixed fields")
	}
	c := &cert{}
	sum := sha1.Sum(raw)
	c.fingerprint = hexJoin(sum[:], false)
	c.serial = hexJoin(f[0].body, true)
	if c.issuer, err = dnString(f[2].body); err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	if c.subject, err = dnString(f[4].body); err != nil {
		return nil, fmt.Errorf("subject: %w", err)
	}
	validity, err := children(f[3].body)
	if err != nil || len(validity) != 2 {
		return nil, fmt.Errorf("bad validity")
	}
	c.notBefore, _ = derTime(validity[0])
	c.notAfter, _ = derTime(validity[1])
	for _, e := range f[6:] {
		if e.tag == 0xa3 { // [3] EXPLICIT extensions
			c.sans = subjectAltNames(e.body)
		}
	}
	return c, nil
}

// hexJoin spells b as hex bytes joined by ":".
func hexJoin(b []byte, upper bool) string {
	var sb strings.Builder
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(':')
		}
		h := hex.EncodeToString([]byte{c})
		if upper {
			h = strings.ToUpper(h)
		}
		sb.WriteString(h)
	}
	return sb.String()
}

// attrNames are the attribute names Suricata's x509 module prints; others
// print as their dotted OID.
var attrNames = map[string]string{
	"2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O", "2.5.4.11": "OU",
	"0.9.2342.19200300.100.1.25": "DC", "0.9.2342.19200300.100.1.1": "UID", "1.2.840.113549.1.9.1": "Email",
	"2.5.4.4": "surname", "2.5.4.5": "serialNumber", "2.5.4.9": "street", "2.5.4.12": "title",
	"2.5.4.15": "businessCategory", "2.5.4.17": "postalCode", "2.5.4.42": "givenName",
	"1.3.6.1.4.1.311.60.2.1.1": "jurisdictionL", "1.3.6.1.4.1.311.60.2.1.2": "jurisdictionST",
	"1.3.6.1.4.1.311.60.2.1.3": "jurisdictionC",
}

// dnString formats a Name's RDNSequence body.
func dnString(b []byte) (string, error) {
	rdns, err := children(b)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	for i, rdn := range rdns {
		if rdn.tag != 0x31 {
			return "", fmt.Errorf("RDN is not a SET")
		}
		if i > 0 {
			sb.WriteString(", ")
		}
		attrs, err := children(rdn.body)
		if err != nil {
			return "", err
		}
		for j, a := range attrs {
			kv, err := children(a.body)
			if err != nil || len(kv) != 2 || kv[0].tag != 0x06 {
				return "", fmt.Errorf("bad attribute")
			}
			if j > 0 {
				sb.WriteString(" + ")
			}
			var oid asn1.ObjectIdentifier
			full := append([]byte{0x06, byte(len(kv[0].body))}, kv[0].body...)
			if len(kv[0].body) > 127 {
				return "", fmt.Errorf("attribute OID too long")
			}
			if _, err := asn1.Unmarshal(full, &oid); err != nil {
				return "", fmt.Errorf("attribute OID: %w", err)
			}
			name, ok := attrNames[oid.String()]
			if !ok {
				name = oid.String()
			}
			sb.WriteString(name)
			sb.WriteByte('=')
			sb.WriteString(derString(kv[1]))
		}
	}
	return sb.String(), nil
}

// derString decodes a directory string; other types print as hex.
func derString(e der) string {
	switch e.tag {
	case 0x0c, 0x13, 0x16, 0x14, 0x12, 0x1a: // UTF8, Printable, IA5, T61, Numeric, Visible
		return string(e.body)
	case 0x1e: // BMPString: UTF-16BE
		u := make([]uint16, len(e.body)/2)
		for i := range u {
			u[i] = uint16(e.body[2*i])<<8 | uint16(e.body[2*i+1])
		}
		return string(utf16.Decode(u))
	case 0x1c: // UniversalString: UTF-32BE
		r := make([]rune, len(e.body)/4)
		for i := range r {
			b := e.body[4*i:]
			r[i] = rune(b[0])<<24 | rune(b[1])<<16 | rune(b[2])<<8 | rune(b[3])
		}
		return string(r)
	}
	return hex.EncodeToString(e.body)
}

// derTime reads a UTCTime or GeneralizedTime.
func derTime(e der) (time.Time, error) {
	s := string(e.body)
	switch e.tag {
	case 0x17:
		t, err := time.Parse("060102150405Z0700", s)
		if err != nil {
			return time.Time{}, err
		}
		// RFC 5280 4.1.2.5.1: two-digit years 50-99 are 19xx.
		if t.Year() >= 2050 {
			t = t.AddDate(-100, 0, 0)
		}
		return t.UTC(), nil
	case 0x18:
		t, err := time.Parse("20060102150405Z0700", s)
		return t.UTC(), err
	}
	return time.Time{}, fmt.Errorf("not a time")
}

// subjectAltNames returns the dNSName entries of the subjectAltName
// extension (RFC 5280 4.2.1.6) in an [3] extensions body.
func subjectAltNames(b []byte) []string {
	seq, _, err := readDER(b)
	if err != nil || seq.tag != 0x30 {
		return nil
	}
	exts, err := children(seq.body)
	if err != nil {
		return nil
	}
	sanOID := []byte{0x55, 0x1d, 0x11} // 2.5.29.17
	for _, x := range exts {
		f, err := children(x.body)
		if err != nil || len(f) < 2 || f[0].tag != 0x06 || string(f[0].body) != string(sanOID) {
			continue
		}
		val := f[len(f)-1]
		if val.tag != 0x04 {
			return nil
		}
		names, _, err := readDER(val.body)
		if err != nil {
			return nil
		}
		list, err := children(names.body)
		if err != nil {
			return nil
		}
		var out []string
		for _, n := range list {
			if n.tag == 0x82 { // [2] dNSName
				out = append(out, string(n.body))
			}
		}
		return out
	}
	return nil
}

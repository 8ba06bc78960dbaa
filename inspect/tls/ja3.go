package tls

import (
	"crypto/md5"
	"encoding/hex"
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

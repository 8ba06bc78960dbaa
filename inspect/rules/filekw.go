package rules

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/interdict/interdict/inspect/applayer"
	"github.com/interdict/interdict/inspect/dns"
)

// HashSet is filemd5, filesha1 or filesha256: the list's buffer (a raw
// digest) is, or with Negate is not, one of Set.
type HashSet struct {
	Set    map[string]bool
	Negate bool
}

func (*HashSet) opName() string { return "hash list" }

var hashBuffers = map[string]struct {
	buf applayer.Buffer
	n   int // digest bytes
}{
	"filemd5": {applayer.FileMD5, 16}, "filesha1": {applayer.FileSHA1, 20}, "filesha256": {applayer.FileSHA256, 32},
}

// sslVersionNames are ssl_version's values (detect-ssl-version.c).
var sslVersionNames = map[string]byte{"sslv2": applayer.SSLVersionSSLv2, "sslv3": applayer.SSLVersionSSLv3,
	"tls1.0": applayer.SSLVersionTLS10, "tls1.1": applayer.SSLVersionTLS11, "tls1.2": applayer.SSLVersionTLS12,
	"tls1.3": applayer.SSLVersionTLS13}

// sslVersion builds ssl_version: the version of the side a Unit comes
// from is, or with a leading "!" (over the whole list) is not, one of the
// listed ones. As in Suricata, a side whose version is unknown matches
// neither way, names are case-insensitive, and a name twice is refused.
func (c *converter) sslVersion(v string, neg bool) error {
	set := map[string]bool{}
	for _, w := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		cls, ok := sslVersionNames[strings.ToLower(w)]
		if !ok {
			return rejectf("ssl_version: unknown version %q", w)
		}
		if set[string([]byte{cls})] {
			return rejectf("ssl_version: %q given twice", w)
		}
		set[string([]byte{cls})] = true
	}
	if len(set) == 0 {
		return rejectf("ssl_version: no version")
	}
	if c.out.AppProto == "" {
		c.out.AppProto = "tls"
	}
	l := c.list(applayer.SSLVersion, nil)
	l.Ops = append(l.Ops, &HashSet{Set: set, Negate: neg})
	return nil
}

// maxHashList bounds a hash list file.
const maxHashList = 64 << 20

// fileKeyword builds filesize or a hash list keyword. As in Suricata, they
// test a complete file (the parser sets their buffers when it closes one).
func (c *converter) fileKeyword(kw, v string) error {
	v = strings.TrimSpace(v)
	neg := strings.HasPrefix(v, "!")
	if neg {
		v = strings.TrimSpace(v[1:])
	}
	switch kw {
	case "filesize", "dns.opcode", "dns.rcode", "dns.rrtype":
		buf, nbytes, max := applayer.FileSize, 8, uint64(math.MaxInt64)
		switch kw {
		case "dns.opcode":
			buf, nbytes, max = applayer.DNSOpcode, 1, 15
		case "dns.rcode":
			buf, nbytes, max = applayer.DNSRcode, 1, 15
			if n, ok := rcodeNames[strings.ToUpper(v)]; ok {
				v = strconv.Itoa(n)
			}
		case "dns.rrtype":
			buf, nbytes, max = applayer.DNSRRType, 2, 65535
			if n, ok := dns.RRTypeByName(v); ok {
				v = strconv.Itoa(int(n))
			}
		}
		ops, err := uintTests(kw, v, neg, nbytes, max)
		if err != nil {
			return err
		}
		if c.out.AppProto == "" && kw != "filesize" {
			c.out.AppProto = "dns"
		}
		l := c.list(buf, nil)
		l.Ops = append(l.Ops, ops...)
		return nil
	}
	switch kw {
	case "ssl_version":
		return c.sslVersion(v, neg)
	case "http2.frametype", "http2.errorcode", "http2.priority", "http2.window":
		return c.http2Frame(kw, v, neg)
	case "http2.settings":
		if neg {
			return rejectf("http2.settings: no negation")
		}
		return c.http2Settings(v)
	}
	hb := hashBuffers[kw]
	name := strings.Trim(v, `"`)
	if name == "" {
		return rejectf("%s: no hash list file", kw)
	}
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(c.file), name)
	}
	set, err := readHashList(path, hb.n)
	if err != nil {
		return rejectf("%s: %v", kw, err)
	}
	l := c.list(hb.buf, nil)
	l.Ops = append(l.Ops, &HashSet{Set: set, Negate: neg})
	return nil
}

// readHashList reads one hex digest of n bytes per line; blank lines and
// lines starting with '#' are skipped.
func readHashList(path string, n int) (map[string]bool, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxHashList {
		return nil, rejectf("%s: larger than %d bytes", path, maxHashList)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || t[0] == '#' {
			continue
		}
		d, err := hex.DecodeString(t)
		if err != nil || len(d) != n {
			return nil, rejectf("%s:%d: %q is not a %d-byte hex digest", path, line, t, n)
		}
		set[string(d)] = true
	}
	if len(set) == 0 {
		return nil, rejectf("%s: no digests", path)
	}
	return set, nil
}

// rcodeNames are dns.rcode's names for its values.
var rcodeNames = map[string]int{"NOERROR": 0, "FORMERR": 1, "SERVFAIL": 2, "NXDOMAIN": 3, "NOTIMP": 4,
	"REFUSED": 5, "YXDOMAIN": 6, "YXRRSET": 7, "NXRRSET": 8, "NOTAUTH": 9, "NOTZONE": 10}

// uintTests turns an unsigned integer keyword's value (N, <N, >N, <=N,
// >=N, N-M or N<>M, exclusive, as Suricata's integer keywords; ! negates
// a single value) into byte_tests on an nbytes big-endian buffer. A
// negated range, which byte_test cannot express, is refused.
func uintTests(kw, v string, neg bool, nbytes int, max uint64) ([]Op, error) {
	num := func(s string) (uint64, error) {
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil || n > max {
			return 0, rejectf("%s: %q is not a number from 0 to %d", kw, s, max)
		}
		return n, nil
	}
	test := func(op string, n uint64, not bool) Op {
		return &ByteTest{Bytes: nbytes, Op: op, Not: not, Value: Value{N: int(n)}, BigEndian: true}
	}
	for _, sep := range []string{"<>", "-"} {
		if a, b, ok := strings.Cut(v, sep); ok && strings.TrimSpace(a) != "" {
			lo, err := num(a)
			if err != nil {
				return nil, err
			}
			hi, err := num(b)
			if err != nil {
				return nil, err
			}
			if neg || lo >= hi {
				return nil, rejectf("%s: unsupported range %q", kw, v)
			}
			return []Op{test(">", lo, false), test("<", hi, false)}, nil
		}
	}
	for _, op := range []string{"<=", ">=", "<", ">", "="} {
		if rest, ok := strings.CutPrefix(v, op); ok {
			n, err := num(rest)
			if err != nil {
				return nil, err
			}
			if neg && op != "=" {
				return nil, rejectf("%s: cannot negate %q", kw, v)
			}
			return []Op{test(op, n, neg)}, nil
		}
	}
	n, err := num(v)
	if err != nil {
		return nil, err
	}
	return []Op{test("=", n, neg)}, nil
}

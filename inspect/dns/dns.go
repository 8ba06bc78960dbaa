package dns

import (
	"strconv"
	"strings"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// AppProto is the EVE app_proto name.
const AppProto = "dns"

const (
	headerLen = 12
	// maxName is the longest name in wire form (RFC 1035 2.3.4).
	maxName = 255
	// maxQuestions bounds the questions reported per message; real
	// resolvers send one.
	maxQuestions = 16
	// maxRecords bounds the records whose names are kept per section.
	maxRecords = 64
)

// Anomaly event names, as Suricata's dns parser spells them in EVE and
// rules (rust/src/dns/dns.rs DNSEvent; Rust parsers' events are lower
// case). Rules may still use the older not_a_request and not_a_response.
const (
	EvMalformedData = "malformed_data"
	EvNotARequest   = "not_request"
	EvNotAResponse  = "not_response"
	EvZFlagSet      = "z_flag_set"
	EvInfiniteLoop  = "infinite_loop"
	EvNameTooLong   = "name_too_long"
	EvInvalidOpcode = "invalid_opcode"
)

func init() {
	for _, tr := range []inspect.Proto{inspect.ProtoUDP, inspect.ProtoTCP} {
		tcp := tr == inspect.ProtoTCP
		probe := ProbeUDP
		if tcp {
			probe = ProbeTCP
		}
		applayer.Register(applayer.Proto{
			Name:      AppProto,
			Transport: tr,
			Probe:     probe,
			New:       func() applayer.Parser { return New(tcp) },
			Buffers: []applayer.Buffer{applayer.DNSQuery, applayer.DNSQueriesRRName, applayer.DNSAnswersRRName,
				applayer.DNSAuthoritiesRRName, applayer.DNSAdditionalsRRName, applayer.DNSResponseRRName,
				applayer.DNSOpcode, applayer.DNSRcode, applayer.DNSRRType},
			Events: applayer.EventNames(EvMalformedData, EvNotARequest, EvNotAResponse, EvZFlagSet,
				EvInfiniteLoop, EvNameTooLong, EvInvalidOpcode),
		})
	}
}

// plausible checks a DNS header the way a probe must: cheap, and strict
// enough that random binary traffic rarely passes.
func plausible(dir inspect.Direction, msg []byte, size int, whole bool) bool {
	if len(msg) < headerLen {
		return false
	}
	qr := msg[2]&0x80 != 0
	if qr != (dir == inspect.ToClient) {
		return false
	}
	// Any opcode: as Suricata's probe (rust/src/dns/dns.rs
	// probe_header_validity), an unassigned one is DNS with the event
	// invalid_opcode, not a flow left uninspected.
	qd := int(msg[4])<<8 | int(msg[5])
	an := int(msg[6])<<8 | int(msg[7])
	ns := int(msg[8])<<8 | int(msg[9])
	ar := int(msg[10])<<8 | int(msg[11])
	if dir == inspect.ToServer && (qd == 0 || qd > maxQuestions) {
		return false
	}
	// Each question takes at least 5 bytes, each record at least 11. size
	// is the whole message's length, known from the TCP prefix before all
	// of it arrived.
	if headerLen+5*qd+11*(an+ns+ar) > size {
		return false
	}
	if !whole {
		return true
	}
	if qd > 0 {
		var scratch [maxName + 1]byte
		if _, _, ev := readName(msg, headerLen, scratch[:0]); ev != "" {
			return false
		}
	}
	return true
}

// ProbeUDP recognises a datagram holding a plausible DNS message.
func ProbeUDP(dir inspect.Direction, data []byte) applayer.ProbeResult {
	if plausible(dir, data, len(data), true) {
		return applayer.ProbeYes
	}
	return applayer.ProbeNo
}

// ProbeTCP recognises a length-prefixed plausible DNS message.
func ProbeTCP(dir inspect.Direction, data []byte) applayer.ProbeResult {
	if len(data) < 2+headerLen {
		if len(data) >= 2 && int(data[0])<<8|int(data[1]) < headerLen {
			return applayer.ProbeNo
		}
		return applayer.ProbeMore
	}
	n := int(data[0])<<8 | int(data[1])
	if n < headerLen {
		return applayer.ProbeNo
	}
	msg := data[2:]
	whole := len(msg) >= n
	if whole {
		msg = msg[:n]
	}
	if plausible(dir, msg, n, whole) {
		return applayer.ProbeYes
	}
	return applayer.ProbeNo
}

// readName decodes the name at off into dst (dotted, no trailing dot) and
// returns the offset after it in the message. ev names the anomaly when
// the name is malformed.
func readName(msg []byte, off int, dst []byte) (name []byte, next int, ev string) {
	next = -1
	start := len(dst)
	wire := 1 // wire length including the root label
	pos := off
	limit := off // start of the current segment: pointers must go below it
	for {
		if pos >= len(msg) {
			return dst, 0, EvMalformedData
		}
		l := int(msg[pos])
		switch {
		case l == 0:
			if next < 0 {
				next = pos + 1
			}
			return dst, next, ""
		case l&0xc0 == 0xc0:
			if pos+1 >= len(msg) {
				return dst, 0, EvMalformedData
			}
			ptr := (l&0x3f)<<8 | int(msg[pos+1])
			if ptr >= limit {
				// Each jump must land before the segment it leaves, so
				// segment starts strictly decrease and decoding ends.
				return dst, 0, EvInfiniteLoop
			}
			if next < 0 {
				next = pos + 2
			}
			pos, limit = ptr, ptr
		case l&0xc0 != 0:
			return dst, 0, EvMalformedData // extended label types (RFC 6891)
		default:
			wire += l + 1
			if wire > maxName {
				return dst, 0, EvNameTooLong
			}
			if pos+1+l > len(msg) {
				return dst, 0, EvMalformedData
			}
			if len(dst) > start {
				dst = append(dst, '.')
			}
			dst = append(dst, msg[pos+1:pos+1+l]...)
			pos += 1 + l
		}
	}
}

// rrTypes are the record types by name, as Suricata logs them (its
// DNSRecordType, rust/src/dns/dns.rs, obsolete and experimental ones
// included: NULL, MD, A6, ...), and a few it prints as numbers.
var rrTypes = map[uint16]string{
	1: "A", 2: "NS", 3: "MD", 4: "MF", 5: "CNAME", 6: "SOA", 7: "MB", 8: "MG", 9: "MR", 10: "NULL",
	11: "WKS", 12: "PTR", 13: "HINFO", 14: "MINFO", 15: "MX", 16: "TXT",
	17: "RP", 18: "AFSDB", 19: "X25", 20: "ISDN", 21: "RT", 22: "NSAP", 23: "NSAPPTR", 24: "SIG", 25: "KEY",
	26: "PX", 27: "GPOS", 28: "AAAA", 29: "LOC", 30: "NXT", 33: "SRV", 34: "ATMA",
	35: "NAPTR", 36: "KX", 37: "CERT", 38: "A6", 39: "DNAME", 41: "OPT", 42: "APL", 43: "DS", 44: "SSHFP",
	45: "IPSECKEY", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 49: "DHCID",
	50: "NSEC3", 51: "NSEC3PARAM", 52: "TLSA", 55: "HIP", 59: "CDS", 60: "CDNSKEY", 64: "SVCB", 65: "HTTPS", 99: "SPF",
	249: "TKEY", 250: "TSIG", 251: "IXFR", 252: "AXFR", 254: "MAILA", 255: "ANY", 256: "URI", 257: "CAA",
}

// RRTypeByName is the number of a record type named as RRTypeName
// spells it (case-insensitive).
func RRTypeByName(name string) (uint16, bool) {
	for t, n := range rrTypes {
		if strings.EqualFold(n, name) {
			return t, true
		}
	}
	return 0, false
}

// RRTypeName spells an RR type as Suricata's EVE does; unknown types are
// their number.
func RRTypeName(t uint16) string {
	if s, ok := rrTypes[t]; ok {
		return s
	}
	return strconv.Itoa(int(t))
}

var rcodes = [...]string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
	"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"}

// RCodeName spells a response code as Suricata's EVE does.
func RCodeName(c int) string {
	if c < len(rcodes) {
		return rcodes[c]
	}
	return strconv.Itoa(c)
}

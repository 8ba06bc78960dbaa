package dns

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/interdict/interdict/inspect"
)

// records decodes one resource record for EVE, the way Suricata's DNS
// logger prints it: the record at fixed (its type, class, TTL and
// rdlength; the rdata follows), named name. A TXT record becomes one
// record per character-string, as Suricata logs it. The message was
// walked already, so fixed+10+rdlength is within msg.
func appendRecords(out []inspect.DNSRecord, msg []byte, name string, fixed int) []inspect.DNSRecord {
	rtype := binary.BigEndian.Uint16(msg[fixed:])
	rdlen := int(binary.BigEndian.Uint16(msg[fixed+8:]))
	at := fixed + 10
	rd := msg[at : at+rdlen]
	r := inspect.DNSRecord{RRName: name, RRType: RRTypeName(rtype), TTL: binary.BigEndian.Uint32(msg[fixed+4:])}
	var scratch [maxName + 1]byte
	nameAt := func(off int) (string, int, bool) {
		if off >= at+rdlen {
			return "", 0, false
		}
		n, next, ev := readName(msg[:at+rdlen], off, scratch[:0])
		if ev != "" {
			return "", 0, false
		}
		return string(n), next, true
	}
	switch rtype {
	case 1, 28: // A, AAAA
		r.RData, r.HasRData = printAddr(rd), true
	case 2, 5, 12: // NS, CNAME, PTR
		r.RData, _, r.HasRData = nameAt(at)
	case 15: // MX: the exchange, after the preference
		r.RData, _, r.HasRData = nameAt(at + 2)
	case 10: // NULL
		r.RData, r.HasRData = string(rd), true
	case 16: // TXT
		for len(rd) > 0 {
			n := int(rd[0])
			if 1+n > len(rd) {
				break
			}
			t := r
			t.RData, t.HasRData = string(rd[1:1+n]), true
			out = append(out, t)
			rd = rd[1+n:]
		}
		return out
	case 6: // SOA
		mname, next, ok := nameAt(at)
		if !ok {
			break
		}
		rname, next, ok := nameAt(next)
		if !ok || next+20 > at+rdlen {
			break
		}
		u := func(i int) uint32 { return binary.BigEndian.Uint32(msg[next+4*i:]) }
		r.SOA = &inspect.DNSSOA{MName: mname, RName: rname, Serial: u(0), Refresh: u(1), Retry: u(2), Expire: u(3), Minimum: u(4)}
	case 33: // SRV
		if rdlen < 7 {
			break
		}
		target, _, ok := nameAt(at + 6)
		if !ok {
			break
		}
		r.SRV = &inspect.DNSSRV{Priority: binary.BigEndian.Uint16(rd), Weight: binary.BigEndian.Uint16(rd[2:]),
			Port: binary.BigEndian.Uint16(rd[4:]), Name: target}
	case 41: // OPT: EDNS options
		for len(rd) >= 4 {
			n := int(binary.BigEndian.Uint16(rd[2:]))
			if 4+n > len(rd) {
				break
			}
			r.OPT = append(r.OPT, inspect.DNSOption{Code: binary.BigEndian.Uint16(rd), Data: append([]byte(nil), rd[4:4+n]...)})
			rd = rd[4+n:]
		}
	}
	return append(out, r)
}

// printAddr spells A and AAAA data as Suricata does: dotted quad, or
// eight groups of four hex digits, never shortened; empty for any
// other length.
func printAddr(b []byte) string {
	switch len(b) {
	case 4:
		return netip.AddrFrom4([4]byte(b)).String()
	case 16:
		s := make([]byte, 0, 39)
		for i := 0; i < 16; i += 2 {
			if i > 0 {
				s = append(s, ':')
			}
			s = fmt.Appendf(s, "%02x%02x", b[i], b[i+1])
		}
		return string(s)
	}
	return ""
}

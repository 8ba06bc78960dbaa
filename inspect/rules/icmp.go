package rules

import (
	"github.com/interdict/interdict/inspect"
)

// ICMP holds the ICMP header keywords of a rule; nil fields are not
// tested. Each is a comparison as Suricata's unsigned integer keywords
// take it: n, <n, >n, <=n, >=n or the exclusive range min<>max.
type ICMP struct {
	Type, Code *IntCmp // itype, icode
	ID, Seq    *IntCmp // icmp_id, icmp_seq
}

// icmp records one ICMP header keyword. These keywords confine the rule
// to ICMP: an "alert ip" rule becomes an ICMP rule, while on tcp or udp
// the rule could never match and is rejected.
func (c *converter) icmp(kw string, cmp IntCmp) error {
	limit := 255
	if kw == "icmp_id" || kw == "icmp_seq" {
		limit = 65535
		if cmp.Op != "=" {
			return rejectf("%s takes a plain number", kw)
		}
	}
	if cmp.Op == "<>" {
		if cmp.Min < 0 || cmp.Max > limit || cmp.Min >= cmp.Max {
			return rejectf("%s: bad range %d<>%d", kw, cmp.Min, cmp.Max)
		}
	} else if cmp.N < 0 || cmp.N > limit {
		return rejectf("%s: %d out of range 0..%d", kw, cmp.N, limit)
	}
	switch c.out.Transport {
	case inspect.ProtoICMP:
	case 0:
		c.out.Transport = inspect.ProtoICMP
	default:
		return rejectf("%s on a %s rule", kw, c.out.Proto)
	}
	if c.out.ICMP == nil {
		c.out.ICMP = &ICMP{}
	}
	m := c.out.ICMP
	p := &cmp
	switch kw {
	case "itype":
		m.Type = p
	case "icode":
		m.Code = p
	case "icmp_id":
		m.ID = p
	case "icmp_seq":
		m.Seq = p
	}
	return nil
}

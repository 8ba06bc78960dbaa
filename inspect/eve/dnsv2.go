package eve

import (
	"encoding/json"
	"strings"
)

// dnsV2 is the dns object in Suricata's version 2 format (eve-log dns
// version: 2; rust/src/dns/log.rs dns_log_query, dns_log_json_answer):
// a record per question of a request (type query) and one per response
// (type answer) with its first question, the header's flags and the
// answer and authority records.
type dnsV2 struct {
	Version     uint8            `json:"version"`
	Type        string           `json:"type"`
	ID          uint16           `json:"id"`
	Flags       string           `json:"flags,omitempty"`
	QR          bool             `json:"qr,omitempty"`
	AA          bool             `json:"aa,omitempty"`
	TC          bool             `json:"tc,omitempty"`
	RD          bool             `json:"rd,omitempty"`
	RA          bool             `json:"ra,omitempty"`
	RRName      string           `json:"rrname,omitempty"`
	RRType      string           `json:"rrtype,omitempty"`
	TxID        *uint64          `json:"tx_id,omitempty"`
	Z           bool             `json:"z,omitempty"`
	Opcode      uint8            `json:"opcode"`
	RCode       string           `json:"rcode,omitempty"`
	Answers     []DNSRecord      `json:"answers,omitempty"`
	Grouped     map[string][]any `json:"grouped,omitempty"`
	Authorities []DNSRecord      `json:"authorities,omitempty"`
}

// dnsEventsV2 splits a dns event into its version 2 records: one per
// question of a request (none for a request without one), one for a
// response.
func dnsEventsV2(ev *Event, f *dnsFilter) []*Event {
	d := ev.DNS
	one := func(o *dnsV2) *Event {
		e := *ev
		e.DNS = &DNS{v2: o}
		if d.toClient {
			// Version 2 records have the flow's addresses, client
			// first (output-json-dns.c: LOG_DIR_FLOW); version 3
			// ones the packet's.
			e.SrcIP, e.DestIP, e.SrcPort, e.DestPort = e.DestIP, e.SrcIP, e.DestPort, e.SrcPort
		}
		return &e
	}
	if d.Type == "request" {
		var out []*Event
		for _, q := range d.Queries {
			if !f.typeLogged(q.RRType) {
				continue
			}
			txID := d.TxID
			out = append(out, one(&dnsV2{Version: 2, Type: "query", ID: d.ID, RRName: q.RRName, RRType: q.RRType,
				TxID: &txID, Z: d.Z, Opcode: d.Opcode}))
		}
		return out
	}
	o := &dnsV2{Version: 2, Type: "answer", ID: d.ID, Flags: d.Flags, QR: d.QR, AA: d.AA, TC: d.TC, RD: d.RD, RA: d.RA, Z: d.Z,
		Opcode: d.Opcode, RCode: d.RCode, Answers: d.Answers, Grouped: d.Grouped, Authorities: d.Authorities}
	if len(d.Queries) > 0 {
		o.RRName, o.RRType = d.Queries[0].RRName, d.Queries[0].RRType
	}
	return []*Event{one(o)}
}

// dnsObject is DNS without its methods.
type dnsObject DNS

// MarshalJSON implements json.Marshaler: the version 3 object, or the
// version 2 record it was turned into.
func (d *DNS) MarshalJSON() ([]byte, error) {
	if d.v2 != nil {
		return json.Marshal(d.v2)
	}
	return json.Marshal((*dnsObject)(d))
}

// dnsFilter is which dns events are written (Options.DNSNoRequests,
// DNSNoResponses, DNSTypes).
type dnsFilter struct {
	noRequests, noResponses bool
	types                   []string
}

// keep reports whether a dns event is written: its kind is logged and,
// with a types list, one of its questions has a listed type
// (rust/src/dns/log.rs SCDnsLogEnabled).
func (f *dnsFilter) keep(d *DNS) bool {
	if d.Type == "request" && f.noRequests || d.Type == "response" && f.noResponses {
		return false
	}
	if len(f.types) == 0 {
		return true
	}
	for _, q := range d.Queries {
		if f.typeLogged(q.RRType) {
			return true
		}
	}
	return false
}

func (f *dnsFilter) typeLogged(rrtype string) bool {
	if len(f.types) == 0 {
		return true
	}
	for _, t := range f.types {
		if strings.EqualFold(t, rrtype) {
			return true
		}
	}
	return false
}

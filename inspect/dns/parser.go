package dns

import (
	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// stream reassembles length-prefixed messages of one TCP direction.
type stream struct {
	lenBuf [2]byte
	lenN   int
	want   int    // message length once the prefix is read
	buf    []byte // partial message, at most 64 KiB by the prefix
}

type span struct{ s, e int }

// Parser parses DNS over UDP (one message per Feed) or TCP. It implements
// applayer.Parser.
type Parser struct {
	tcp     bool
	streams [2]stream
	nextTx  uint64
	names   []byte // decoded question names of the current message
	spans   [maxQuestions]struct{ s, e int }
	qtypes  [maxQuestions]uint16
	// rrNames holds the record names of the answer, authority and
	// additional sections and the rdata names (rdSpans) of the current
	// message, for the dns.*.rrname multi-buffers.
	rrNames  []byte
	rrSpans  [3][]span
	rdSpans  [3][]span
	records  [3][]inspect.DNSRecord // the sections' records, for EVE
	rrtypes  [][]byte               // dns.rrtype instances of the current message
	ansTypes [][]byte               // the answers' types, 2 bytes each
	hdr      [2]byte                // opcode and rcode buffers
	unit     applayer.Unit
	anoms    []inspect.Anomaly
}

var _ applayer.Parser = (*Parser)(nil)

// New returns a parser for one flow; tcp selects length-prefixed framing.
func New(tcp bool) *Parser {
	p := &Parser{tcp: tcp}
	p.unit.AppProto = AppProto
	return p
}

// Feed implements applayer.Parser.
func (p *Parser) Feed(dir inspect.Direction, data []byte, emit func(*applayer.Unit)) {
	if !p.tcp {
		p.message(dir, data, emit)
		return
	}
	s := &p.streams[dir&1]
	for len(data) > 0 {
		if s.lenN < 2 {
			n := copy(s.lenBuf[s.lenN:], data)
			s.lenN += n
			data = data[n:]
			if s.lenN == 2 {
				s.want = int(s.lenBuf[0])<<8 | int(s.lenBuf[1])
				s.buf = s.buf[:0]
				if s.want == 0 {
					s.lenN = 0
				}
			}
			continue
		}
		need := s.want - len(s.buf)
		if len(s.buf) == 0 && len(data) >= s.want {
			// Whole message in this chunk: parse in place, no copy.
			p.message(dir, data[:s.want], emit)
			data = data[s.want:]
			s.lenN = 0
			continue
		}
		n := min(need, len(data))
		s.buf = append(s.buf, data[:n]...)
		data = data[n:]
		if len(s.buf) == s.want {
			p.message(dir, s.buf, emit)
			s.buf = s.buf[:0]
			s.lenN = 0
		}
	}
}

// Close implements applayer.Parser; a partial TCP message is dropped.
func (p *Parser) Close(func(*applayer.Unit)) {
	p.streams = [2]stream{}
}

func (p *Parser) anomaly(ev string) {
	for _, a := range p.anoms {
		if a.Event == ev {
			return
		}
	}
	p.anoms = append(p.anoms, inspect.Anomaly{AppProto: AppProto, Event: ev})
}

// message parses one DNS message and emits a Unit per question.
func (p *Parser) message(dir inspect.Direction, msg []byte, emit func(*applayer.Unit)) {
	p.anoms = p.anoms[:0]
	if len(msg) < headerLen {
		p.anomaly(EvMalformedData)
		p.emitOnly(dir, emit)
		return
	}
	id := uint16(msg[0])<<8 | uint16(msg[1])
	qr := msg[2]&0x80 != 0
	opcode := (msg[2] >> 3) & 0x0f
	z := msg[3]&0x40 != 0
	rcode := int(msg[3] & 0x0f)
	qd := int(msg[4])<<8 | int(msg[5])
	counts := [3]int{int(msg[6])<<8 | int(msg[7]), int(msg[8])<<8 | int(msg[9]), int(msg[10])<<8 | int(msg[11])}

	if dir == inspect.ToServer && qr {
		p.anomaly(EvNotARequest)
	}
	if dir == inspect.ToClient && !qr {
		p.anomaly(EvNotAResponse)
	}
	if z {
		p.anomaly(EvZFlagSet)
	}
	if opcode == 3 || opcode > 6 {
		p.anomaly(EvInvalidOpcode)
	}

	off := headerLen
	nq := 0
	p.names = p.names[:0]
	for i := 0; i < qd; i++ {
		start := len(p.names)
		var ev string
		var next int
		p.names, next, ev = readName(msg, off, p.names)
		if ev == "" && next+4 > len(msg) {
			ev = EvMalformedData
		}
		if ev != "" {
			p.anomaly(ev)
			p.names = p.names[:start]
			off = -1
			break
		}
		if nq < maxQuestions {
			p.spans[nq].s, p.spans[nq].e = start, len(p.names)
			p.qtypes[nq] = uint16(msg[next])<<8 | uint16(msg[next+1])
			nq++
		} else {
			p.names = p.names[:start]
		}
		off = next + 4
	}
	// Walk the resource records: check the message is well formed and
	// keep their names, and the rdata that is a name, for detection.
	p.rrNames = p.rrNames[:0]
	for sec := range p.rrSpans {
		p.rrSpans[sec], p.rdSpans[sec] = p.rrSpans[sec][:0], p.rdSpans[sec][:0]
		p.records[sec] = nil // handed to the previous message's Event
	}
	p.ansTypes = p.ansTypes[:0]
	for sec := 0; off >= 0 && sec < 3; sec++ {
		for i := 0; i < counts[sec]; i++ {
			start := len(p.rrNames)
			var ev string
			var next int
			p.rrNames, next, ev = readName(msg, off, p.rrNames)
			if ev == "" && next+10 > len(msg) {
				ev = EvMalformedData
			}
			var rtype, rdlen int
			if ev == "" {
				rtype = int(msg[next])<<8 | int(msg[next+1])
				rdlen = int(msg[next+8])<<8 | int(msg[next+9])
				off = next + 10 + rdlen
				if off > len(msg) {
					ev = EvMalformedData
				}
			}
			if ev != "" {
				p.anomaly(ev)
				p.rrNames = p.rrNames[:start]
				off = -1
				break
			}
			if len(p.rrSpans[sec]) >= maxRecords {
				p.rrNames = p.rrNames[:start]
				continue
			}
			p.rrSpans[sec] = append(p.rrSpans[sec], span{start, len(p.rrNames)})
			p.records[sec] = appendRecords(p.records[sec], msg, string(p.rrNames[start:]), next)
			if sec == 0 {
				p.ansTypes = append(p.ansTypes, msg[next:next+2:next+2])
			}
			p.rdataName(sec, msg, next+10, rtype, rdlen)
		}
	}

	// As in Suricata 8, every message is a transaction of its own: a
	// response is not merged into its query's.
	txID := p.nextTx
	p.nextTx++
	ev := &inspect.Event{Dir: dir, TxID: txID, DNS: &inspect.DNSTx{ID: id, Flags: uint16(msg[2])<<8 | uint16(msg[3]),
		Answers: p.records[0], Authorities: p.records[1], Additionals: p.records[2]}}
	ev.DNS.Type, ev.DNS.RCode = "query", RCodeName(rcode)
	if qr {
		ev.DNS.Type = "answer"
	}
	if nq > 0 {
		name := p.names[p.spans[0].s:p.spans[0].e]
		ev.DNS.RRName = string(name)
		if len(name) == 0 {
			ev.DNS.RRName = "<root>"
		}
		ev.DNS.RRType = RRTypeName(p.qtypes[0])
	}
	for i := 0; i < nq; i++ {
		q := inspect.DNSQuestion{RRName: string(p.names[p.spans[i].s:p.spans[i].e]), RRType: RRTypeName(p.qtypes[i])}
		if q.RRName == "" {
			q.RRName = "<root>"
		}
		ev.DNS.Queries = append(ev.DNS.Queries, q)
	}
	u := &p.unit
	u.Dir, u.TxID = dir, txID
	p.hdr = [2]byte{opcode, byte(rcode)}
	u.Buffers[applayer.DNSOpcode], u.Buffers[applayer.DNSRcode] = p.hdr[0:1:1], p.hdr[1:2:2]
	p.setMulti(u, nq, qr, dir)
	u.Event, u.Anomalies = ev, nil
	if len(p.anoms) > 0 {
		u.Anomalies = p.anoms
	}
	emit(u)
	p.clearMulti(u)
	u.Event, u.Anomalies = nil, nil
	u.Buffers[applayer.DNSOpcode], u.Buffers[applayer.DNSRcode] = nil, nil
}

// rdataName keeps the name in a record's rdata, for the types Suricata's
// dns.response.rrname inspects: CNAME, PTR, NS, MX (after the
// preference) and SOA (its mname).
func (p *Parser) rdataName(sec int, msg []byte, rdata, rtype, rdlen int) {
	at := rdata
	switch rtype {
	case 2, 5, 6, 12: // NS, CNAME, SOA, PTR
	case 15: // MX
		at += 2
	default:
		return
	}
	if at >= rdata+rdlen {
		return
	}
	start := len(p.rrNames)
	var ev string
	p.rrNames, _, ev = readName(msg, at, p.rrNames)
	if ev != "" {
		p.rrNames = p.rrNames[:start]
		return
	}
	p.rdSpans[sec] = append(p.rdSpans[sec], span{start, len(p.rrNames)})
}

// setMulti fills the dns.*.rrname multi-buffers of u from the current
// message; dns.response.rrname only for a response, and dns.query only
// for a message to the server (Suricata registers it to_server only:
// the question a response echoes does not match it).
func (p *Parser) setMulti(u *applayer.Unit, nq int, response bool, dir inspect.Direction) {
	q := u.Multi[applayer.DNSQueriesRRName][:0]
	for i := 0; i < nq; i++ {
		q = append(q, p.names[p.spans[i].s:p.spans[i].e:p.spans[i].e])
	}
	u.Multi[applayer.DNSQueriesRRName] = q
	if dir == inspect.ToServer {
		u.Multi[applayer.DNSQuery] = q
	}
	// dns.rrtype: the questions' types to the server, the answers' to
	// the client (rust/src/dns/detect.rs dns_rrtype_match).
	p.rrtypes = p.rrtypes[:0]
	if dir == inspect.ToServer {
		for i := 0; i < nq; i++ {
			p.rrtypes = append(p.rrtypes, []byte{byte(p.qtypes[i] >> 8), byte(p.qtypes[i])})
		}
	} else {
		p.rrtypes = append(p.rrtypes, p.ansTypes...)
	}
	u.Multi[applayer.DNSRRType] = p.rrtypes
	secs := [3]applayer.Buffer{applayer.DNSAnswersRRName, applayer.DNSAuthoritiesRRName, applayer.DNSAdditionalsRRName}
	for sec, b := range secs {
		m := u.Multi[b][:0]
		for _, sp := range p.rrSpans[sec] {
			m = append(m, p.rrNames[sp.s:sp.e:sp.e])
		}
		u.Multi[b] = m
	}
	r := u.Multi[applayer.DNSResponseRRName][:0]
	if response {
		r = append(r, q...)
		for sec := range secs {
			r = append(r, u.Multi[secs[sec]]...)
			for _, sp := range p.rdSpans[sec] {
				r = append(r, p.rrNames[sp.s:sp.e:sp.e])
			}
		}
	}
	u.Multi[applayer.DNSResponseRRName] = r
}

func (p *Parser) clearMulti(u *applayer.Unit) {
	for b := applayer.DNSQueriesRRName; b <= applayer.DNSResponseRRName; b++ {
		clear(u.Multi[b])
		u.Multi[b] = u.Multi[b][:0]
	}
	u.Multi[applayer.DNSQuery] = nil // aliases dns.queries.rrname's
	u.Multi[applayer.DNSRRType] = nil
}

// emitOnly reports anomalies of a message too broken to log.
func (p *Parser) emitOnly(dir inspect.Direction, emit func(*applayer.Unit)) {
	u := &p.unit
	u.Dir, u.TxID = dir, p.nextTx
	u.Event = nil
	u.Anomalies = p.anoms
	emit(u)
	u.Anomalies = nil
}

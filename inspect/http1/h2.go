package http1

import (
	"bytes"
	"strings"

	"golang.org/x/net/http2/hpack"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
	"github.com/interdict/interdict/inspect/http2"
)

// AppProto2 is the EVE app_proto of HTTP/2 flows, and what the Units of
// HTTP/2 transactions say; `alert http` rules match them as in Suricata,
// `alert http1` ones do not.
const AppProto2 = "http2"

func init() {
	applayer.Register(applayer.Proto{
		Name:      AppProto2,
		Transport: inspect.ProtoTCP,
		Probe:     ProbeH2,
		New:       func() applayer.Parser { return New(WithPriorKnowledge()) },
		Buffers:   Buffers,
		Events: applayer.EventNames(http2.AnomPreface, http2.AnomFrame, http2.AnomFrameTooLarge, http2.AnomHPACK,
			http2.AnomHeaderList, http2.AnomTooManyStreams, http2.EvLongFrameData, http2.EvUserinfoInURI,
			http2.EvAuthorityHostMismatch, EvDNSRequestTooLong, EvDNSResponseTooLong, EvInvalidHTTP1Settings),
	})
}

// ProbeH2 recognises HTTP/2 with prior knowledge by the client preface.
func ProbeH2(dir inspect.Direction, data []byte) applayer.ProbeResult {
	if dir != inspect.ToServer {
		return applayer.ProbeNo
	}
	return prefixProbe(data, []byte(http2.Preface))
}

func prefixProbe(data, want []byte) applayer.ProbeResult {
	if len(data) >= len(want) {
		if bytes.Equal(data[:len(want)], want) {
			return applayer.ProbeYes
		}
		return applayer.ProbeNo
	}
	if bytes.Equal(data, want[:len(data)]) {
		return applayer.ProbeMore
	}
	return applayer.ProbeNo
}

// WithPriorKnowledge starts the parser in HTTP/2 (the flow began with the
// client preface).
func WithPriorKnowledge() Option {
	return func(c *config) { c.h2 = true }
}

// h2 is the parser's HTTP/2 mode: streams map to transactions, and the
// header fields and DATA of each build the same buffers as HTTP/1.
type h2 struct {
	p       *Parser
	conn    *http2.Conn
	streams map[uint32]*tx
	emit    func(*applayer.Unit)
	// rec is the Unit.Record of a connection frame's Unit (emit.go):
	// here, not in Parser, so HTTP/1 flows do not carry it.
	rec inspect.HTTPTx
}

// ensureH2 returns the flow's HTTP/2 state, creating it. Each direction
// switches to it on its own: the client at its preface, the server at
// its 101 to an "Upgrade: h2c" request.
func (p *Parser) ensureH2() *h2 {
	if p.h2 == nil {
		h := &h2{p: p, streams: map[uint32]*tx{}}
		h.conn = http2.NewConn(h, p.cfg.maxHeader)
		p.h2 = h
	}
	return p.h2
}

func (h *h2) feed(dir inspect.Direction, data []byte, emit func(*applayer.Unit)) {
	h.emit = emit
	h.conn.Feed(dir, data)
	h.emit = nil
}

func (h *h2) stream(id uint32) *tx {
	if t := h.streams[id]; t != nil {
		return t
	}
	if len(h.streams) >= http2.MaxStreams {
		h.Anomaly(inspect.ToServer, http2.AnomTooManyStreams)
		return nil
	}
	t := h.p.newTx()
	t.h2, t.stream = true, id
	h.streams[id] = t
	return t
}

// Headers implements http2.Handler: a header block becomes a start line
// and header lines in the message's raw arena, parsed as HTTP/1 is.
func (h *h2) Headers(dir inspect.Direction, id uint32, fields []hpack.HeaderField, end bool) {
	t := h.stream(id)
	if t == nil {
		return
	}
	p := h.p
	s := &side{dir: dir, cur: t}
	m := &t.req
	if dir == inspect.ToClient {
		m = &t.resp
		if t.respHdrs {
			// Trailers: nothing to add to the buffers.
			h.end(s, end)
			return
		}
	} else if t.reqHdrs {
		h.end(s, end)
		return
	}
	var method, path, authority, status string
	for _, f := range fields {
		switch f.Name {
		case ":method":
			method = f.Value
		case ":path":
			path = f.Value
		case ":authority":
			authority = f.Value
		case ":status":
			status = f.Value
		}
	}
	m.raw = m.raw[:0]
	dohHeaders(t, dir, fields)
	if dir == inspect.ToServer {
		t.reqHdrs = true
		h.requestEvents(fields)
		if path == "" {
			path = "*"
		}
		m.raw = append(append(append(append(m.raw, method...), ' '), path...), " HTTP/2\r\n"...)
	} else {
		m.raw = append(append(m.raw, "HTTP/2 "...), status...)
		m.raw = append(m.raw, "\r\n"...)
		if len(status) > 0 && status[0] == '1' {
			// Interim response: its headers are not the final ones.
			m.raw = m.raw[:0]
			return
		}
		t.respHdrs = true
	}
	m.lineEnd = len(m.raw)
	host := false
	for _, f := range fields {
		if strings.HasPrefix(f.Name, ":") {
			continue
		}
		host = host || f.Name == "host"
		m.raw = append(append(append(append(m.raw, f.Name...), ": "...), f.Value...), "\r\n"...)
	}
	if !host && authority != "" {
		m.raw = append(append(append(m.raw, "host: "...), authority...), "\r\n"...)
	}
	m.raw = append(m.raw, "\r\n"...)
	p.startLine(s, m, trimEOL(m.raw[:m.lineEnd]), h.emit)
	if s.st == stGarbage {
		return
	}
	// Suricata's HTTP/2 request and response lines end in CRLF
	// (rust/src/http2/detect.rs), unlike HTTP/1's.
	lb := applayer.HTTPRequestLine
	if dir == inspect.ToClient {
		lb = applayer.HTTPResponseLine
	}
	if sp := m.bufs[lb]; sp.ok && sp.raw && int(sp.e)+2 == m.lineEnd {
		m.setRaw(lb, int(sp.s), m.lineEnd)
	}
	p.parseHeaders(s, m)
	pseudoLines(m, fields, !host && authority != "")
	p.contentEncoding(s, m)
	p.startFile(m)
	p.emit(dir, t, false, h.emit)
	h.end(s, end)
}

// pseudoLines puts the block's pseudo-header fields first among the
// message's header lines (http.request_header, http.response_header):
// Suricata's HTTP/2 header buffers hold every field of the block,
// ":authority: example.com" included, and not the host line made from
// :authority for http.host (synthHost: it is the last line).
func pseudoLines(m *msg, fields []hpack.HeaderField, synthHost bool) {
	if synthHost && len(m.lines) > 0 {
		m.lines = m.lines[:len(m.lines)-1]
	}
	n := 0
	for _, f := range fields {
		if strings.HasPrefix(f.Name, ":") {
			n++
		}
	}
	if n == 0 {
		return
	}
	m.lines = append(m.lines, make([]span, n)...)
	copy(m.lines[n:], m.lines[:len(m.lines)-n])
	i := 0
	for _, f := range fields {
		if !strings.HasPrefix(f.Name, ":") {
			continue
		}
		s := len(m.derived)
		m.derived = append(append(append(m.derived, f.Name...), ": "...), f.Value...)
		m.lines[i] = span{s: int32(s), e: int32(len(m.derived)), ok: true}
		i++
	}
}

// Data implements http2.Handler.
func (h *h2) Data(dir inspect.Direction, id uint32, data []byte, end bool) {
	t := h.streams[id]
	if t == nil {
		return
	}
	s := &side{dir: dir, cur: t}
	h.p.body(s, data, h.emit)
	m := &t.req
	if dir == inspect.ToClient {
		m = &t.resp
	}
	if h.dohData(t, dir, m) || s.bodyDirty {
		h.p.emit(dir, t, false, h.emit)
	}
	h.end(s, end)
}

// end completes a direction of a stream; the response's end logs the
// transaction.
func (h *h2) end(s *side, end bool) {
	if !end {
		return
	}
	t := s.cur
	if s.dir == inspect.ToServer {
		t.reqDone = true
		if t.req.file.size > 0 {
			h.p.emitFile(inspect.ToServer, t, &t.req, "CLOSED", h.emit)
		}
	} else {
		// The request may still be sending its body (a server may answer
		// first): the stream stays until both directions ended, so the
		// rest of an upload is still inspected.
		t.respDone = true
		h.p.emit(inspect.ToClient, t, true, h.emit)
		if t.resp.file.size > 0 {
			h.p.emitFile(inspect.ToClient, t, &t.resp, "CLOSED", h.emit)
		}
	}
	h.done(t)
}

func (h *h2) done(t *tx) {
	if !t.reqDone || !t.respDone {
		return
	}
	for id, st := range h.streams {
		if st == t {
			delete(h.streams, id)
		}
	}
	h.p.release(t)
}

// Reset implements http2.Handler. A stream reset before its response
// ended is logged as it stands, as Suricata logs it (with the error
// code).
func (h *h2) Reset(id uint32) {
	if t := h.streams[id]; t != nil {
		if !t.respDone && h.emit != nil {
			t.respDone = true
			h.p.emit(inspect.ToClient, t, true, h.emit)
		}
		t.reqDone, t.respDone = true, true
		h.done(t)
	}
}

// Anomaly implements http2.Handler.
func (h *h2) Anomaly(dir inspect.Direction, event string) {
	h.p.anoms = append(h.p.anoms, inspect.Anomaly{AppProto: AppProto2, Event: event})
	if h.emit != nil {
		h.p.emitAnomalies(&side{dir: dir}, h.emit)
	}
}

// Event implements http2.Handler: the event goes out with the next Unit.
func (h *h2) Event(dir inspect.Direction, event string) {
	h.p.anoms = append(h.p.anoms, inspect.Anomaly{AppProto: AppProto2, Event: event})
}

// requestEvents raises Suricata's events on a request header block:
// userinfo in :authority, and :authority and host that differ.
func (h *h2) requestEvents(fields []hpack.HeaderField) {
	var authority, host *string
	for i := range fields {
		switch f := &fields[i]; {
		case strings.EqualFold(f.Name, ":authority"):
			authority = &f.Value
			if strings.Contains(f.Value, "@") {
				h.Event(inspect.ToServer, http2.EvUserinfoInURI)
			}
		case strings.EqualFold(f.Name, "host"):
			host = &f.Value
		}
	}
	if authority != nil && host != nil && !strings.EqualFold(*authority, *host) {
		h.Event(inspect.ToServer, http2.EvAuthorityHostMismatch)
	}
}

// close logs the streams still open at the end of the flow.
func (h *h2) close(emit func(*applayer.Unit)) {
	for id, t := range h.streams {
		if t.req.file.size > 0 && !t.reqDone {
			h.p.emitFile(inspect.ToServer, t, &t.req, "TRUNCATED", emit)
		}
		if !t.respDone {
			t.respDone = true
			h.p.emit(inspect.ToClient, t, true, emit)
			if t.resp.file.size > 0 {
				h.p.emitFile(inspect.ToClient, t, &t.resp, "TRUNCATED", emit)
			}
		}
		t.reqDone = true
		delete(h.streams, id)
		h.p.release(t)
	}
}

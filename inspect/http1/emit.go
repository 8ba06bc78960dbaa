package http1

import (
	"bytes"
	"sync"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// fromResponse marks the buffers a to_client Unit takes from the response;
// the others stay as the request set them.
var fromResponse = func() (f [applayer.NumBuffers]bool) {
	for _, b := range []applayer.Buffer{
		applayer.HTTPProtocol, applayer.HTTPHeader, applayer.HTTPHeaderRaw, applayer.HTTPHeaderNames,
		applayer.HTTPCookie, applayer.HTTPContentType, applayer.HTTPContentLen, applayer.HTTPConnection,
		applayer.HTTPStart, applayer.HTTPStatCode, applayer.HTTPStatMsg, applayer.HTTPResponseLine,
		applayer.HTTPResponseBody, applayer.HTTPLocation, applayer.HTTPServer,
	} {
		f[b] = true
	}
	return f
}()

// emit hands detection the buffers of t as seen from dir. final marks the
// Unit that completes the transaction and carries its EVE record.
func (p *Parser) emit(dir inspect.Direction, t *tx, final bool, emit func(*applayer.Unit)) {
	u := getUnit()
	defer putUnit(u)
	u.Dir, u.TxID = dir, t.id
	u.AppProto = AppProto
	if t.h2 {
		// HTTP/2 transactions say so: "alert http" rules match them,
		// "alert http1" ones do not.
		u.AppProto = AppProto2
	}
	req, resp := &t.req, &t.resp
	for b := applayer.Buffer(1); b < applayer.NumBuffers; b++ {
		if dir == inspect.ToClient && fromResponse[b] {
			u.Buffers[b] = resp.get(resp.bufs[b])
		} else {
			u.Buffers[b] = req.get(req.bufs[b])
		}
	}
	if len(req.body) > 0 {
		u.Buffers[applayer.HTTPRequestBody] = req.body[:len(req.body):len(req.body)]
	}
	if dir == inspect.ToClient && len(resp.body) > 0 {
		u.Buffers[applayer.HTTPResponseBody] = resp.body[:len(resp.body):len(resp.body)]
	}
	p.setFiles(u, t, dir)
	u.BodyOffset = req.bodyOff
	if dir == inspect.ToClient {
		u.BodyOffset = resp.bodyOff
	}
	u.Multi[applayer.HTTPRequestHeader] = req.appendLines(u.Multi[applayer.HTTPRequestHeader][:0])
	u.Multi[applayer.HTTPResponseHeader] = u.Multi[applayer.HTTPResponseHeader][:0]
	if dir == inspect.ToClient {
		u.Multi[applayer.HTTPResponseHeader] = resp.appendLines(u.Multi[applayer.HTTPResponseHeader])
	}
	u.Multi[applayer.AppLayerEvent] = appendEvents(u.Multi[applayer.AppLayerEvent][:0], t)
	if t.h2 {
		setH2Buffers(u, t, dir)
		h := p.ensureH2()
		if t.stream != 0 && !final {
			// A stream's id and frames, for the http2 object of an
			// alert before the stream's record is complete.
			h.rec = inspect.HTTPTx{StreamID: t.stream, H2Request: t.frames[inspect.ToServer].eve(), H2Response: t.frames[inspect.ToClient].eve()}
			u.Record = &h.rec
		}
		if t.stream == 0 {
			// A connection frame's transaction: alerts on it say what
			// its frames said (Suricata's http2 object of stream 0).
			h.rec = inspect.HTTPTx{Protocol: "HTTP/2", Connection: true, H2Request: t.frames[inspect.ToServer].eve(), H2Response: t.frames[inspect.ToClient].eve()}
			u.Record = &h.rec
		}
	} else if p.cfg.Frames {
		p.setFrame(u, t, dir)
	}
	u.Event = nil
	if final {
		u.Event = &inspect.Event{Dir: dir, TxID: t.id, HTTP: &inspect.HTTPTx{
			Hostname:    string(req.get(req.bufs[applayer.HTTPHost])),
			URL:         string(req.get(req.bufs[applayer.HTTPURIRaw])),
			Method:      string(req.get(req.bufs[applayer.HTTPMethod])),
			Protocol:    string(req.get(req.bufs[applayer.HTTPProtocol])),
			UserAgent:   string(req.get(req.bufs[applayer.HTTPUserAgent])),
			ContentType: string(resp.get(resp.bufs[applayer.HTTPContentType])),
			Referer:     string(req.get(req.bufs[applayer.HTTPReferer])),
			Status:      t.status,
			// libhtp's response_message_len: the body as sent,
			// chunked framing included (trailers not).
			Length:   resp.bodyLen + resp.framing,
			Redirect: string(resp.get(resp.bufs[applayer.HTTPLocation])),
			Port:     applayer.HostPort(req.get(req.bufs[applayer.HTTPHostRaw])),
			XFF:      string(req.headerValue("X-Forwarded-For")),
			Proxy:    p.proxy,
		}}
		switch p.cfg.HeaderLog {
		case "both":
			u.Event.HTTP.RequestHeaders, u.Event.HTTP.ResponseHeaders = req.headerList(), resp.headerList()
		case "request":
			u.Event.HTTP.RequestHeaders = req.headerList()
		case "response":
			u.Event.HTTP.ResponseHeaders = resp.headerList()
		}
		if t.h2 {
			u.Event.HTTP.Protocol = "HTTP/2"
			u.Event.HTTP.StreamID = t.stream
			u.Event.HTTP.Connection = t.stream == 0
			u.Event.HTTP.H2Request = t.frames[inspect.ToServer].eve()
			u.Event.HTTP.H2Response = t.frames[inspect.ToClient].eve()
			// Suricata's http2 logger writes every field of both
			// header blocks, pseudo-headers first as sent, whatever
			// the http logger's dump-all-headers says (log_http2).
			u.Event.HTTP.RequestHeaders, u.Event.HTTP.ResponseHeaders = req.lineHeaders(), resp.lineHeaders()
		}
	}
	u.Anomalies = nil
	if len(p.anoms) > 0 {
		u.Anomalies = p.anoms
	}
	emit(u)
	respEvents := dir == inspect.ToClient && len(p.anoms) > 0
	p.anoms = p.anoms[:0]
	if respEvents {
		// An event belongs to its transaction, and Suricata inspects a
		// transaction's request side again after the response was
		// parsed (in IDS mode the request side is inspected on the
		// client's packets, which acknowledge the response first): a
		// to_server app-layer-event rule sees the response's events.
		// The request's buffers did not change, so only rules on the
		// events (or on several buffers) are candidates again, and a
		// rule that alerted on this transaction does not alert twice.
		p.emit(inspect.ToServer, t, false, emit)
	}
}

// Units are lent for one emit: a Unit per parser (two arrays of a slice
// per buffer) was ~1.9 KB of an idle flow's ~28 KB (BenchmarkFlowState).
var unitPool = sync.Pool{New: func() any { return &applayer.Unit{AppProto: AppProto} }}

func getUnit() *applayer.Unit { return unitPool.Get().(*applayer.Unit) }

// putUnit clears what points into a parser's memory and returns u.
func putUnit(u *applayer.Unit) {
	u.Buffers = [applayer.NumBuffers][]byte{}
	for i := range u.Multi {
		clear(u.Multi[i])
		u.Multi[i] = u.Multi[i][:0]
	}
	u.Event, u.Anomalies, u.Record = nil, nil, nil
	u.AppProto = AppProto
	unitPool.Put(u)
}

// appendEvents appends the app-layer-event instances of every anomaly
// t's messages raised so far: as in Suricata, an event belongs to its
// transaction, so a rule pairing it with a buffer completed later (a
// body, the response) still sees it.
func appendEvents(dst [][]byte, t *tx) [][]byte {
	for d, mask := range [2]uint64{t.req.anomalies, t.resp.anomalies} {
		for a := anom(0); mask != 0 && a < numAnoms; a++ {
			if mask&(1<<a) != 0 {
				mask &^= 1 << a
				dst = append(dst, eventBufs[a][d]...)
			}
		}
	}
	return dst
}

// headerValue is the value of the message's header name (repeated ones
// merged), or nil.
func (m *msg) headerValue(name string) []byte {
	for _, h := range m.hdrs {
		if !h.dup && equalFoldString(m.get(h.name), name) {
			return m.get(h.value)
		}
	}
	return nil
}

// headerList is the message's headers for the transaction record.
func (m *msg) headerList() []inspect.HTTPHeader {
	var out []inspect.HTTPHeader
	for _, h := range m.hdrs {
		if !h.dup {
			out = append(out, inspect.HTTPHeader{Name: string(m.get(h.name)), Value: string(m.get(h.value))})
		}
	}
	return out
}

// lineHeaders is the message's header lines ("name: value", HTTP/2's
// pseudo-headers first) as logged headers.
func (m *msg) lineHeaders() []inspect.HTTPHeader {
	var out []inspect.HTTPHeader
	for _, sp := range m.lines {
		name, value, _ := bytes.Cut(m.get(sp), []byte(": "))
		out = append(out, inspect.HTTPHeader{Name: string(name), Value: string(value)})
	}
	return out
}

// appendLines appends the message's header line instances to dst.
func (m *msg) appendLines(dst [][]byte) [][]byte {
	for _, sp := range m.lines {
		dst = append(dst, m.get(sp))
	}
	return dst
}

// setFrame fills the frame buffer of dir's message (Suricata's HTTP/1
// frames, app-layer-htp.c: a request or response from its first byte
// to its end): its head as received and its body window. Unlike
// Suricata's, the body part is de-chunked and decoded, as the endpoint
// reads it.
func (p *Parser) setFrame(u *applayer.Unit, t *tx, dir inspect.Direction) {
	m, b := &t.req, applayer.HTTP1FrameRequest
	if dir == inspect.ToClient {
		m, b = &t.resp, applayer.HTTP1FrameResponse
	}
	if len(m.raw) == 0 {
		return
	}
	x := p.extras()
	x.frame = append(append(x.frame[:0], m.raw...), m.body...)
	u.Buffers[b] = x.frame[:len(x.frame):len(x.frame)]
}

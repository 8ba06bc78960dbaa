package http1

import (
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
	u.Buffers[applayer.FileName] = fileName(t, dir)
	u.BodyOffset = req.bodyOff
	if dir == inspect.ToClient {
		u.BodyOffset = resp.bodyOff
	}
	u.Multi[applayer.HTTPRequestHeader] = req.appendLines(u.Multi[applayer.HTTPRequestHeader][:0])
	u.Multi[applayer.HTTPResponseHeader] = u.Multi[applayer.HTTPResponseHeader][:0]
	if dir == inspect.ToClient {
		u.Multi[applayer.HTTPResponseHeader] = resp.appendLines(u.Multi[applayer.HTTPResponseHeader])
	}
	if t.h2 {
		setH2Buffers(u, t, dir)
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
			Length:      resp.bodyLen,
			Proxy:       p.proxy,
		}}
		if t.h2 {
			u.Event.HTTP.Protocol = "HTTP/2"
			u.Event.HTTP.StreamID = t.stream
			u.Event.HTTP.H2Request = t.frames[inspect.ToServer].eve()
			u.Event.HTTP.H2Response = t.frames[inspect.ToClient].eve()
		}
	}
	u.Anomalies = nil
	if len(p.anoms) > 0 {
		u.Anomalies = p.anoms
	}
	emit(u)
	p.anoms = p.anoms[:0]
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
	u.Event, u.Anomalies = nil, nil
	unitPool.Put(u)
}

// appendLines appends the message's header line instances to dst.
func (m *msg) appendLines(dst [][]byte) [][]byte {
	for _, sp := range m.lines {
		dst = append(dst, m.get(sp))
	}
	return dst
}

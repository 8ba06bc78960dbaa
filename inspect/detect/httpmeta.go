package detect

import (
	"bytes"
	"strconv"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// Alerts carry the HTTP transaction they happened in, which EVE logs as
// the alert's http object (Suricata's alert metadata). A rule matched on
// HTTP buffers gets its own transaction; a raw-stream rule gets the
// transaction in progress in the flow when it matched, which is what
// Suricata's detect.guess-applayer-tx does when one transaction is alive.

// httpMeta is the flow's current HTTP transaction record. Its fields are
// copied into reused byte slices on each Unit that changes them, and the
// record is built from them only when an alert needs it: building it
// eagerly (seven strings per request and response) was ~4% of
// inspection time on keep-alive HTTP.
type httpMeta struct {
	fields   [numHTTPFields][]byte
	xff      []byte          // the request's X-Forwarded-For value
	have     bool            // a transaction is in progress
	tx       *inspect.HTTPTx // built from fields; nil until needed
	dir      inspect.Direction
	key      uint64 // TxID<<1 | direction of the Unit the fields came from
	complete bool   // tx ended in this Inspect call
	// stream and h2 are an HTTP/2 stream's id and what its frames said
	// (Unit.Record), for the alert's http2 object.
	stream uint32
	h2     [2]inspect.HTTP2Frames
}

// httpFields are the buffers an alert's http object is made of.
var httpFields = [...]applayer.Buffer{applayer.HTTPHost, applayer.HTTPURIRaw, applayer.HTTPMethod,
	applayer.HTTPProtocol, applayer.HTTPUserAgent, applayer.HTTPReferer, applayer.HTTPHostRaw,
	applayer.HTTPContentType, applayer.HTTPStatCode}

const numHTTPFields = len(httpFields)

// trackHTTP records the transaction of an HTTP Unit. Its fields come
// from the buffers the parser already set; they are copied again only
// when they changed (request line, then headers), not per body chunk.
func (f *Flow) trackHTTP(u *applayer.Unit) {
	if !inspect.AppProtoIs(u.AppProto, "http") {
		return
	}
	if u.AppProto == "http2" && u.Buffers[applayer.HTTPProtocol] == nil && u.Event == nil && u.Record == nil {
		return // not a message: an HTTP/2 connection frame's Unit
	}
	if f.http == nil {
		f.http = &httpMeta{}
	}
	h := f.http
	k := u.TxID<<1 | uint64(u.Dir)
	if u.Event == nil && u.Record != nil && u.Record.Connection {
		tx := *u.Record
		h.tx, h.have, h.key, h.complete = &tx, true, k, true
		return
	}
	if r := u.Record; r != nil && u.Event == nil {
		// An HTTP/2 stream's frames may change with no buffer changing
		// (a PRIORITY, a RST_STREAM): the record is rebuilt when needed.
		h.stream, h.h2[0], h.h2[1] = r.StreamID, r.H2Request, r.H2Response
		h.tx = nil
	} else if u.Record == nil {
		h.stream = 0
	}
	if u.Event != nil && u.Event.HTTP != nil {
		tx := *u.Event.HTTP
		h.tx, h.have, h.key, h.complete = &tx, true, k, true
		return
	}
	b := &u.Buffers
	if h.have && h.key == k && !h.complete && h.same(b, u.Dir) {
		return // e.g. a body grew: the logged fields are unchanged
	}
	for i, fb := range httpFields {
		h.fields[i] = append(h.fields[i][:0], b[fb]...)
	}
	h.xff = append(h.xff[:0], headerValue(u.Multi[applayer.HTTPRequestHeader], xffName)...)
	h.tx, h.have, h.dir, h.key, h.complete = nil, true, u.Dir, k, false
}

// record returns the transaction in progress, building it if needed.
func (h *httpMeta) record() *inspect.HTTPTx {
	if h == nil || !h.have {
		return nil
	}
	if h.tx == nil {
		fl := &h.fields
		tx := &inspect.HTTPTx{
			Hostname:  string(fl[0]),
			URL:       string(fl[1]),
			Method:    string(fl[2]),
			Protocol:  string(fl[3]),
			UserAgent: string(fl[4]),
			Referer:   string(fl[5]),
			Port:      applayer.HostPort(fl[6]),
			XFF:       string(h.xff),
		}
		if h.dir == inspect.ToClient {
			tx.ContentType = string(fl[7])
			tx.Status, _ = strconv.Atoi(string(fl[8]))
		}
		if h.stream != 0 {
			tx.StreamID, tx.H2Request, tx.H2Response = h.stream, h.h2[0], h.h2[1]
		}
		h.tx = tx
	}
	return h.tx
}

// unitHTTP is the record for an alert on Unit u (trackHTTP ran for it).
func (f *Flow) unitHTTP(u *applayer.Unit) *inspect.HTTPTx {
	if !inspect.AppProtoIs(u.AppProto, "http") {
		return nil
	}
	return f.http.record()
}

// attachHTTP gives raw-stream alerts of this Inspect call the transaction
// in progress, and forgets a transaction that ended.
func (f *Flow) attachHTTP() {
	h := f.http
	if h == nil || !h.have {
		return
	}
	txID := h.key >> 1
	for i := range f.res.Alerts {
		a := &f.res.Alerts[i]
		switch {
		case a.HTTP == nil && a.AppProto == "":
			a.HTTP = h.record()
		case inspect.AppProtoIs(a.AppProto, "http") && a.TxID == txID:
			// A rule that matched on an early Unit (the request line)
			// is logged with what the rest of this chunk revealed.
			a.HTTP = h.record()
		}
	}
	if h.complete {
		h.have, h.tx = false, nil
	}
}

// same reports whether the fields already hold the Unit's buffers (the
// response's content type and status too, for a response).
func (h *httpMeta) same(b *[applayer.NumBuffers][]byte, dir inspect.Direction) bool {
	n := numHTTPFields
	if dir == inspect.ToServer {
		n -= 2
	}
	for i, fb := range httpFields[:n] {
		if !bytes.Equal(h.fields[i], b[fb]) {
			return false
		}
	}
	return true
}

// xffName is the header EVE's xff option reads (Suricata's default).
var xffName = []byte("X-Forwarded-For")

// headerValue finds "Name: value" among header line instances.
func headerValue(lines [][]byte, name []byte) []byte {
	for _, l := range lines {
		if len(l) > len(name)+1 && l[len(name)] == ':' && bytes.EqualFold(l[:len(name)], name) {
			return bytes.TrimLeft(l[len(name)+1:], " ")
		}
	}
	return nil
}

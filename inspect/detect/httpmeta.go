package detect

import (
	"strconv"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// Alerts carry the HTTP transaction they happened in, which EVE logs as
// the alert's http object (Suricata's alert metadata). A rule matched on
// HTTP buffers gets its own transaction; a raw-stream rule gets the
// transaction in progress in the flow when it matched, which is what
// Suricata's detect.guess-applayer-tx does when one transaction is alive.

// httpMeta is the flow's current HTTP transaction record.
type httpMeta struct {
	tx       *inspect.HTTPTx // nil: none in progress
	key      uint64          // TxID<<1 | direction of the Unit tx was built from
	complete bool            // tx ended in this Inspect call
}

// trackHTTP records the transaction of an HTTP Unit. Its fields come
// from the buffers the parser already set; the record is rebuilt only when
// they changed (request line, then headers), not per body chunk.
func (f *Flow) trackHTTP(u *applayer.Unit) {
	if u.AppProto != "http" {
		return
	}
	if f.http == nil {
		f.http = &httpMeta{}
	}
	h := f.http
	k := u.TxID<<1 | uint64(u.Dir)
	if u.Event != nil && u.Event.HTTP != nil {
		tx := *u.Event.HTTP
		h.tx, h.key, h.complete = &tx, k, true
		return
	}
	b := &u.Buffers
	if h.tx != nil && h.key == k && !h.complete && sameHTTP(h.tx, b, u.Dir) {
		return // e.g. a body grew: the logged fields are unchanged
	}
	tx := &inspect.HTTPTx{
		Hostname:  string(b[applayer.HTTPHost]),
		URL:       string(b[applayer.HTTPURIRaw]),
		Method:    string(b[applayer.HTTPMethod]),
		Protocol:  string(b[applayer.HTTPProtocol]),
		UserAgent: string(b[applayer.HTTPUserAgent]),
		Referer:   string(b[applayer.HTTPReferer]),
	}
	if u.Dir == inspect.ToClient {
		tx.ContentType = string(b[applayer.HTTPContentType])
		tx.Status, _ = strconv.Atoi(string(b[applayer.HTTPStatCode]))
	}
	h.tx, h.key, h.complete = tx, k, false
}

// unitHTTP is the record for an alert on Unit u (trackHTTP ran for it).
func (f *Flow) unitHTTP(u *applayer.Unit) *inspect.HTTPTx {
	if u.AppProto != "http" || f.http == nil {
		return nil
	}
	return f.http.tx
}

// attachHTTP gives raw-stream alerts of this Inspect call the transaction
// in progress, and forgets a transaction that ended.
func (f *Flow) attachHTTP() {
	h := f.http
	if h == nil || h.tx == nil {
		return
	}
	txID := h.key >> 1
	for i := range f.res.Alerts {
		a := &f.res.Alerts[i]
		switch {
		case a.HTTP == nil && a.AppProto == "":
			a.HTTP = h.tx
		case a.AppProto == "http" && a.TxID == txID:
			// A rule that matched on an early Unit (the request line)
			// is logged with what the rest of this chunk revealed.
			a.HTTP = h.tx
		}
	}
	if h.complete {
		h.tx = nil
	}
}

// sameHTTP reports whether tx already holds the Unit's fields; the
// comparisons do not allocate.
func sameHTTP(tx *inspect.HTTPTx, b *[applayer.NumBuffers][]byte, dir inspect.Direction) bool {
	if tx.Hostname != string(b[applayer.HTTPHost]) || tx.URL != string(b[applayer.HTTPURIRaw]) ||
		tx.Method != string(b[applayer.HTTPMethod]) || tx.Protocol != string(b[applayer.HTTPProtocol]) ||
		tx.UserAgent != string(b[applayer.HTTPUserAgent]) || tx.Referer != string(b[applayer.HTTPReferer]) {
		return false
	}
	return dir == inspect.ToServer || tx.ContentType == string(b[applayer.HTTPContentType])
}

package http1

import (
	"golang.org/x/net/http2/hpack"

	"github.com/interdict/interdict/inspect"
)

// Suricata's DNS-over-HTTP/2 events (rust/src/http2/http2.rs): a message
// body sent as application/dns-message that grows past the largest DNS
// message (65535 bytes, the 2-byte length of DNS over TCP). Suricata
// stops reading it as DNS there; here the body is still inspected as
// HTTP.
const (
	EvDNSRequestTooLong  = "dns_request_too_long"
	EvDNSResponseTooLong = "dns_response_too_long"
	dohMaxMessage        = 0xFFFF
)

// dohHeaders marks the message of dir as a DNS message when its header
// block says content-type: application/dns-message (as Suricata, the
// exact value).
func dohHeaders(t *tx, dir inspect.Direction, fields []hpack.HeaderField) {
	for _, f := range fields {
		if f.Name == "content-type" && f.Value == "application/dns-message" {
			t.doh[dir&1] = true
		}
	}
}

// dohData raises the too-long event once a DNS message body passed the
// bound, counting decoded bytes as Suricata does; it reports whether it
// did, so the event goes out with a Unit now.
func (h *h2) dohData(t *tx, dir inspect.Direction, m *msg) bool {
	if !t.doh[dir&1] {
		return false
	}
	n := m.decoded
	if m.dec == nil && len(m.codings) == 0 {
		n = m.bodyLen
	}
	if n <= dohMaxMessage {
		return false
	}
	t.doh[dir&1] = false
	ev := EvDNSRequestTooLong
	if dir == inspect.ToClient {
		ev = EvDNSResponseTooLong
	}
	h.Event(dir, ev)
	return true
}

package http1

import (
	"encoding/base64"
	"encoding/binary"
	"strings"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
	ih2 "github.com/interdict/interdict/inspect/http2"
)

// EvInvalidHTTP1Settings is Suricata's http2.invalid_http1_settings: an
// h2c upgrade's HTTP2-Settings header that is no list of SETTINGS
// parameters.
const EvInvalidHTTP1Settings = "invalid_http1_settings"

// mimicRequest is the HTTP/2 header block Suricata gives stream 1 after
// an h2c upgrade (SCHTTP2MimicHttp1Request, app-layer-http2.c; detect.rs
// SCHttp2TxAddHeader): the HTTP/1 request's method and URI as :method
// and :path, Host as :authority, and its other headers as sent but
// HTTP2-Settings, whose value is returned apart.
func mimicRequest(t *tx) (fields []hpack.HeaderField, settings string, hasSettings bool) {
	m := &t.req
	fields = []hpack.HeaderField{{Name: ":method", Value: string(m.get(m.bufs[applayer.HTTPMethod]))}}
	if uri := m.get(m.bufs[applayer.HTTPURIRaw]); uri != nil {
		fields = append(fields, hpack.HeaderField{Name: ":path", Value: string(uri)})
	}
	for _, h := range m.headerList() {
		switch {
		case h.Name == "HTTP2-Settings":
			settings, hasSettings = h.Value, true
		case strings.EqualFold(h.Name, "host"):
			fields = append(fields, hpack.HeaderField{Name: ":authority", Value: h.Value})
		default:
			fields = append(fields, hpack.HeaderField{Name: h.Name, Value: h.Value})
		}
	}
	return fields, settings, hasSettings
}

// upgrade starts the HTTP/2 connection of an h2c upgrade: stream 1 is a
// transaction of its own whose request is the upgraded one (as
// Suricata's, so HTTP/2 rules inspect it), complete, and whose response
// comes as frames; the HTTP2-Settings header is the client's first
// SETTINGS, a connection transaction of its own.
func (h *h2) upgrade(t *tx, emit func(*applayer.Unit)) {
	fields, settings, ok := mimicRequest(t)
	h.emit = emit
	defer func() { h.emit = nil }()
	h.Headers(inspect.ToServer, 1, fields, true)
	if !ok {
		return
	}
	params, valid := decodeSettings(settings)
	if !valid {
		h.Event(inspect.ToServer, EvInvalidHTTP1Settings)
		return
	}
	h.Frame(inspect.ToServer, 0, ih2.FrameInfo{Type: http2.FrameSettings, Settings: params})
}

// decodeSettings reads an HTTP2-Settings value: base64url (RFC 9113
// 3.2.1), padded or not, or standard base64, which Suricata reads; it
// must decode to 6-byte parameters.
func decodeSettings(v string) ([]http2.Setting, bool) {
	var raw []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
		if raw, err = enc.DecodeString(strings.TrimSpace(v)); err == nil {
			break
		}
	}
	if err != nil || len(raw)%6 != 0 {
		return nil, false
	}
	out := make([]http2.Setting, 0, len(raw)/6)
	for ; len(raw) >= 6; raw = raw[6:] {
		out = append(out, http2.Setting{ID: http2.SettingID(binary.BigEndian.Uint16(raw)), Val: binary.BigEndian.Uint32(raw[2:])})
	}
	return out, true
}

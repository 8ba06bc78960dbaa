package tls

import (
	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// AppProto is the EVE app_proto name.
const AppProto = "tls"

// MaxHandshake bounds the handshake bytes kept while a ClientHello is
// assembled. Hellos with post-quantum key shares are about 2 KB; 32 KiB
// leaves room for padding and large extension lists.
const MaxHandshake = 32 << 10

// maxRecord is the largest TLSCiphertext length (RFC 8446 5.2).
const maxRecord = 1<<14 + 256

const (
	recChangeCipherSpec = 20
	recAlert            = 21
	recHandshake        = 22
	recApplicationData  = 23
	recHeartbeat        = 24
)

// Anomaly event names, as Suricata's tls decoder events.
const (
	EvInvalidRecordType       = "INVALID_RECORD_TYPE"
	EvInvalidRecordVersion    = "INVALID_RECORD_VERSION"
	EvInvalidRecordLength     = "INVALID_RECORD_LENGTH"
	EvInvalidHandshakeMessage = "INVALID_HANDSHAKE_MESSAGE"
	EvHandshakeInvalidLength  = "HANDSHAKE_INVALID_LENGTH"
	EvInvalidSNIType          = "INVALID_SNI_TYPE"
	EvInvalidSNILength        = "INVALID_SNI_LENGTH"
	EvMultipleSNIExtensions   = "MULTIPLE_SNI_EXTENSIONS"
)

func init() {
	applayer.Register(applayer.Proto{
		Name:      AppProto,
		Transport: inspect.ProtoTCP,
		Probe:     Probe,
		New:       func() applayer.Parser { return New() },
		Buffers:   []applayer.Buffer{applayer.TLSSNI},
	})
}

// Probe recognises a TLS handshake record carrying a ClientHello (to the
// server) or a ServerHello (to the client). SSLv2-format hellos are not
// recognised.
func Probe(dir inspect.Direction, data []byte) applayer.ProbeResult {
	want := byte(1) // ClientHello
	if dir == inspect.ToClient {
		want = 2 // ServerHello
	}
	checks := []func(b byte) bool{
		func(b byte) bool { return b == recHandshake },
		func(b byte) bool { return b == 3 },
		func(b byte) bool { return b <= 4 },
		func(b byte) bool { return true },
		func(b byte) bool { return true },
		func(b byte) bool { return b == want },
	}
	for i, c := range checks {
		if i >= len(data) {
			return applayer.ProbeMore
		}
		if !c(data[i]) {
			return applayer.ProbeNo
		}
	}
	if n := int(data[3])<<8 | int(data[4]); n < 4 || n > maxRecord {
		return applayer.ProbeNo
	}
	return applayer.ProbeYes
}

type state uint8

const (
	stHeader state = iota // reading a 5-byte record header
	stBody                // in a record's payload
	stDone                // hello seen, or the flow is not TLS we can follow
)

// Parser reads the client's ClientHello. It implements applayer.Parser.
type Parser struct {
	maxHS     int
	st        state
	hdr       [5]byte
	hdrN      int
	recType   byte
	remaining int
	hs        []byte // handshake bytes so far, bounded by maxHS
	unit      applayer.Unit
	anoms     []inspect.Anomaly
}

var _ applayer.Parser = (*Parser)(nil)

// Option configures a Parser.
type Option func(*Parser)

// WithMaxHandshake sets the bound on handshake bytes kept (at least 512).
func WithMaxHandshake(n int) Option { return func(p *Parser) { p.maxHS = max(n, 512) } }

// New returns a parser for one flow.
func New(opts ...Option) *Parser {
	p := &Parser{maxHS: MaxHandshake}
	for _, o := range opts {
		o(p)
	}
	p.unit.AppProto = AppProto
	p.unit.Dir = inspect.ToServer
	return p
}

// Feed implements applayer.Parser. Only the client's bytes are parsed.
func (p *Parser) Feed(dir inspect.Direction, data []byte, emit func(*applayer.Unit)) {
	if dir != inspect.ToServer {
		return
	}
	for len(data) > 0 && p.st != stDone {
		switch p.st {
		case stHeader:
			n := copy(p.hdr[p.hdrN:], data)
			p.hdrN += n
			data = data[n:]
			if p.hdrN == len(p.hdr) {
				p.hdrN = 0
				p.record()
			}
		case stBody:
			n := min(p.remaining, len(data))
			if p.recType == recHandshake {
				p.handshake(data[:n], emit)
			}
			p.remaining -= n
			data = data[n:]
			if p.remaining == 0 && p.st == stBody {
				p.st = stHeader
			}
		}
	}
	if len(p.anoms) > 0 {
		p.flush(nil, "", emit)
	}
}

// Close implements applayer.Parser; a partial hello is not reported.
func (p *Parser) Close(emit func(*applayer.Unit)) {
	p.st = stDone
	if len(p.anoms) > 0 {
		p.flush(nil, "", emit)
	}
}

func (p *Parser) anomaly(ev string) {
	p.anoms = append(p.anoms, inspect.Anomaly{AppProto: AppProto, Event: ev})
}

// record checks a record header; anything that is not a plausible TLS
// record ends parsing, since framing is then lost.
func (p *Parser) record() {
	h := p.hdr
	p.recType = h[0]
	p.remaining = int(h[3])<<8 | int(h[4])
	switch {
	case h[0] < recChangeCipherSpec || h[0] > recHeartbeat:
		p.anomaly(EvInvalidRecordType)
		p.st = stDone
	case h[1] != 3 || h[2] > 4:
		p.anomaly(EvInvalidRecordVersion)
		p.st = stDone
	case p.remaining > maxRecord:
		p.anomaly(EvInvalidRecordLength)
		p.st = stDone
	case p.remaining == 0:
		if h[0] == recHandshake {
			// RFC 8446 5.1: zero-length handshake fragments are forbidden.
			p.anomaly(EvInvalidRecordLength)
		}
		p.st = stHeader
	default:
		p.st = stBody
	}
}

// handshake collects handshake bytes and parses the ClientHello once it is
// whole.
func (p *Parser) handshake(b []byte, emit func(*applayer.Unit)) {
	if len(p.hs)+len(b) > p.maxHS {
		p.anomaly(EvHandshakeInvalidLength)
		p.st = stDone
		return
	}
	p.hs = append(p.hs, b...)
	if len(p.hs) < 4 {
		return
	}
	if p.hs[0] != 1 {
		p.anomaly(EvInvalidHandshakeMessage)
		p.st = stDone
		return
	}
	n := int(p.hs[1])<<16 | int(p.hs[2])<<8 | int(p.hs[3])
	if n+4 > p.maxHS {
		p.anomaly(EvHandshakeInvalidLength)
		p.st = stDone
		return
	}
	if len(p.hs) < n+4 {
		return
	}
	h := parseClientHello(p.hs[4 : n+4])
	for _, ev := range h.anomalies[:h.nAnom] {
		p.anomaly(ev)
	}
	p.st = stDone
	version := ""
	if h.ok {
		version = versionName(h.version)
	}
	p.flush(h.sni, version, emit)
	p.hs = nil
}

// flush emits the hello (sni may be nil) or, with version "", anomalies only.
func (p *Parser) flush(sni []byte, version string, emit func(*applayer.Unit)) {
	u := &p.unit
	u.Buffers[applayer.TLSSNI] = sni
	u.Event = nil
	if version != "" {
		u.Event = &inspect.Event{Dir: inspect.ToServer, TLS: &inspect.TLSTx{SNI: string(sni), Version: version}}
	}
	u.Anomalies = p.anoms
	emit(u)
	u.Buffers[applayer.TLSSNI], u.Event, u.Anomalies = nil, nil, nil
	p.anoms = p.anoms[:0]
}

// versionName spells a protocol version as Suricata's EVE tls.version.
func versionName(v uint16) string {
	switch v {
	case 0x0300:
		return "SSLv3"
	case 0x0301:
		return "TLSv1"
	case 0x0302:
		return "TLS 1.1"
	case 0x0303:
		return "TLS 1.2"
	case 0x0304:
		return "TLS 1.3"
	}
	return "UNDETERMINED"
}

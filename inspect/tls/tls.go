package tls

import (
	"bytes"
	"errors"
	"strconv"

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
	EvInvalidCertificate      = "INVALID_CERTIFICATE"
	EvCertInvalidLength       = "CERTIFICATE_INVALID_LENGTH"
)

func init() {
	applayer.Register(applayer.Proto{
		Name:      AppProto,
		Transport: inspect.ProtoTCP,
		Probe:     Probe,
		New:       func() applayer.Parser { return New() },
		Buffers: []applayer.Buffer{applayer.TLSSNI, applayer.TLSCertSubject, applayer.TLSCertIssuer,
			applayer.TLSCertSerial, applayer.TLSCertFingerprint, applayer.TLSVersion, applayer.JA3Hash,
			applayer.JA3String, applayer.JA3SHash, applayer.JA3SString, applayer.TLSCerts, applayer.JA4Hash,
			applayer.TLSRandom, applayer.TLSRandomTime, applayer.TLSRandomBytes, applayer.TLSSubjectAltName,
			applayer.SSLVersion, applayer.AppHook, applayer.TLSALPN},
		Hooks: append(append([]string{}, hookNames[inspect.ToServer]...), hookNames[inspect.ToClient]...),
		Events: applayer.EventNames(EvInvalidRecordType, EvInvalidRecordVersion, EvInvalidRecordLength,
			EvInvalidHandshakeMessage, EvHandshakeInvalidLength, EvInvalidSNIType, EvInvalidSNILength,
			EvMultipleSNIExtensions, EvInvalidCertificate, EvCertInvalidLength),
	})
}

// Probe recognises a TLS handshake record carrying a ClientHello (to the
// server) or a ServerHello (to the client), and the SSLv2-format
// ClientHello old clients still send to offer SSLv3 or TLS.
func Probe(dir inspect.Direction, data []byte) applayer.ProbeResult {
	if dir == inspect.ToServer && len(data) > 0 && data[0]&0x80 != 0 {
		if len(data) < 5 {
			return applayer.ProbeMore
		}
		if isV2Hello(data) {
			return applayer.ProbeYes
		}
		return applayer.ProbeNo
	}
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

// isV2Hello reports whether a 5-byte header is an SSLv2 record (2-byte
// length, high bit set) carrying a CLIENT-HELLO (type 1) that offers
// SSLv2, SSLv3 or TLS (RFC 6101 E.1, RFC 5246 E.2).
func isV2Hello(h []byte) bool {
	n := int(h[0]&0x7f)<<8 | int(h[1])
	return h[0]&0x80 != 0 && h[2] == 1 && (h[3] == 3 && h[4] <= 3 || h[3] == 0 && h[4] == 2) && n >= 9
}

type state uint8

const (
	stHeader state = iota // reading a 5-byte record header
	stBody                // in a record's payload
	stDone                // nothing more to read in cleartext, or framing lost
)

// side is one direction's record and handshake reassembly.
type side struct {
	st        state
	hdr       [5]byte
	hdrN      int
	recType   byte
	remaining int
	hs        []byte // handshake bytes not yet parsed, bounded by maxHS
	records   int    // record headers read
}

// Parser reads the client's ClientHello and the server's ServerHello and
// (TLS 1.2 and earlier, where it is cleartext) Certificate message. It
// implements applayer.Parser.
//
// TLS 1.3 encrypts everything after the ServerHello, the certificate
// included (RFC 8446 2), so tls.cert_* and tls.certs never match a TLS 1.3
// flow, here as in Suricata.
type Parser struct {
	maxHS int
	d     [2]side
	unit  applayer.Unit
	anoms []inspect.Anomaly
	tx    inspect.TLSTx
	// hello: a ClientHello or ServerHello parsed, so the flow has a tls
	// record to log; logged: it was emitted.
	hello, logged bool
	// ver is each side's ssl_version class (applayer.SSLVersion*), 0
	// while its hello is unseen.
	ver [2]byte
	// reached counts each side's states in hookNames reached so far.
	reached [2]int
}

// hookNames are the states (Suricata's rule hooks) of each side of the
// handshake this parser reads, in order. The client's later states
// (certificate, finished) are not read: its messages after the
// ClientHello are not parsed, and are encrypted from TLS 1.3 on.
var hookNames = [2][]string{
	{"client_in_progress", "client_hello_done"},
	{"server_in_progress", "server_hello", "server_cert_done", "server_hello_done"},
}

var hookBufs = func() (b [2][][]byte) {
	for d, names := range hookNames {
		for _, n := range names {
			b[d] = append(b[d], []byte(n))
		}
	}
	return b
}()

// reach records that side dir's handshake got to state (a hookNames
// entry) and so to every state before it.
func (p *Parser) reach(dir inspect.Direction, state string) {
	for i, n := range hookNames[dir] {
		if n == state {
			p.reached[dir] = max(p.reached[dir], i+1)
		}
	}
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
	return p
}

// Feed implements applayer.Parser.
func (p *Parser) Feed(dir inspect.Direction, data []byte, emit func(*applayer.Unit)) {
	if dir > inspect.ToClient {
		return
	}
	d := &p.d[dir]
	for len(data) > 0 && d.st != stDone {
		switch d.st {
		case stHeader:
			n := copy(d.hdr[d.hdrN:], data)
			d.hdrN += n
			data = data[n:]
			if d.hdrN == len(d.hdr) {
				d.hdrN = 0
				p.record(dir, emit)
			}
		case stBody:
			n := min(d.remaining, len(data))
			if d.recType == recHandshake {
				p.handshake(dir, data[:n], emit)
			}
			d.remaining -= n
			data = data[n:]
			if d.remaining == 0 && d.st == stBody {
				d.st = stHeader
			}
		}
	}
	if len(p.anoms) > 0 {
		p.flushAnoms(dir, emit)
	}
}

// Close implements applayer.Parser: a handshake that did not complete is
// logged as far as it went, as Suricata logs it at the end of the flow.
func (p *Parser) Close(emit func(*applayer.Unit)) {
	p.d[0].st, p.d[1].st = stDone, stDone
	p.logTx(emit)
	if len(p.anoms) > 0 {
		p.flushAnoms(inspect.ToServer, emit)
	}
}

func (p *Parser) anomaly(ev string) {
	p.anoms = append(p.anoms, inspect.Anomaly{AppProto: AppProto, Event: ev})
}

// record checks a record header; anything that is not a plausible TLS
// record ends parsing in that direction, since framing is then lost.
func (p *Parser) record(dir inspect.Direction, emit func(*applayer.Unit)) {
	d := &p.d[dir]
	h := d.hdr
	d.records++
	p.reach(dir, hookNames[dir][0])
	if dir == inspect.ToServer && d.records == 1 && isV2Hello(h[:]) {
		// An SSLv2-format ClientHello: its version is all detection
		// reads (it has no extensions, so no SNI); the server answers
		// with TLS records.
		d.st = stDone
		v := uint16(h[3])<<8 | uint16(h[4])
		p.hello = true
		p.tx.Version = versionName(v)
		p.ver[inspect.ToServer] = sslClass(v)
		p.reach(inspect.ToServer, "client_hello_done")
		p.unit.Buffers[applayer.TLSVersion] = []byte{h[3], h[4]}
		p.emit(inspect.ToServer, emit)
		return
	}
	d.recType = h[0]
	d.remaining = int(h[3])<<8 | int(h[4])
	switch {
	case h[0] < recChangeCipherSpec || h[0] > recHeartbeat:
		p.anomaly(EvInvalidRecordType)
		d.st = stDone
	case h[1] != 3 || h[2] > 4:
		p.anomaly(EvInvalidRecordVersion)
		d.st = stDone
	case d.remaining > maxRecord:
		p.anomaly(EvInvalidRecordLength)
		d.st = stDone
	case dir == inspect.ToClient && (h[0] == recChangeCipherSpec || h[0] == recApplicationData):
		// What follows is encrypted: the server's handshake, as far as
		// it can be read, is over.
		d.st = stDone
		p.logTx(emit)
	case d.remaining == 0:
		if h[0] == recHandshake {
			// RFC 8446 5.1: zero-length handshake fragments are forbidden.
			p.anomaly(EvInvalidRecordLength)
		}
		d.st = stHeader
	default:
		d.st = stBody
	}
}

// Handshake message types (RFC 8446 4, RFC 5246 7.4).
const (
	hsClientHello     = 1
	hsServerHello     = 2
	hsCertificate     = 11
	hsServerHelloDone = 14
)

// handshake collects one direction's handshake bytes and parses each
// message once it is whole.
func (p *Parser) handshake(dir inspect.Direction, b []byte, emit func(*applayer.Unit)) {
	d := &p.d[dir]
	if len(d.hs)+len(b) > p.maxHS {
		p.anomaly(EvHandshakeInvalidLength)
		d.st = stDone
		return
	}
	d.hs = append(d.hs, b...)
	for d.st != stDone && len(d.hs) >= 4 {
		typ := d.hs[0]
		n := int(d.hs[1])<<16 | int(d.hs[2])<<8 | int(d.hs[3])
		if n+4 > p.maxHS {
			p.anomaly(EvHandshakeInvalidLength)
			d.st = stDone
			return
		}
		if len(d.hs) < n+4 {
			return
		}
		p.message(dir, typ, d.hs[4:n+4], emit)
		d.hs = append(d.hs[:0], d.hs[n+4:]...)
	}
	if d.st == stDone {
		d.hs = nil
	}
}

// message handles one whole handshake message.
func (p *Parser) message(dir inspect.Direction, typ byte, body []byte, emit func(*applayer.Unit)) {
	d := &p.d[dir]
	u := &p.unit
	switch {
	case dir == inspect.ToServer:
		// Only the ClientHello is read; the client's later messages are
		// not needed (and from TLS 1.3 on, encrypted).
		d.st = stDone
		if typ != hsClientHello {
			p.anomaly(EvInvalidHandshakeMessage)
			return
		}
		h := parseClientHello(body)
		for _, ev := range h.anomalies[:h.nAnom] {
			p.anomaly(ev)
		}
		if !h.ok {
			return
		}
		p.hello = true
		p.tx.SNI, p.tx.Version = string(h.sni), versionName(h.version)
		p.ver[inspect.ToServer] = sslClass(h.legacy)
		if h.first != 0 {
			p.ver[inspect.ToServer] = sslClass(h.first)
		}
		p.reach(inspect.ToServer, "client_hello_done")
		p.tx.JA3, p.tx.JA3Hash, p.tx.JA4 = h.ja3, md5Hex(h.ja3), h.ja4
		u.Buffers[applayer.JA4Hash] = []byte(h.ja4)
		p.setRandom(h.random)
		// The hello's bytes are reused for later messages; what Units keep
		// is copied.
		u.Buffers[applayer.TLSSNI] = bytes.Clone(h.sni)
		p.tx.ClientALPNs, u.Multi[applayer.TLSALPN] = alpnCopies(h.alpns, u.Multi[applayer.TLSALPN][:0])
		u.Buffers[applayer.TLSVersion] = []byte{byte(h.legacy >> 8), byte(h.legacy)}
		u.Buffers[applayer.JA3String] = []byte(p.tx.JA3)
		u.Buffers[applayer.JA3Hash] = []byte(p.tx.JA3Hash)
		p.emit(inspect.ToServer, emit)
	case typ == hsServerHello:
		s, ok := parseServerHello(body)
		if !ok {
			p.anomaly(EvInvalidHandshakeMessage)
			d.st = stDone
			return
		}
		p.hello = true
		p.tx.Version = versionName(s.version)
		p.ver[inspect.ToClient] = sslClass(s.version)
		p.reach(inspect.ToClient, "server_hello")
		p.tx.JA3S, p.tx.JA3SHash = s.ja3s, md5Hex(s.ja3s)
		u.Buffers[applayer.TLSVersion] = []byte{byte(s.version >> 8), byte(s.version)}
		u.Buffers[applayer.JA3SString] = []byte(p.tx.JA3S)
		u.Buffers[applayer.JA3SHash] = []byte(p.tx.JA3SHash)
		// tls.alpn to the client is the server's choice.
		p.tx.ServerALPNs, u.Multi[applayer.TLSALPN] = alpnCopies(s.alpns, u.Multi[applayer.TLSALPN][:0])
		p.setRandom(s.random)
		if s.version >= 0x0304 || s.version>>8 == 0x7f {
			// TLS 1.3 (and its drafts): the rest is encrypted.
			d.st = stDone
		}
		p.emit(inspect.ToClient, emit)
		if d.st == stDone {
			p.logTx(emit)
		}
	case typ == hsCertificate:
		p.certificates(body)
		p.reach(inspect.ToClient, "server_cert_done")
		p.emit(inspect.ToClient, emit)
	case typ == hsServerHelloDone:
		d.st = stDone
		p.reach(inspect.ToClient, "server_hello_done")
		p.logTx(emit)
	}
}

// certificates parses a TLS 1.2 Certificate message (RFC 5246 7.4.2): a
// 3-byte length, then each DER certificate with a 3-byte length. As in
// Suricata, a certificate that does not decode raises its own event
// (CERTIFICATE_INVALID_LENGTH when a DER header is cut, else
// INVALID_CERTIFICATE) once per message, and the message is then an
// INVALID_HANDSHAKE_MESSAGE; the rest of the chain is still read.
func (p *Parser) certificates(body []byte) {
	u := &p.unit
	bad := func(ev string) {
		p.anomaly(ev)
		p.anomaly(EvInvalidHandshakeMessage)
	}
	if len(body) < 3 || int(body[0])<<16|int(body[1])<<8|int(body[2]) != len(body)-3 {
		bad(EvInvalidCertificate)
		return
	}
	list := body[3:]
	failed := false
	for len(list) > 0 {
		if len(list) < 3 {
			bad(EvInvalidCertificate)
			return
		}
		n := int(list[0])<<16 | int(list[1])<<8 | int(list[2])
		if n == 0 || n > len(list)-3 {
			bad(EvInvalidCertificate)
			return
		}
		der := bytes.Clone(list[3 : 3+n])
		list = list[3+n:]
		u.Multi[applayer.TLSCerts] = append(u.Multi[applayer.TLSCerts], der)
		if len(u.Multi[applayer.TLSCerts]) > 1 {
			continue
		}
		c, err := parseCert(der)
		if err != nil {
			if !failed {
				failed = true
				if errors.Is(err, errDERHeader) {
					bad(EvCertInvalidLength)
				} else {
					bad(EvInvalidCertificate)
				}
			}
			continue
		}
		p.tx.Subject, p.tx.Issuer, p.tx.Serial, p.tx.Fingerprint = c.subject, c.issuer, c.serial, c.fingerprint
		p.tx.NotBefore, p.tx.NotAfter, p.tx.SubjectAltNames = c.notBefore, c.notAfter, c.sans
		u.Buffers[applayer.TLSCertSubject] = []byte(c.subject)
		u.Buffers[applayer.TLSCertIssuer] = []byte(c.issuer)
		u.Buffers[applayer.TLSCertSerial] = []byte(c.serial)
		u.Buffers[applayer.TLSCertFingerprint] = []byte(c.fingerprint)
		for _, san := range c.sans {
			u.Multi[applayer.TLSSubjectAltName] = append(u.Multi[applayer.TLSSubjectAltName], []byte(san))
		}
	}
}

// setRandom sets the random buffers from a hello's 32-byte random.
func (p *Parser) setRandom(r []byte) {
	u := &p.unit
	if len(r) != 32 {
		return
	}
	r = bytes.Clone(r)
	u.Buffers[applayer.TLSRandom], u.Buffers[applayer.TLSRandomTime], u.Buffers[applayer.TLSRandomBytes] = r, r[:4], r[4:]
}

// emit hands the buffers known so far to detection in direction dir; the
// client's buffers stay set for the server's Units, as HTTP's request
// buffers do for the response.
func (p *Parser) emit(dir inspect.Direction, emit func(*applayer.Unit)) {
	u := &p.unit
	u.Dir = dir
	p.setSSLVersion(dir)
	u.Anomalies = p.anoms
	emit(u)
	u.Anomalies = nil
	p.anoms = p.anoms[:0]
}

// logTx emits the flow's tls record once.
func (p *Parser) logTx(emit func(*applayer.Unit)) {
	if !p.hello || p.logged {
		return
	}
	p.logged = true
	u := &p.unit
	tx := p.tx
	u.Event = &inspect.Event{Dir: inspect.ToServer, TLS: &tx}
	u.Dir = inspect.ToClient
	p.setSSLVersion(inspect.ToClient)
	u.Anomalies = p.anoms
	emit(u)
	p.anoms = p.anoms[:0]
	// Nothing more will be inspected in this flow's handshake: let the
	// certificates and buffers go.
	*u = applayer.Unit{AppProto: AppProto}
}

// flushAnoms emits anomalies alone.
func (p *Parser) flushAnoms(dir inspect.Direction, emit func(*applayer.Unit)) {
	var u applayer.Unit
	u.AppProto, u.Dir, u.Anomalies = AppProto, dir, p.anoms
	emit(&u)
	p.anoms = p.anoms[:0]
}

// setSSLVersion sets the ssl_version buffer to dir's side, each
// direction matching its own side's version as in Suricata, and the
// states dir's side reached (AppHook).
func (p *Parser) setSSLVersion(dir inspect.Direction) {
	u := &p.unit
	u.Multi[applayer.AppHook] = hookBufs[dir][:p.reached[dir]]
	u.Buffers[applayer.SSLVersion] = nil
	if c := p.ver[dir]; c != 0 {
		u.Buffers[applayer.SSLVersion] = []byte{c}
	}
}

// sslClass maps a protocol version to its ssl_version class, 0 for a
// version Suricata's ssl_version does not know (it then never matches).
func sslClass(v uint16) byte {
	switch {
	case v == 0x0002:
		return applayer.SSLVersionSSLv2
	case v == 0x0300:
		return applayer.SSLVersionSSLv3
	case v == 0x0301:
		return applayer.SSLVersionTLS10
	case v == 0x0302:
		return applayer.SSLVersionTLS11
	case v == 0x0303:
		return applayer.SSLVersionTLS12
	case v == 0x0304 || v>>8 == 0x7f:
		return applayer.SSLVersionTLS13
	}
	return 0
}

// versionName spells a protocol version as Suricata's EVE tls.version
// (rust/src/tls_version.rs), the TLS 1.3 drafts included: "TLS 1.3
// draft-28" for 0x7f1c, "draft-<16" for the drafts before 16 (app-layer-
// ssl.c files them all as TLS_VERSION_13_PRE_DRAFT16), "draft-23-fb" for
// Facebook's 0xfb17.
func versionName(v uint16) string {
	switch {
	case v >= 0x7f10 && v <= 0x7f1c:
		return "TLS 1.3 draft-" + strconv.Itoa(int(v&0xff))
	case v>>8 == 0x7f && v&0xff < 0x10:
		return "TLS 1.3 draft-<16"
	case v >= 0xfb14 && v <= 0xfb17 || v == 0xfb1a:
		return "TLS 1.3 draft-" + strconv.Itoa(int(v&0xff)) + "-fb"
	}
	switch v {
	case 0x0200:
		return "SSLv2"
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

// alpnCopies copies a hello's ALPN protocols (which alias its buffer)
// for the record and the tls.alpn instances of the Unit.
func alpnCopies(alpns [][]byte, inst [][]byte) ([]string, [][]byte) {
	var names []string
	for _, a := range alpns {
		names = append(names, string(a))
		inst = append(inst, []byte(names[len(names)-1]))
	}
	return names, inst
}

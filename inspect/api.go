package inspect

import (
	"net/netip"
	"time"
)

// Direction of bytes within a flow, as Suricata's flow:to_server/to_client.
type Direction uint8

const (
	ToServer Direction = iota
	ToClient
)

func (d Direction) String() string {
	if d == ToServer {
		return "to_server"
	}
	return "to_client"
}

// Proto is a flow's transport protocol number.
type Proto uint8

const (
	ProtoICMP Proto = 1
	ProtoTCP  Proto = 6
	ProtoUDP  Proto = 17
)

// Action is a rule action. The numeric order is not the precedence; use
// Stronger. Suricata's precedence is pass > drop > reject > alert.
type Action uint8

const (
	ActionNone Action = iota
	ActionAlert
	ActionPass
	ActionDrop
	ActionReject // reject and rejectsrc: reset towards the flow's source
	ActionRejectDst
	ActionRejectBoth
)

var actionNames = [...]string{"none", "alert", "pass", "drop", "reject", "rejectdst", "rejectboth"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "invalid"
}

func (a Action) rank() int {
	switch a {
	case ActionPass:
		return 4
	case ActionDrop:
		return 3
	case ActionReject, ActionRejectDst, ActionRejectBoth:
		return 2
	case ActionAlert:
		return 1
	}
	return 0
}

// Stronger reports whether a takes precedence over b.
func (a Action) Stronger(b Action) bool { return a.rank() > b.rank() }

// FlowMeta describes a flow to the engine.
type FlowMeta struct {
	ID    uint64 // EVE flow_id
	Proto Proto
	Src   netip.AddrPort // the originator
	Dst   netip.AddrPort
	// Identity is who sent the flow; nil if no identity holds the source.
	Identity *Identity
	Start    time.Time
	// NotEstablished marks a TCP flow whose handshake was not seen (replay
	// of a mid-stream capture, or a lone segment): flow:established rules
	// do not match it and flow:not_established rules do. The live data path
	// only inspects established flows and leaves it false.
	NotEstablished bool
	// Packets is set by a caller that sees the flow's TCP packets
	// (replay) and reports each one to a PacketInspector: rules without
	// payload keywords are then evaluated per packet, as in Suricata,
	// rather than on the stream. The live data path sees no packets and
	// leaves it false.
	Packets bool
}

// PacketInspector is implemented by a FlowInspector that can evaluate
// rules per packet (FlowMeta.Packets). For each TCP packet the caller
// calls BeginPacket, then Inspect for the stream bytes the packet
// completed (if any), then EndPacket. The rules on the packet are
// evaluated with the first of those bytes in the packet's direction, so
// that all the rules a packet matches compete in one Result, as they do
// in Suricata; EndPacket evaluates them when no bytes came.
type PacketInspector interface {
	// BeginPacket announces a packet. For UDP and ICMP, whose
	// datagrams Inspect sees one by one, it only updates the counts.
	BeginPacket(p Packet)
	// EndPacket ends the packet, evaluating its rules if no Inspect
	// call did.
	EndPacket() Result
}

// Packet is what a PacketInspector is told of a packet.
type Packet struct {
	Dir     Direction
	Payload int // bytes of transport payload
	// Established is Suricata's per-packet flow:established: the
	// handshake had completed before the packet, or the packet carries
	// data that completes it (TCP; ignored otherwise).
	Established bool
	// Pkts and Bytes are the flow's packets and captured bytes so far
	// (to server, to client), this packet included: flow.pkts and
	// flow.bytes read them.
	Pkts, Bytes [2]uint64
}

// Identity is who sends a flow: a WireGuard peer (Key is its public key)
// or a configured source prefix (no key). The appliance builds one value
// per identity and shares the pointer between every flow and event of it,
// so it is immutable once published: a change is a new value.
type Identity struct {
	Name string `json:"name"`
	// Key is the peer's public key in WireGuard's base64; empty for a
	// prefix identity.
	Key  string   `json:"key,omitempty"`
	Tags []string `json:"tags,omitempty"`
}

// IdentityName returns the identity's name ("" for nil). It also makes
// *Identity satisfy the netstack's flow identity interface, so the data
// path carries this very pointer without importing inspect.
func (id *Identity) IdentityName() string {
	if id == nil {
		return ""
	}
	return id.Name
}

// HasTag reports whether the identity carries tag.
func (id *Identity) HasTag(tag string) bool {
	if id == nil {
		return false
	}
	for _, t := range id.Tags {
		if t == tag {
			return true
		}
	}
	return false
}

// RuleInfo is what an alert needs to say about the rule that fired.
type RuleInfo struct {
	GID, SID, Rev uint32
	Msg           string
	Action        Action
	Classtype     string
	Category      string // from classification.config
	Severity      int    // 1 (high) to 4; classification priority or the rule's priority keyword
	Metadata      map[string][]string
	File          string
	Line          int
	// AlertPass is Suricata 8's alert keyword on a pass rule: its matches
	// are logged as alerts too (the flow is still passed).
	AlertPass bool
	// Bypass is Suricata's bypass keyword: once the rule matched, the
	// rest of the flow is forwarded without inspection (Result.Bypass).
	Bypass bool
}

// Alert is one rule match.
type Alert struct {
	Rule *RuleInfo
	Dir  Direction
	// Offset is the stream offset (in Dir) one past the byte that
	// completed the match.
	Offset   uint64
	AppProto string // "http", "tls", "dns" or "" when matched on raw stream
	TxID     uint64 // app-layer transaction, when the match was in one
	// NoAlert is set for flowbits:noalert rules: the rule's action still
	// applies but no alert event is logged.
	NoAlert bool
	// RateFiltered: a threshold.config rate_filter changed the rule's
	// action (Rule is a copy carrying the new one); Suricata's drop
	// reason is then "threshold detection_filter".
	RateFiltered bool
	// HTTP, when set, is the HTTP transaction the match happened in (or
	// that was in progress in the flow for a raw-stream match), as far as
	// it was known then; EVE writes it as the alert's http object.
	HTTP *HTTPTx
	// DNS, when set, is the DNS message the match happened in; EVE
	// writes it as the alert's dns object.
	DNS *DNSTx
	// Vars are the values the rule's pcre capture groups stored
	// (pcre:"/(x)/,pkt:name"), in the order captured.
	Vars []Var
}

// FlowVarsReporter is implemented by flow inspectors that keep flow
// variables: the flowbits set (in the order they were set) and the
// flowint counters, which EVE logs in metadata.flowbits and
// metadata.flowints.
type FlowVarsReporter interface {
	FlowBits() []string
	FlowInts() map[string]int64
}

// EntropyReporter is implemented by flow inspectors that keep the last
// entropy the entropy keyword computed on each buffer of the flow (by
// Suricata's buffer name: file_data, http_uri, content), which EVE logs
// as metadata.entropy.
type EntropyReporter interface {
	Entropy() map[string]float64
}

// Var is a pcre capture stored by a match: Kind is Suricata's "pkt"
// (the packet's pktvars), "flow" (the flow's flowvars) or "alert".
type Var struct {
	Kind, Name, Value string
}

// Logged reports whether Suricata logs the match as an alert: not for
// noalert rules, nor for pass rules unless they carry the alert keyword.
// Their actions apply either way.
func (a *Alert) Logged() bool {
	if a.Rule == nil || a.NoAlert {
		return false
	}
	return a.Rule.Action != ActionPass || a.Rule.AlertPass
}

// Event is an app-layer record for EVE (event_type http, dns, tls or
// anomaly). Exactly one of the pointers is set.
type Event struct {
	Dir     Direction
	TxID    uint64
	HTTP    *HTTPTx
	DNS     *DNSTx
	TLS     *TLSTx
	SSH     *SSHTx
	Anomaly *Anomaly
	File    *FileInfo
}

// FileInfo describes a file carried in a message body (EVE fileinfo):
// the body as the endpoint saves it, after any content coding.
type FileInfo struct {
	Filename string // from Content-Disposition, else the URI's last path segment
	Size     int64  // decoded bytes
	SHA256   string // hex
	Magic    string // MIME type sniffed from the first bytes (WHATWG MIME sniffing)
	// State is CLOSED when the body ended as its framing said, TRUNCATED
	// when the flow ended first.
	State string
}

// HTTPTx holds the fields Suricata logs for an HTTP transaction.
type HTTPTx struct {
	Hostname, URL, Method, Protocol, UserAgent, ContentType, Referer string
	Status                                                           int
	Length                                                           int64 // response body bytes seen
	// Redirect is the response's Location header (EVE http.redirect).
	Redirect string
	// Port is the port the Host header (or absolute URI) names, 0 if
	// none (EVE http.http_port).
	Port int
	// RequestHeaders and ResponseHeaders are every header, in order
	// (repeated ones merged), when the parser is asked to log them.
	RequestHeaders, ResponseHeaders []HTTPHeader
	// XFF is the request's X-Forwarded-For header as sent; EVE writes
	// the address it names when configured to (eve.XFF).
	XFF string
	// Proxy is the PROXY protocol header that opened the flow, if any.
	Proxy *ProxyHeader
	// StreamID is the HTTP/2 stream of the transaction (0: HTTP/1, or
	// the connection's own frames when Connection is set).
	StreamID uint32
	// Connection marks an HTTP/2 connection transaction: one frame of
	// stream 0 (SETTINGS, GOAWAY, ...).
	Connection bool
	// H2Request and H2Response are what an HTTP/2 stream's frames said
	// in each direction, for EVE's http2.request and http2.response.
	H2Request, H2Response HTTP2Frames
}

// HTTP2Frames is what Suricata logs of one direction of an HTTP/2
// stream's frames: the first error code (RST_STREAM, GOAWAY) and weight
// (PRIORITY, HEADERS), and which of them came more than once.
type HTTP2Frames struct {
	ErrorCode   *uint32
	Priority    *uint8
	HasMultiple string // "error_code" or "priority"
	// Settings are the SETTINGS frames' parameters, in order.
	Settings []HTTP2Setting
}

// HTTP2Setting is one parameter of a SETTINGS frame.
type HTTP2Setting struct {
	ID    uint16
	Value uint32
}

// HTTPHeader is one header field as logged.
type HTTPHeader struct {
	Name, Value string
}

// ProxyHeader is a PROXY protocol header (v1 or v2): the addresses a load
// balancer in front of the client says the connection came from and to.
type ProxyHeader struct {
	Version   int
	Command   string // PROXY or LOCAL
	Transport string // TCP4, TCP6, UDP4, UDP6, UNIX or UNKNOWN
	Src, Dst  netip.AddrPort
}

// DNSTx is one DNS message: a query (type query) or an answer (type
// answer). As in Suricata 8, each message is its own transaction.
type DNSTx struct {
	Type   string // "query" or "answer"
	ID     uint16
	RRName string // the first question's name
	RRType string
	RCode  string
	// Flags is the header's second 16-bit word (QR, opcode, AA, TC, RD,
	// RA, Z, rcode); Queries are all questions, in order.
	Flags   uint16
	Queries []DNSQuestion
	// Answers, Authorities and Additionals are the records of the
	// message's sections, as Suricata logs them (bounded per section).
	Answers, Authorities, Additionals []DNSRecord
}

// DNSRecord is one resource record of a DNS message. RData is its data
// as Suricata prints it (an address, a name, one TXT string, NULL
// bytes); HasRData says whether the type has such a form. SOA, SRV and
// OPT records carry their fields instead.
type DNSRecord struct {
	RRName, RRType string
	TTL            uint32
	RData          string
	HasRData       bool
	SOA            *DNSSOA
	SRV            *DNSSRV
	OPT            []DNSOption
}

// DNSSOA is an SOA record's data.
type DNSSOA struct {
	MName, RName                            string
	Serial, Refresh, Retry, Expire, Minimum uint32
}

// DNSSRV is an SRV record's data.
type DNSSRV struct {
	Priority, Weight, Port uint16
	Name                   string
}

// DNSOption is one EDNS option of an OPT record.
type DNSOption struct {
	Code uint16
	Data []byte
}

// DNSQuestion is one question of a DNS message.
type DNSQuestion struct {
	RRName, RRType string
}

// SSHTx is an SSH connection's identification lines.
type SSHTx struct {
	Client, Server SSHSide
}

// SSHSide is one side's identification line.
type SSHSide struct {
	ProtoVersion, SoftwareVersion string
}

// TLSTx holds a TLS handshake's fields: the ClientHello's, the
// ServerHello's and the server certificate's (TLS 1.2 and earlier).
type TLSTx struct {
	SNI     string
	Version string // negotiated when the ServerHello was seen, else offered
	// JA3 and JA3S strings and their MD5 hashes (lower-case hex).
	JA3, JA3Hash, JA3S, JA3SHash string
	JA4                          string
	// ClientALPNs are the protocols the ClientHello offered (ALPN),
	// ServerALPNs the one the ServerHello chose.
	ClientALPNs, ServerALPNs []string
	// Leaf certificate, in Suricata's spelling (see inspect/tls).
	Subject, Issuer, Serial, Fingerprint string
	NotBefore, NotAfter                  time.Time
	SubjectAltNames                      []string
}

// Anomaly is a protocol violation found by an app-layer parser, e.g. an
// HTTP request with both Content-Length and Transfer-Encoding.
type Anomaly struct {
	AppProto string // "http", "tls", "dns"
	Event    string // e.g. "REQUEST_CONTENT_LENGTH_AND_TRANSFER_ENCODING"
}

// Result is what one Inspect call found. Action is the strongest action
// among the alerts (ActionNone if none), following Suricata's precedence.
type Result struct {
	Action Action
	Alerts []Alert
	Events []Event
	// Bypass is set when a rule with the bypass keyword matched (and
	// the result is not a drop or reject): the caller takes the flow out
	// of inspection from then on, as Suricata's local bypass does. The
	// data path forwards the rest without inspecting or logging it, as
	// a pass; the engine itself goes on inspecting what it is still fed,
	// so replay can hand it what Suricata had received before the bypass.
	Bypass bool
}

// FlowInspector inspects one flow. Inspect is called with each chunk of
// reassembled stream data (TCP) or each datagram (UDP), in order per
// direction. The two directions must not be inspected concurrently: the
// caller serialises (flowbits and app-layer state are shared).
type FlowInspector interface {
	Inspect(dir Direction, data []byte) Result
	// Close ends the flow and reports what only the end reveals (e.g. a
	// response body delimited by the connection's close).
	Close() Result
}

// AppProtoReporter is implemented by flow inspectors that detect the
// application protocol by content: AppProto is its EVE name ("http",
// "tls", "dns") or "" while none was recognised. Flow events carry it as
// app_proto, as Suricata's do.
type AppProtoReporter interface {
	AppProto() string
}

// AppProtoIs reports whether app, a flow's or transaction's protocol
// (or a rule's), satisfies a rule on protocol want. As in Suricata, http
// is HTTP/1 or HTTP/2, http1 only HTTP/1 (whose transactions and flows
// say "http" here), http2 only HTTP/2.
func AppProtoIs(app, want string) bool {
	switch {
	case app == want:
		return true
	case want == "http":
		return app == "http1" || app == "http2"
	case want == "http1":
		return app == "http"
	}
	return false
}

// AppProtoOf returns fi's detected protocol, or "".
func AppProtoOf(fi FlowInspector) string {
	if r, ok := fi.(AppProtoReporter); ok {
		return r.AppProto()
	}
	return ""
}

// AppProtoReasoner is implemented by flow inspectors that detect the
// app-layer protocol by content: how the protocol was decided, or why
// none was, for the EVE flow record's app_proto_reason.
type AppProtoReasoner interface {
	AppProtoReason() string
}

// FlowFactory creates flow inspectors; *Engine implements it.
type FlowFactory interface {
	NewFlow(meta FlowMeta) FlowInspector
}

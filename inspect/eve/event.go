package eve

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/interdict/interdict/inspect"
)

// TimeFormat is Suricata's EVE timestamp layout: microseconds and a
// numeric zone without a colon, e.g. 2026-11-22T10:53:00.123456+0000.
const TimeFormat = "2006-01-02T15:04:05.000000-0700"

// Time marshals as a Suricata timestamp. The zero Time is written as the
// zero instant rather than omitted, because every event has a timestamp.
type Time struct{ time.Time }

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(TimeFormat)+2)
	b = append(b, '"')
	b = t.Time.AppendFormat(b, TimeFormat)
	return append(b, '"'), nil
}

// UnmarshalJSON implements json.Unmarshaler, so tests and tools can read
// events back.
func (t *Time) UnmarshalJSON(b []byte) error {
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return err
	}
	v, err := time.Parse(TimeFormat, s)
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

// Event types.
const (
	TypeAlert        = "alert"
	TypeDrop         = "drop"
	TypeFlow         = "flow"
	TypeAnomaly      = "anomaly"
	TypeStats        = "stats"
	TypeHTTP         = "http"
	TypeDNS          = "dns"
	TypeTLS          = "tls"
	TypeSSH          = "ssh"
	TypeInterruption = "interruption"
	TypeFileInfo     = "fileinfo"
	TypeNetflow      = "netflow"
	// TypeMetadata is Suricata's metadata event: a packet whose match
	// stored packet variables (pcre captures).
	TypeMetadata = "metadata"
	// TypePolicy is interdict's addition: an identity's egress policy
	// denied (or in ids mode would have denied) a flow or a DNS query.
	TypePolicy = "policy"
)

// Event is one EVE record. Exactly the object matching EventType is set
// (an alert may also carry the transaction's http object, as Suricata's
// alert records do; a drop carries the alert that caused it).
type Event struct {
	Timestamp Time     `json:"timestamp"`
	FlowID    uint64   `json:"flow_id,omitempty"`
	PcapCnt   uint64   `json:"pcap_cnt,omitempty"` // replay only: 1-based packet number
	InIface   string   `json:"in_iface,omitempty"`
	EventType string   `json:"event_type"`
	VLAN      []uint16 `json:"vlan,omitempty"`
	SrcIP     string   `json:"src_ip,omitempty"`
	SrcPort   uint16   `json:"src_port,omitempty"`
	DestIP    string   `json:"dest_ip,omitempty"`
	DestPort  uint16   `json:"dest_port,omitempty"`
	// IPVersion is Suricata 8's ip_v: 4 or 6.
	IPVersion uint8  `json:"ip_v,omitempty"`
	Proto     string `json:"proto,omitempty"`
	Direction string `json:"direction,omitempty"`
	AppProto  string `json:"app_proto,omitempty"`
	// CommunityID is the flow's Community ID (see CommunityID).
	CommunityID string `json:"community_id,omitempty"`
	// TxID is set for alerts and records of an app-layer transaction.
	TxID *uint64 `json:"tx_id,omitempty"`

	Alert    *Alert    `json:"alert,omitempty"`
	Drop     *Drop     `json:"drop,omitempty"`
	Verdict  *Verdict  `json:"verdict,omitempty"`
	Flow     *Flow     `json:"flow,omitempty"`
	Netflow  *Netflow  `json:"netflow,omitempty"`
	TCP      *TCP      `json:"tcp,omitempty"`
	Anomaly  *Anomaly  `json:"anomaly,omitempty"`
	Stats    *Stats    `json:"stats,omitempty"`
	HTTP     *HTTP     `json:"http,omitempty"`
	DNS      *DNS      `json:"dns,omitempty"`
	TLS      *TLS      `json:"tls,omitempty"`
	SSH      *SSH      `json:"ssh,omitempty"`
	FileInfo *FileInfo `json:"fileinfo,omitempty"`
	Traffic  *Traffic  `json:"traffic,omitempty"`
	Metadata *Metadata `json:"metadata,omitempty"`
	Identity *Identity `json:"identity,omitempty"`
	// AppProtoReason is interdict's addition on flow events: how app_proto
	// was decided ("content to_server") or why none was.
	AppProtoReason string `json:"app_proto_reason,omitempty"`
	// Proxy is interdict's addition on http events: the PROXY protocol
	// header that opened the flow.
	Proxy *Proxy `json:"proxy,omitempty"`
	// Interruption is interdict's addition (event_type interruption):
	// a source or identity was blocked or released.
	Interruption *Interruption `json:"interruption,omitempty"`
	// Policy is interdict's addition (event_type policy).
	Policy *Policy `json:"policy,omitempty"`
	// XFF is the X-Forwarded-For address of an http event, with xff mode
	// extra-data (alerts carry it as alert.xff).
	XFF string `json:"xff,omitempty"`

	// xff is the transaction's X-Forwarded-For header as sent, for the
	// Writer's xff option.
	xff string
}

// Policy is an egress policy decision that denied a flow, an HTTP
// request or a DNS query (or would have, in ids mode).
type Policy struct {
	Action string `json:"action"` // deny, would-deny
	Policy string `json:"policy"` // the policy's name
	// Entry is what decided: "default" (nothing allowed it), or the
	// allow entry that matched the address but not the request, as
	// "allow[i]".
	Entry string `json:"entry"`
	// Name is the destination name seen, NameSource where it came from
	// (sni, host, dns: a DNS answer the appliance forwarded, query: a DNS
	// query's name); empty when the flow showed none.
	Name       string `json:"name,omitempty"`
	NameSource string `json:"name_source,omitempty"`
	Method     string `json:"method,omitempty"`
	Path       string `json:"path,omitempty"`
	// Token names a credential by its SHA-256 prefix and at most its
	// first 4 characters, never in clear.
	Token  string `json:"token,omitempty"`
	Reason string `json:"reason"`
}

// Alert is Suricata's alert object.
type Alert struct {
	Action      string              `json:"action"` // "allowed" or "blocked"
	GID         uint32              `json:"gid"`
	SignatureID uint32              `json:"signature_id"`
	Rev         uint32              `json:"rev"`
	Signature   string              `json:"signature"`
	Category    string              `json:"category"`
	Severity    int                 `json:"severity"`
	Metadata    map[string][]string `json:"metadata,omitempty"`
	// XFF is the X-Forwarded-For address, with xff mode extra-data.
	XFF string `json:"xff,omitempty"`
}

// Alert actions as Suricata writes them.
const (
	ActionAllowed = "allowed"
	ActionBlocked = "blocked"
)

// Drop is the drop object: why a packet (replay) or chunk (live) was not
// forwarded. Suricata's packet header fields (ttl, tcp flags) are left
// out: a terminating proxy drops stream data, not packets.
type Drop struct {
	Reason string `json:"reason"` // "rules" for a rule's drop or reject, "flow drop" for later data of that flow
	Len    int    `json:"len,omitempty"`
}

// Flow is the flow object, logged once when a flow ends.
type Flow struct {
	PktsToServer  uint64 `json:"pkts_toserver"`
	PktsToClient  uint64 `json:"pkts_toclient"`
	BytesToServer uint64 `json:"bytes_toserver"`
	BytesToClient uint64 `json:"bytes_toclient"`
	Start         Time   `json:"start"`
	End           Time   `json:"end"`
	Age           int64  `json:"age"`
	State         string `json:"state"` // "new", "established", "closed", "bypassed"
	// Bypass is "local" for a flow a bypass rule took out of
	// inspection (State "bypassed"), as Suricata's local bypass.
	Bypass  string `json:"bypass,omitempty"`
	Reason  string `json:"reason"` // "timeout", "forced", "shutdown"
	Alerted bool   `json:"alerted"`
	Action  string `json:"action,omitempty"` // "drop" or "pass" when a rule decided the flow
	// OfAlert, when set, makes this the flow object of an alert instead
	// (alertflow.go): only it is written.
	OfAlert *AlertFlow `json:"-"`
}

// Netflow is Suricata's netflow object: one direction of a flow, whose
// event has that direction's sender as src_ip.
type Netflow struct {
	Pkts  uint64 `json:"pkts"`
	Bytes uint64 `json:"bytes"`
	Start Time   `json:"start"`
	End   Time   `json:"end"`
	Age   int64  `json:"age"`
}

// TCP is the tcp object of flow records: flags seen and the stream state.
type TCP struct {
	TCPFlags   string `json:"tcp_flags"`
	TCPFlagsTS string `json:"tcp_flags_ts,omitempty"` // flow events only
	TCPFlagsTC string `json:"tcp_flags_tc,omitempty"`
	SYN        bool   `json:"syn,omitempty"`
	FIN        bool   `json:"fin,omitempty"`
	RST        bool   `json:"rst,omitempty"`
	PSH        bool   `json:"psh,omitempty"`
	ACK        bool   `json:"ack,omitempty"`
	State      string `json:"state,omitempty"` // "established", "closed", ...
	// TSGap and TCGap: a gap was skipped in the client's or the
	// server's stream.
	TSGap bool `json:"ts_gap,omitempty"`
	TCGap bool `json:"tc_gap,omitempty"`
	// TSMaxRegions and TCMaxRegions are the most disjoint data regions
	// each direction's reassembly held at once (1 when data only ever
	// arrived in order); 0 (omitted) when no TCP session was tracked.
	TSMaxRegions uint64 `json:"ts_max_regions,omitempty"`
	TCMaxRegions uint64 `json:"tc_max_regions,omitempty"`
}

// Anomaly is Suricata's anomaly object for app-layer protocol violations.
type Anomaly struct {
	Type  string `json:"type"` // "applayer"
	Event string `json:"event"`
	Layer string `json:"layer"` // "proto_parser"
}

// Stats is a small subset of Suricata's stats record.
type Stats struct {
	Uptime  int64        `json:"uptime"`
	Decoder StatsDecoder `json:"decoder"`
	Flow    StatsFlow    `json:"flow"`
	Detect  StatsDetect  `json:"detect"`
}

// StatsDecoder counts decoded packets.
type StatsDecoder struct {
	Pkts    uint64 `json:"pkts"`
	Bytes   uint64 `json:"bytes"`
	Invalid uint64 `json:"invalid"`
	IPv4    uint64 `json:"ipv4"`
	IPv6    uint64 `json:"ipv6"`
	TCP     uint64 `json:"tcp"`
	UDP     uint64 `json:"udp"`
	ICMPv4  uint64 `json:"icmpv4"`
	ICMPv6  uint64 `json:"icmpv6"`
}

// StatsFlow counts flows by transport.
type StatsFlow struct {
	TCP    uint64 `json:"tcp"`
	UDP    uint64 `json:"udp"`
	ICMPv4 uint64 `json:"icmpv4"`
	ICMPv6 uint64 `json:"icmpv6"`
}

// StatsDetect counts alerts.
type StatsDetect struct {
	Alert uint64 `json:"alert"`
}

// HTTP is the http object (event_type http, and inside alerts).
type HTTP struct {
	Hostname        string `json:"hostname,omitempty"`
	HTTPPort        int    `json:"http_port,omitempty"`
	URL             string `json:"url,omitempty"`
	HTTPUserAgent   string `json:"http_user_agent,omitempty"`
	XFF             string `json:"xff,omitempty"` // the X-Forwarded-For header as sent
	HTTPContentType string `json:"http_content_type,omitempty"`
	HTTPRefer       string `json:"http_refer,omitempty"`
	HTTPMethod      string `json:"http_method,omitempty"`
	Protocol        string `json:"protocol,omitempty"`
	// Version is "2" for HTTP/2 transactions, as Suricata's http2
	// logger writes it.
	Version string `json:"version,omitempty"`
	Status  int    `json:"status,omitempty"`
	// Redirect is the response's Location header.
	Redirect string `json:"redirect,omitempty"`
	// Length is the response body's length; nil only in the basic form.
	Length *int64 `json:"length,omitempty"`
	// HTTP2 is set for HTTP/2 transactions, as Suricata's http.http2.
	HTTP2 *HTTP2 `json:"http2,omitempty"`
	// RequestHeaders and ResponseHeaders are Suricata's dump-all-headers
	// arrays (http events only).
	RequestHeaders  []Header `json:"request_headers,omitempty"`
	ResponseHeaders []Header `json:"response_headers,omitempty"`
}

// Header is one entry of request_headers or response_headers.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func headers(hs []inspect.HTTPHeader) []Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]Header, len(hs))
	for i, h := range hs {
		out[i] = Header{Name: h.Name, Value: h.Value}
	}
	return out
}

// HTTP2 is the http2 object of an HTTP/2 transaction.
type HTTP2 struct {
	StreamID uint32     `json:"stream_id"`
	Request  *HTTP2Side `json:"request,omitempty"`
	Response *HTTP2Side `json:"response,omitempty"`
}

// HTTP2Side is http2.request or http2.response: what one direction's
// frames said, as Suricata's http2 logger writes it.
type HTTP2Side struct {
	Settings    []HTTP2Setting `json:"settings,omitempty"`
	ErrorCode   string         `json:"error_code,omitempty"`
	Priority    *uint8         `json:"priority,omitempty"`
	HasMultiple string         `json:"has_multiple,omitempty"`
}

// HTTP2Setting is one SETTINGS parameter as Suricata logs it.
type HTTP2Setting struct {
	ID    string `json:"settings_id"`
	Value uint32 `json:"settings_value"`
}

// http2SettingNames are Suricata's spellings of the SETTINGS parameters
// it knows (rust/src/http2/parser.rs, upper-cased after "SETTINGS"), by
// identifier; it logs no other.
var http2SettingNames = map[uint16]string{1: "SETTINGSHEADERTABLESIZE", 2: "SETTINGSENABLEPUSH",
	3: "SETTINGSMAXCONCURRENTSTREAMS", 4: "SETTINGSINITIALWINDOWSIZE", 5: "SETTINGSMAXFRAMESIZE",
	6: "SETTINGSMAXHEADERLISTSIZE", 8: "SETTINGSENABLECONNECTPROTOCOL", 9: "SETTINGSNORFC7540PRIORITIES"}

// http2ErrorNames are Suricata's spellings of HTTP/2 error codes in EVE
// (its enum names, upper case).
var http2ErrorNames = []string{"NOERROR", "PROTOCOLERROR", "INTERNALERROR", "FLOWCONTROLERROR", "SETTINGSTIMEOUT",
	"STREAMCLOSED", "FRAMESIZEERROR", "REFUSEDSTREAM", "CANCEL", "COMPRESSIONERROR", "CONNECTERROR",
	"ENHANCEYOURCALM", "INADEQUATESECURITY", "HTTP11REQUIRED"}

func http2Side(f inspect.HTTP2Frames) *HTTP2Side {
	s := &HTTP2Side{Priority: f.Priority, HasMultiple: f.HasMultiple}
	for _, st := range f.Settings {
		if name, ok := http2SettingNames[st.ID]; ok {
			s.Settings = append(s.Settings, HTTP2Setting{ID: name, Value: st.Value})
		}
	}
	if f.ErrorCode == nil && f.Priority == nil && s.Settings == nil {
		return nil
	}
	if c := f.ErrorCode; c != nil {
		s.ErrorCode = fmt.Sprintf("unknown-%d", *c)
		if int(*c) < len(http2ErrorNames) {
			s.ErrorCode = http2ErrorNames[*c]
		}
	}
	return s
}

// Proxy is a PROXY protocol header's fields.
type Proxy struct {
	Version   int    `json:"version"`
	Command   string `json:"command"`
	Transport string `json:"transport"`
	SrcIP     string `json:"src_ip,omitempty"`
	SrcPort   uint16 `json:"src_port,omitempty"`
	DestIP    string `json:"dest_ip,omitempty"`
	DestPort  uint16 `json:"dest_port,omitempty"`
}

// DNS is the dns object in Suricata's version 3 format (Suricata 8):
// one record per message, type request or response, the header's flags
// in hex and as booleans (set ones only), and every question.
type DNS struct {
	Version uint8         `json:"version"`
	Type    string        `json:"type"`
	TxID    uint64        `json:"tx_id"`
	ID      uint16        `json:"id"`
	Flags   string        `json:"flags"`
	QR      bool          `json:"qr,omitempty"`
	AA      bool          `json:"aa,omitempty"`
	TC      bool          `json:"tc,omitempty"`
	RD      bool          `json:"rd,omitempty"`
	RA      bool          `json:"ra,omitempty"`
	Z       bool          `json:"z,omitempty"`
	Opcode  uint8         `json:"opcode"`
	RCode   string        `json:"rcode"`
	Queries []DNSQuestion `json:"queries,omitempty"`
	// Answers and Grouped are Suricata's "detailed" and "grouped"
	// answer formats, both on by default.
	Answers     []DNSRecord      `json:"answers,omitempty"`
	Grouped     map[string][]any `json:"grouped,omitempty"`
	Authorities []DNSRecord      `json:"authorities,omitempty"`
	Additionals []DNSRecord      `json:"additionals,omitempty"`
	// v2, when set, is what is written instead (dnsv2.go); toClient
	// says the event's addresses are the packet's, server first.
	v2       *dnsV2
	toClient bool
}

// DNSRecord is one entry of dns.answers, authorities or additionals.
type DNSRecord struct {
	RRName string      `json:"rrname"`
	RRType string      `json:"rrtype"`
	TTL    uint32      `json:"ttl"`
	RData  *string     `json:"rdata,omitempty"`
	SOA    *DNSSOA     `json:"soa,omitempty"`
	SRV    *DNSSRV     `json:"srv,omitempty"`
	OPT    []DNSOption `json:"opt,omitempty"`
}

// DNSSOA is an SOA record's data.
type DNSSOA struct {
	MName   string `json:"mname"`
	RName   string `json:"rname"`
	Serial  uint32 `json:"serial"`
	Refresh uint32 `json:"refresh"`
	Retry   uint32 `json:"retry"`
	Expire  uint32 `json:"expire"`
	Minimum uint32 `json:"minimum"`
}

// DNSSRV is an SRV record's data.
type DNSSRV struct {
	Priority uint16 `json:"priority"`
	Weight   uint16 `json:"weight"`
	Port     uint16 `json:"port"`
	Name     string `json:"name"`
}

// DNSOption is one EDNS option, its data in hex.
type DNSOption struct {
	Code uint16 `json:"code"`
	Data string `json:"data"`
}

func dnsRecords(rs []inspect.DNSRecord, skipEmptyOPT bool) []DNSRecord {
	var out []DNSRecord
	for _, r := range rs {
		if skipEmptyOPT && r.RRType == "OPT" && len(r.OPT) == 0 {
			continue // Suricata leaves out an OPT record without options
		}
		o := DNSRecord{RRName: r.RRName, RRType: r.RRType, TTL: r.TTL}
		if r.HasRData {
			o.RData = &r.RData
		}
		if r.SOA != nil {
			o.SOA = &DNSSOA{MName: r.SOA.MName, RName: r.SOA.RName, Serial: r.SOA.Serial, Refresh: r.SOA.Refresh,
				Retry: r.SOA.Retry, Expire: r.SOA.Expire, Minimum: r.SOA.Minimum}
		}
		if r.SRV != nil {
			o.SRV = &DNSSRV{Priority: r.SRV.Priority, Weight: r.SRV.Weight, Port: r.SRV.Port, Name: r.SRV.Name}
		}
		for _, opt := range r.OPT {
			o.OPT = append(o.OPT, DNSOption{Code: opt.Code, Data: hex.EncodeToString(opt.Data)})
		}
		out = append(out, o)
	}
	return out
}

// dnsGrouped is Suricata's grouped answer format: the data of the
// answers by record type.
func dnsGrouped(rs []inspect.DNSRecord) map[string][]any {
	var g map[string][]any
	for _, r := range rs {
		var v any
		switch {
		case r.HasRData:
			v = r.RData
		case r.SOA != nil:
			v = dnsRecords([]inspect.DNSRecord{r}, false)[0].SOA
		case r.SRV != nil:
			v = dnsRecords([]inspect.DNSRecord{r}, false)[0].SRV
		default:
			continue
		}
		if g == nil {
			g = map[string][]any{}
		}
		g[r.RRType] = append(g[r.RRType], v)
	}
	return g
}

// DNSQuestion is one entry of dns.queries.
type DNSQuestion struct {
	RRName string `json:"rrname"`
	RRType string `json:"rrtype"`
}

// DNSObject is the dns object of a DNS message.
func DNSObject(d *inspect.DNSTx, txID uint64) *DNS {
	f := d.Flags
	o := &DNS{Version: 3, Type: "request", TxID: txID, ID: d.ID, Flags: strconv.FormatUint(uint64(f), 16),
		QR: f&0x8000 != 0, AA: f&0x0400 != 0, TC: f&0x0200 != 0, RD: f&0x0100 != 0, RA: f&0x0080 != 0,
		Z: f&0x0040 != 0, Opcode: uint8(f>>11) & 0x0f, RCode: d.RCode}
	if o.RCode == "" {
		o.RCode = "NOERROR" // Suricata writes the header's rcode for requests too
	}
	if d.Type == "answer" {
		o.Type = "response"
	}
	o.Answers, o.Grouped = dnsRecords(d.Answers, false), dnsGrouped(d.Answers)
	o.Authorities, o.Additionals = dnsRecords(d.Authorities, false), dnsRecords(d.Additionals, true)
	for _, q := range d.Queries {
		o.Queries = append(o.Queries, DNSQuestion{RRName: q.RRName, RRType: q.RRType})
	}
	if len(o.Queries) == 0 && d.RRName != "" {
		o.Queries = []DNSQuestion{{RRName: d.RRName, RRType: d.RRType}}
	}
	return o
}

// TLS is the tls object, with Suricata's field names.
type TLS struct {
	Subject         string   `json:"subject,omitempty"`
	IssuerDN        string   `json:"issuerdn,omitempty"`
	Serial          string   `json:"serial,omitempty"`
	Fingerprint     string   `json:"fingerprint,omitempty"`
	SNI             string   `json:"sni,omitempty"`
	Version         string   `json:"version,omitempty"`
	NotBefore       string   `json:"notbefore,omitempty"`
	NotAfter        string   `json:"notafter,omitempty"`
	SubjectAltNames []string `json:"subjectaltname,omitempty"`
	JA3             *JA3     `json:"ja3,omitempty"`
	JA3S            *JA3     `json:"ja3s,omitempty"`
	JA4             string   `json:"ja4,omitempty"`
	// ClientALPNs and ServerALPNs are the ALPN protocols each hello
	// carried (Suricata 8's client_alpns, server_alpns).
	ClientALPNs []string `json:"client_alpns,omitempty"`
	ServerALPNs []string `json:"server_alpns,omitempty"`
}

// SSH is the ssh object: each side's identification line.
type SSH struct {
	Client *SSHSide `json:"client,omitempty"`
	Server *SSHSide `json:"server,omitempty"`
}

// SSHSide is one side of the ssh object.
type SSHSide struct {
	ProtoVersion    string `json:"proto_version"`
	SoftwareVersion string `json:"software_version"`
}

func sshSide(s inspect.SSHSide) *SSHSide {
	if s == (inspect.SSHSide{}) {
		return nil
	}
	return &SSHSide{ProtoVersion: s.ProtoVersion, SoftwareVersion: s.SoftwareVersion}
}

// JA3 is a JA3 or JA3S fingerprint.
type JA3 struct {
	Hash   string `json:"hash"`
	String string `json:"string"`
}

// TLSObject is the tls object of a handshake.
func TLSObject(t *inspect.TLSTx) *TLS {
	o := &TLS{Subject: t.Subject, IssuerDN: t.Issuer, Serial: t.Serial, Fingerprint: t.Fingerprint,
		SNI: t.SNI, Version: t.Version, SubjectAltNames: t.SubjectAltNames, JA4: t.JA4,
		ClientALPNs: t.ClientALPNs, ServerALPNs: t.ServerALPNs}
	// Suricata writes certificate times without a zone; they are UTC.
	if !t.NotBefore.IsZero() {
		o.NotBefore = t.NotBefore.UTC().Format("2006-01-02T15:04:05")
	}
	if !t.NotAfter.IsZero() {
		o.NotAfter = t.NotAfter.UTC().Format("2006-01-02T15:04:05")
	}
	if t.JA3 != "" {
		o.JA3 = &JA3{Hash: t.JA3Hash, String: t.JA3}
	}
	if t.JA3S != "" {
		o.JA3S = &JA3{Hash: t.JA3SHash, String: t.JA3S}
	}
	return o
}

// FileInfo is Suricata's fileinfo object.
type FileInfo struct {
	Filename string `json:"filename"`
	Magic    string `json:"magic,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	State    string `json:"state"`
	Stored   bool   `json:"stored"`
	Size     int64  `json:"size"`
	TxID     uint64 `json:"tx_id"`
}

// Metadata is Suricata's top-level metadata object: the flow's variables
// and the packet's, each a list of one-entry objects {name: value}, in
// the order they were first stored.
type Metadata struct {
	// FlowBits are the flowbits set on the flow, in the order they were
	// set, but for Suricata 8's traffic/id/ and traffic/label/ ones
	// (the traffic object).
	FlowBits []string            `json:"flowbits,omitempty"`
	FlowInts map[string]int64    `json:"flowints,omitempty"`
	FlowVars []map[string]string `json:"flowvars,omitempty"`
	PktVars  []map[string]string `json:"pktvars,omitempty"`
	// Entropy is the last value the entropy keyword computed on each
	// buffer, by Suricata's buffer name.
	Entropy map[string]float64 `json:"entropy,omitempty"`
}

// Traffic is Suricata 8's traffic object: flowbits named traffic/id/X or
// traffic/label/X tag the alert and the flow.
type Traffic struct {
	ID    []string `json:"id,omitempty"`
	Label []string `json:"label,omitempty"`
}

// Interruption says what changed on the appliance's block list and why.
// Source blocks set Prefix and Origin; identity interruptions set the
// event's identity object, Trigger, Level and Evidence.
type Interruption struct {
	// Action: block, unblock, would-block (ids mode) for sources; pause,
	// quarantine, release, would-pause, would-quarantine for identities.
	Action string `json:"action"`
	Prefix string `json:"prefix,omitempty"`
	Origin string `json:"origin,omitempty"` // static, api, rule
	Reason string `json:"reason"`
	// Trigger is the identity trigger that fired, or "manual".
	Trigger string `json:"trigger,omitempty"`
	// Level counts the identity's offences (escalation: 1 the first).
	Level int `json:"level,omitempty"`
	// Evidence are the counted events that crossed the threshold.
	Evidence []Evidence `json:"evidence,omitempty"`
	// Until is when a block expires; absent for a block without expiry
	// and for unblocks.
	Until *Time `json:"until,omitempty"`
	// Cause of an unblock: expired or api.
	Cause string `json:"cause,omitempty"`
	// SignatureID is the rule whose alert caused a rule block.
	SignatureID uint32 `json:"signature_id,omitempty"`
}

// Evidence is one event an identity trigger counted.
type Evidence struct {
	Timestamp   Time   `json:"timestamp"`
	Kind        string `json:"kind"` // alert, scan, http_status
	FlowID      uint64 `json:"flow_id,omitempty"`
	SignatureID uint32 `json:"signature_id,omitempty"`
	DestIP      string `json:"dest_ip,omitempty"`
	DestPort    uint16 `json:"dest_port,omitempty"`
	Status      int    `json:"status,omitempty"` // HTTP status
}

// Identity is interdict's addition: who sent the flow (a WireGuard peer
// or a configured source prefix): name, public key and tags.
type Identity = inspect.Identity

// ProtoName is the EVE proto string of a transport protocol; ICMP over
// IPv6 is "IPv6-ICMP" as in Suricata.
func ProtoName(p inspect.Proto, v6 bool) string {
	switch p {
	case inspect.ProtoTCP:
		return "TCP"
	case inspect.ProtoUDP:
		return "UDP"
	case inspect.ProtoICMP:
		if v6 {
			return "IPv6-ICMP"
		}
		return "ICMP"
	}
	return strconv.Itoa(int(p))
}

// Base fills the fields every flow-related event shares. src and dst are
// the flow's originator and responder; dir chooses which is logged as
// src: Suricata logs the sender of the matching data as src_ip, so a
// to_client match has the server as src.
func Base(ts time.Time, eventType string, meta *inspect.FlowMeta, dir inspect.Direction) Event {
	src, dst := meta.Src, meta.Dst
	if dir == inspect.ToClient {
		src, dst = dst, src
	}
	ev := Event{
		Timestamp: Time{ts},
		FlowID:    meta.ID,
		EventType: eventType,
		Proto:     ProtoName(meta.Proto, meta.Src.Addr().Is6() && !meta.Src.Addr().Is4In6()),
	}
	setAddr(&ev.SrcIP, &ev.SrcPort, src, meta.Proto)
	setAddr(&ev.DestIP, &ev.DestPort, dst, meta.Proto)
	if a := src.Addr(); a.IsValid() {
		ev.IPVersion = 4
		if a.Is6() && !a.Is4In6() {
			ev.IPVersion = 6
		}
	}
	ev.Identity = meta.Identity
	ev.CommunityID = CommunityID(meta)
	return ev
}

func setAddr(ip *string, port *uint16, ap netip.AddrPort, p inspect.Proto) {
	if !ap.Addr().IsValid() {
		return
	}
	*ip = ap.Addr().Unmap().String()
	if p != inspect.ProtoICMP {
		*port = ap.Port()
	}
}

// AlertAction maps a rule action and the mode to Suricata's alert.action:
// "blocked" only when the verdict was enforced.
func AlertAction(a inspect.Action, enforce bool) string {
	switch a {
	case inspect.ActionDrop, inspect.ActionReject, inspect.ActionRejectDst, inspect.ActionRejectBoth:
		if enforce {
			return ActionBlocked
		}
	}
	return ActionAllowed
}

// NewAlert builds an alert event for a match in a flow. enforce says
// whether a drop or reject was carried out (IPS mode) or only logged.
func NewAlert(ts time.Time, meta *inspect.FlowMeta, a *inspect.Alert, enforce bool) Event {
	ev := Base(ts, TypeAlert, meta, a.Dir)
	ev.Direction = a.Dir.String()
	ev.AppProto = a.AppProto
	if a.AppProto != "" {
		tx := a.TxID
		ev.TxID = &tx
	}
	ev.Alert = alertObject(a.Rule, enforce)
	if a.HTTP != nil {
		ev.HTTP = HTTPObject(a.HTTP)
		ev.xff = a.HTTP.XFF
	}
	if a.DNS != nil {
		ev.DNS = DNSObject(a.DNS, a.TxID)
	}
	return ev
}

func alertObject(r *inspect.RuleInfo, enforce bool) *Alert {
	if r == nil {
		return &Alert{Action: ActionAllowed}
	}
	gid := r.GID
	if gid == 0 {
		gid = 1
	}
	return &Alert{
		Action:      AlertAction(r.Action, enforce),
		GID:         gid,
		SignatureID: r.SID,
		Rev:         r.Rev,
		Signature:   r.Msg,
		Category:    r.Category,
		Severity:    r.Severity,
		Metadata:    r.Metadata,
	}
}

// NewDrop builds a drop event for data of a flow that was not forwarded.
// rule is the rule whose action dropped the flow (nil for later data of an
// already dropped flow); it is logged as the drop's alert object, as
// Suricata does with drop.alerts enabled.
func NewDrop(ts time.Time, meta *inspect.FlowMeta, dir inspect.Direction, rule *inspect.RuleInfo, length int) Event {
	ev := Base(ts, TypeDrop, meta, dir)
	ev.Drop = &Drop{Reason: "flow drop", Len: length}
	if rule != nil {
		ev.Drop.Reason = "rules"
		ev.Alert = alertObject(rule, true)
	}
	return ev
}

// Verdict is Suricata's verdict object: the final action taken on the
// data that raised an alert or drop (every alert of one inspected chunk
// carries the same), as Suricata 8 writes it (9 renames reject-target
// to reject_target).
type Verdict struct {
	Action       string   `json:"action"` // alert, drop or pass
	RejectTarget string   `json:"reject-target,omitempty"`
	Reject       []string `json:"reject,omitempty"` // tcp-reset or icmp-prohib
}

// VerdictObject is the verdict for a result whose strongest action is a,
// enforced (IPS) or not, on a flow of protocol p. As in Suricata, a
// reject names its target and what is sent even when only logged, and
// its action is drop only when enforced.
func VerdictObject(a inspect.Action, enforce bool, p inspect.Proto) *Verdict {
	v := &Verdict{Action: "alert"}
	switch a {
	case inspect.ActionReject, inspect.ActionRejectDst, inspect.ActionRejectBoth:
		if enforce {
			v.Action = "drop"
		}
		v.RejectTarget = map[inspect.Action]string{inspect.ActionReject: "to_client", inspect.ActionRejectDst: "to_server",
			inspect.ActionRejectBoth: "both"}[a]
		if p == inspect.ProtoTCP {
			v.Reject = []string{"tcp-reset"}
		} else {
			v.Reject = []string{"icmp-prohib"}
		}
	case inspect.ActionDrop:
		if enforce {
			v.Action = "drop"
		}
	case inspect.ActionPass:
		v.Action = "pass"
	}
	return v
}

// NewAppEvent builds the http, dns, tls or anomaly event of an app-layer
// record; ok is false if the record has none of them set.
func NewAppEvent(ts time.Time, meta *inspect.FlowMeta, e *inspect.Event) (Event, bool) {
	var ev Event
	switch {
	case e.HTTP != nil:
		// Suricata logs an HTTP transaction in the request's direction.
		ev = Base(ts, TypeHTTP, meta, inspect.ToServer)
		ev.AppProto = "http"
		if e.HTTP.Protocol == "HTTP/2" {
			ev.AppProto = "http2"
		}
		ev.HTTP = HTTPObject(e.HTTP)
		ev.HTTP.RequestHeaders, ev.HTTP.ResponseHeaders = headers(e.HTTP.RequestHeaders), headers(e.HTTP.ResponseHeaders)
		ev.xff = e.HTTP.XFF
		if e.HTTP.Proxy != nil {
			ev.Proxy = proxyObject(e.HTTP.Proxy)
		}
	case e.DNS != nil:
		ev = Base(ts, TypeDNS, meta, e.Dir)
		ev.AppProto = "dns"
		ev.DNS = DNSObject(e.DNS, e.TxID)
		ev.DNS.toClient = e.Dir == inspect.ToClient
	case e.TLS != nil:
		ev = Base(ts, TypeTLS, meta, inspect.ToServer)
		ev.AppProto = "tls"
		ev.TLS = TLSObject(e.TLS)
	case e.SSH != nil:
		ev = Base(ts, TypeSSH, meta, inspect.ToServer)
		ev.AppProto = "ssh"
		ev.SSH = &SSH{Client: sshSide(e.SSH.Client), Server: sshSide(e.SSH.Server)}
	case e.File != nil:
		ev = Base(ts, TypeFileInfo, meta, e.Dir)
		ev.AppProto = "http"
		f := e.File
		ev.FileInfo = &FileInfo{Filename: f.Filename, Magic: f.Magic, SHA256: f.SHA256, State: f.State, Size: f.Size, TxID: e.TxID}
	case e.Anomaly != nil:
		ev = Base(ts, TypeAnomaly, meta, e.Dir)
		ev.AppProto = e.Anomaly.AppProto
		ev.Anomaly = &Anomaly{Type: "applayer", Event: e.Anomaly.Event, Layer: "proto_parser"}
	default:
		return Event{}, false
	}
	tx := e.TxID
	ev.TxID = &tx
	return ev, true
}

// HTTPObject converts an HTTP transaction record.
func HTTPObject(h *inspect.HTTPTx) *HTTP {
	// Suricata logs the media type without its parameters.
	ct, _, _ := strings.Cut(h.ContentType, ";")
	o := &HTTP{
		Hostname: h.Hostname, HTTPPort: h.Port, URL: h.URL, HTTPUserAgent: h.UserAgent, XFF: h.XFF,
		HTTPContentType: ct, HTTPRefer: h.Referer, HTTPMethod: h.Method, Protocol: h.Protocol,
		Status: h.Status, Length: &h.Length, Redirect: h.Redirect,
	}
	if h.StreamID != 0 || h.Connection {
		// Stream 0 is the connection's own transaction (its frames).
		o.Version = "2"
		o.HTTP2 = &HTTP2{StreamID: h.StreamID, Request: http2Side(h.H2Request), Response: http2Side(h.H2Response)}
	}
	return o
}

// basic is the http object as Suricata's http logger writes it without
// its extended option: host, port, url, user agent, xff, content type
// (and the dumped headers, which do not depend on it).
func (o *HTTP) basic() *HTTP {
	return &HTTP{Hostname: o.Hostname, HTTPPort: o.HTTPPort, URL: o.URL, HTTPUserAgent: o.HTTPUserAgent,
		XFF: o.XFF, HTTPContentType: o.HTTPContentType, HTTP2: o.HTTP2,
		RequestHeaders: o.RequestHeaders, ResponseHeaders: o.ResponseHeaders}
}

// proxyObject converts a PROXY protocol header.
func proxyObject(px *inspect.ProxyHeader) *Proxy {
	o := &Proxy{Version: px.Version, Command: px.Command, Transport: px.Transport}
	if px.Src.IsValid() {
		o.SrcIP, o.SrcPort = px.Src.Addr().String(), px.Src.Port()
		o.DestIP, o.DestPort = px.Dst.Addr().String(), px.Dst.Port()
	}
	return o
}

package rules

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"

	"github.com/dlclark/regexp2"
	"github.com/google/gonids"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// reject is a reason a rule cannot be honoured.
type reject string

func (r reject) Error() string { return string(r) }

func rejectf(format string, a ...any) error { return reject(fmt.Sprintf(format, a...)) }

var actions = map[string]inspect.Action{
	"alert": inspect.ActionAlert, "pass": inspect.ActionPass, "drop": inspect.ActionDrop,
	"reject": inspect.ActionReject, "rejectsrc": inspect.ActionReject,
	"rejectdst": inspect.ActionRejectDst, "rejectboth": inspect.ActionRejectBoth,
}

// appProtos with a parser in this repository (or one being written): the
// rule needs the flow to be detected as that protocol.
var appProtos = map[string]inspect.Proto{"http": inspect.ProtoTCP, "http1": inspect.ProtoTCP, "http2": inspect.ProtoTCP,
	"tls": inspect.ProtoTCP, "dns": 0, "ssh": inspect.ProtoTCP}

// approxProtos have no parser here. Their rules are matched on the raw
// transport stream: that keeps the many ET rules written as "alert smtp"
// with plain content working, at the price of not checking the protocol.
var approxProtos = map[string]inspect.Proto{
	"ftp": inspect.ProtoTCP, "ftp-data": inspect.ProtoTCP, "smtp": inspect.ProtoTCP,
	"smb": inspect.ProtoTCP, "dcerpc": inspect.ProtoTCP, "imap": inspect.ProtoTCP, "pop3": inspect.ProtoTCP,
	"rdp": inspect.ProtoTCP, "rfb": inspect.ProtoTCP, "mqtt": inspect.ProtoTCP, "modbus": inspect.ProtoTCP,
	"dnp3": inspect.ProtoTCP, "enip": inspect.ProtoTCP, "telnet": inspect.ProtoTCP,
	"irc": inspect.ProtoTCP, "pgsql": inspect.ProtoTCP, "ldap": inspect.ProtoTCP,
	"ntp": inspect.ProtoUDP, "dhcp": inspect.ProtoUDP, "snmp": inspect.ProtoUDP, "sip": inspect.ProtoUDP,
	"ike": inspect.ProtoUDP, "tftp": inspect.ProtoUDP, "krb5": 0, "nfs": 0, "quic": inspect.ProtoUDP,
}

// bufferNames maps Suricata's sticky-buffer and legacy modifier names onto
// the buffers parsers fill. file_data is resolved by direction later.
var bufferNames = map[string]applayer.Buffer{
	"http_accept": applayer.HTTPAccept, "http.accept": applayer.HTTPAccept,
	"http_accept_enc": applayer.HTTPAcceptEnc, "http.accept_enc": applayer.HTTPAcceptEnc,
	"http_accept_lang": applayer.HTTPAcceptLang, "http.accept_lang": applayer.HTTPAcceptLang,
	"http_connection": applayer.HTTPConnection, "http.connection": applayer.HTTPConnection,
	"http_content_len": applayer.HTTPContentLen, "http.content_len": applayer.HTTPContentLen,
	"http_content_type": applayer.HTTPContentType, "http.content_type": applayer.HTTPContentType,
	"http_header_names": applayer.HTTPHeaderNames, "http.header_names": applayer.HTTPHeaderNames,
	"http_protocol": applayer.HTTPProtocol, "http.protocol": applayer.HTTPProtocol,
	"http_referer": applayer.HTTPReferer, "http.referer": applayer.HTTPReferer,
	"http_request_line": applayer.HTTPRequestLine, "http.request_line": applayer.HTTPRequestLine,
	"http_response_line": applayer.HTTPResponseLine, "http.response_line": applayer.HTTPResponseLine,
	"http_start": applayer.HTTPStart, "http.start": applayer.HTTPStart,
	"http_client_body": applayer.HTTPRequestBody, "http.client_body": applayer.HTTPRequestBody,
	"http.request_body": applayer.HTTPRequestBody,
	"http_cookie":       applayer.HTTPCookie, "http.cookie": applayer.HTTPCookie, "http_raw_cookie": applayer.HTTPCookie,
	"http_header": applayer.HTTPHeader, "http.header": applayer.HTTPHeader,
	"http_raw_header": applayer.HTTPHeaderRaw, "http.header.raw": applayer.HTTPHeaderRaw,
	"http_host": applayer.HTTPHost, "http.host": applayer.HTTPHost,
	"http_raw_host": applayer.HTTPHostRaw, "http.host.raw": applayer.HTTPHostRaw,
	"http.location": applayer.HTTPLocation, "http.server": applayer.HTTPServer,
	"http_method": applayer.HTTPMethod, "http.method": applayer.HTTPMethod,
	"http_server_body": applayer.HTTPResponseBody, "http.server_body": applayer.HTTPResponseBody,
	"http.response_body": applayer.HTTPResponseBody,
	"http_stat_code":     applayer.HTTPStatCode, "http.stat_code": applayer.HTTPStatCode,
	"http_stat_msg": applayer.HTTPStatMsg, "http.stat_msg": applayer.HTTPStatMsg,
	"http_uri": applayer.HTTPURI, "http.uri": applayer.HTTPURI,
	"http_raw_uri": applayer.HTTPURIRaw, "http.uri.raw": applayer.HTTPURIRaw,
	"http_user_agent": applayer.HTTPUserAgent, "http.user_agent": applayer.HTTPUserAgent,
	"tls_sni": applayer.TLSSNI, "tls.sni": applayer.TLSSNI,
	"tls_cert_subject": applayer.TLSCertSubject, "tls.cert_subject": applayer.TLSCertSubject,
	"tls_cert_issuer": applayer.TLSCertIssuer, "tls.cert_issuer": applayer.TLSCertIssuer,
	"tls_cert_serial": applayer.TLSCertSerial, "tls.cert_serial": applayer.TLSCertSerial,
	"tls_cert_fingerprint": applayer.TLSCertFingerprint, "tls.cert_fingerprint": applayer.TLSCertFingerprint,
	"tls.certs": applayer.TLSCerts,
	"ja3_hash":  applayer.JA3Hash, "ja3.hash": applayer.JA3Hash, "ja3_string": applayer.JA3String,
	"ja3.string": applayer.JA3String, "ja3s.hash": applayer.JA3SHash, "ja3s.string": applayer.JA3SString,
	"ssh.proto": applayer.SSHProto, "ssh_proto": applayer.SSHProto, "ssh.software": applayer.SSHSoftware,
	"ssh_software": applayer.SSHSoftware, "file.name": applayer.FileName,
	"ja4.hash": applayer.JA4Hash, "tls.random": applayer.TLSRandom, "tls.random_time": applayer.TLSRandomTime,
	"tls.random_bytes": applayer.TLSRandomBytes, "tls.subjectaltname": applayer.TLSSubjectAltName,
	"tls.alpn":  applayer.TLSALPN,
	"dns_query": applayer.DNSQuery, "dns.query": applayer.DNSQuery,
	"dns.queries.rrname": applayer.DNSQueriesRRName, "dns.answers.rrname": applayer.DNSAnswersRRName,
	"dns.authorities.rrname": applayer.DNSAuthoritiesRRName, "dns.additionals.rrname": applayer.DNSAdditionalsRRName,
	"dns.response.rrname": applayer.DNSResponseRRName,
	// Suricata 7's names, still registered: the same instances.
	"dns.query.name": applayer.DNSQueriesRRName, "dns.answer.name": applayer.DNSAnswersRRName,
	"http.request_header": applayer.HTTPRequestHeader, "http.response_header": applayer.HTTPResponseHeader,
	"http2.header_name": applayer.HTTP2HeaderName, "http2.header": applayer.HTTP2Header,
	"frame:http2.hdr": applayer.HTTP2FrameHdr, "frame:http2.data": applayer.HTTP2FrameData,
	"frame:http2.pdu":     applayer.HTTP2FramePDU,
	"frame:http1.request": applayer.HTTP1FrameRequest, "frame:http1.response": applayer.HTTP1FrameResponse,
}

// fileDataBuffer is a marker resolved by the rule's direction: to the
// request or the response body, or without a direction to the files of
// either (applayer.FileData).
const fileDataBuffer = applayer.NumBuffers + 1

// fileDataRepeat prefixes the names the loader gives a rule's second and
// later file.data keywords (see fileDataRepeats); the nth is the marker
// fileDataMore+n, a list of its own on fileDataBuffer's buffer.
const fileDataRepeat = "file.data#"

const fileDataMore = applayer.NumBuffers + 16

// isFileData reports whether b is one of the file.data markers.
func isFileData(b applayer.Buffer) bool { return b == fileDataBuffer || b > fileDataMore }

// fileDataTarget is the buffer file.data means in this rule.
func (c *converter) fileDataTarget() applayer.Buffer {
	switch {
	case c.out.Flow.ToServer:
		return applayer.HTTPRequestBody
	case c.out.Flow.ToClient:
		return applayer.HTTPResponseBody
	}
	return applayer.FileData
}

// base64DataBuffer marks ops after base64_data: they go to the rule's
// base64_decode (Base64Decode.Data), not to a list.
const base64DataBuffer = applayer.NumBuffers + 2

// pcreBufferFlags are Suricata's pcre modifiers that select a buffer.
var pcreBufferFlags = map[byte]applayer.Buffer{
	'U': applayer.HTTPURI, 'I': applayer.HTTPURIRaw, 'P': applayer.HTTPRequestBody,
	'Q': fileDataBuffer, 'H': applayer.HTTPHeader, 'D': applayer.HTTPHeaderRaw,
	'M': applayer.HTTPMethod, 'C': applayer.HTTPCookie, 'S': applayer.HTTPStatCode,
	'Y': applayer.HTTPStatMsg, 'V': applayer.HTTPUserAgent, 'W': applayer.HTTPHost,
	'Z': applayer.HTTPHostRaw,
}

// Transforms the engine implements.
var supportedTransforms = map[string]bool{
	"dotprefix": true, "to_lowercase": true, "to_uppercase": true,
	"strip_whitespace": true, "compress_whitespace": true, "url_decode": true,
	"header_lowercase": true, "to_md5": true, "to_sha1": true, "to_sha256": true,
	"xor": true, "pcrexform": true, "from_base64": true,
}

// Tags gonids accepts without interpreting; only these are honoured.
// filestore is accepted like tag: it asks Suricata's file-store output to
// write the files the rule matches on and changes nothing that matches;
// there is no file-store output here.
var honouredTags = map[string]bool{"classtype": true, "flow": true, "priority": true, "app-layer-protocol": true, "tag": true,
	"app-layer-event": true, "filestore": true}

type converter struct {
	opts *Options
	r    *gonids.Rule
	out  *Rule
	vars map[string]bool // byte_extract variables defined so far
	// alias maps stand-in sticky buffers back to the ones gonids lacks
	// (see unknownSticky).
	alias map[string]string
	// last is the list the previous content, pcre or byte keyword went
	// to.
	last *List
	// b64 is the rule's base64_decode, once given.
	b64 *Base64Decode
	// extra are the options the loader took out for gonids (file
	// keywords); file is the rule file, whose directory hash lists are
	// read from.
	extra []option
	file  string
	// fileLists are the lists of a rule's second and later file.data
	// keywords, by marker (see fileDataMore).
	fileLists map[applayer.Buffer]*List
}

// add appends op to the list for buf with transforms tr, or to the
// base64_decode's data for base64_data. Suricata inspects base64_data
// at the point of base64_decode and ends the rule's inspection there
// ("Rule buffer cannot be reset after base64_data"), so nothing but
// base64_data ops may follow base64_decode.
func (c *converter) add(buf applayer.Buffer, tr []string, op Op) error {
	if buf == base64DataBuffer {
		if c.b64 == nil {
			return rejectf("base64_data without a base64_decode before it")
		}
		if len(tr) > 0 {
			return rejectf("transforms on base64_data")
		}
		c.b64.Data = append(c.b64.Data, op)
		return nil
	}
	return c.addTo(c.list(buf, tr), op)
}

func (c *converter) addTo(l *List, op Op) error {
	if c.b64 != nil {
		return rejectf("%s after base64_decode: only base64_data may follow it", op.opName())
	}
	l.Ops = append(l.Ops, op)
	c.last = l
	return nil
}

func appBuffer(b applayer.Buffer) string {
	switch {
	case b.IsTLS():
		return "tls"
	case b == applayer.DNSQuery || b >= applayer.DNSQueriesRRName && b <= applayer.DNSRcode || b == applayer.DNSRRType:
		return "dns"
	case b == applayer.AppLayerEvent:
		return "" // the event names its protocol; see appLayerEvent
	case b == applayer.AppHook:
		return "" // the header names the protocol
	case b.IsHTTP2():
		return "http2"
	case b == applayer.SSHProto || b == applayer.SSHSoftware:
		return "ssh"
	case b != applayer.BufNone:
		return "http"
	}
	return ""
}

// convert checks a gonids rule and builds ours.
func (o *Options) convert(g *gonids.Rule, alias map[string]string, extra []option, file, hook string) (*Rule, error) {
	c := &converter{opts: o, r: g, out: &Rule{Hook: hook}, vars: map[string]bool{}, alias: alias, extra: extra, file: file}
	return c.out, c.run()
}

func (c *converter) run() error {
	g, out := c.r, c.out
	act, ok := actions[strings.ToLower(g.Action)]
	if !ok {
		return rejectf("unsupported action %q", g.Action)
	}
	out.Action = act
	if g.SID <= 0 {
		return rejectf("missing sid")
	}
	if err := c.header(); err != nil {
		return err
	}
	info := &inspect.RuleInfo{GID: 1, SID: uint32(g.SID), Rev: uint32(g.Revision), Msg: g.Description, Action: act, Severity: 3}
	if ct, ok := g.Tags["classtype"]; ok {
		info.Classtype = ct
		if cl, ok := c.opts.classes()[ct]; ok {
			info.Category, info.Severity = cl.Description, cl.Priority
		} else if c.opts.Classification != nil {
			return rejectf("unknown classtype %q", ct)
		}
	}
	if p, ok := g.Tags["priority"]; ok {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 255 {
			return rejectf("bad priority %q", p)
		}
		info.Severity = n
	}
	if len(g.Metas) > 0 {
		info.Metadata = map[string][]string{}
		for _, m := range g.Metas {
			info.Metadata[m.Key] = append(info.Metadata[m.Key], m.Value)
		}
	}
	out.Info = info
	for k := range g.Tags {
		if !honouredTags[k] {
			return rejectf("unsupported keyword %s", k)
		}
	}
	for _, s := range g.Statements {
		switch s {
		case "noalert":
			out.NoAlert = true
		case "filestore":
		default:
			return rejectf("unsupported keyword %s", s)
		}
	}
	switch {
	}
	if err := c.flow(); err != nil {
		return err
	}
	if out.Hook != "" {
		if err := c.hookList(out.Hook); err != nil {
			return err
		}
	}
	for _, fb := range g.Flowbits {
		if err := c.flowbit(fb); err != nil {
			return err
		}
	}
	if sm := g.StreamMatch; sm != nil {
		side := strings.ToLower(strings.TrimSpace(sm.Direction))
		op := strings.TrimSpace(sm.Operator)
		switch side {
		case "server", "client", "both", "either":
		default:
			return rejectf("stream_size: unknown side %q", sm.Direction)
		}
		switch op {
		case "<", ">", "=", "!=", "<=", ">=":
		default:
			return rejectf("stream_size: unknown operator %q", sm.Operator)
		}
		if out.Transport != inspect.ProtoTCP && out.Transport != 0 {
			return rejectf("stream_size needs a TCP rule")
		}
		out.StreamSize = &StreamSize{Side: side, Cmp: IntCmp{Op: op, N: sm.Number}}
	}
	for _, fi := range g.Flowints {
		if err := c.flowint(fi); err != nil {
			return err
		}
	}
	for _, xb := range g.Xbits {
		if err := c.xbit(xb); err != nil {
			return err
		}
	}
	if g.Threshold != nil {
		t := g.Threshold
		out.Threshold = &Threshold{Type: t.Type, Track: t.Track, Count: t.Count, Seconds: t.Seconds, Multiplier: t.Multiplier}
		// gonids refuses backoff with another track than by_flow.
		if t.Type == "backoff" && (t.Count < 1 || t.Multiplier < 1) {
			return rejectf("threshold type backoff needs count and multiplier of at least 1")
		}
	}
	if d := g.DetectionFilter; d != nil {
		if d.UniqueOn != "" {
			return rejectf("unsupported detection_filter unique_on")
		}
		out.DetectionFilter = &Threshold{Track: d.Track, Count: d.Count, Seconds: d.Seconds}
	}
	if err := c.matchers(); err != nil {
		return err
	}
	for _, o := range c.extra {
		if isFlowCount(o.kw) {
			fc, err := flowCount(o.kw, o.value)
			if err != nil {
				return err
			}
			out.FlowCounts = append(out.FlowCounts, fc)
			continue
		}
		if o.kw == "dsize" {
			// dsize:!N, Suricata's "not equal" for its integer keywords.
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(o.value), "!")))
			if err != nil || n < 0 || n > 65535 {
				return rejectf("dsize: %q is not !N with N in 0..65535", o.value)
			}
			if out.Dsize != nil {
				return rejectf("dsize given twice")
			}
			out.Dsize = &IntCmp{Op: "!=", N: n}
			continue
		}
		if o.kw == "alert" {
			// Suricata 8's alert keyword: the rule alerts whatever its
			// action; only a pass rule changes (its matches are logged).
			if out.NoAlert {
				return rejectf("alert and noalert together")
			}
			out.Info.AlertPass = out.Action == inspect.ActionPass
			continue
		}
		if o.kw == "bypass" {
			// Suricata's bypass (detect-bypass.c): a post-match action
			// that takes the flow out of inspection (RuleInfo.Bypass).
			// As there, a bypassed flow's files would never complete.
			if _, store := g.Tags["filestore"]; store || slices.Contains(g.Statements, "filestore") {
				return rejectf("bypass can't work with filestore keyword")
			}
			out.Info.Bypass = true
			continue
		}
		if o.kw == "app-layer-protocol" {
			if err := c.appLayerProto(o.value); err != nil {
				return err
			}
			continue
		}
		if err := c.fileKeyword(o.kw, o.value); err != nil {
			return err
		}
	}
	if ev, ok := g.Tags["app-layer-event"]; ok {
		if err := c.appLayerEvent(ev); err != nil {
			return err
		}
	}
	for _, t := range g.TLSTags {
		if err := c.tlsTag(t); err != nil {
			return err
		}
	}
	// An HTTP/TLS/DNS buffer implies the protocol even in "alert tcp".
	for _, l := range out.Lists {
		if ap := appBuffer(l.Buffer); ap != "" {
			if out.AppProto != "" && !inspect.AppProtoIs(out.AppProto, ap) && !inspect.AppProtoIs(ap, out.AppProto) {
				return rejectf("buffer %s conflicts with protocol %s", l.Buffer, out.AppProto)
			}
		}
	}
	return nil
}

func (c *converter) header() error {
	g, out := c.r, c.out
	proto := strings.ToLower(g.Protocol)
	out.Proto = proto
	switch proto {
	case "tcp", "tcp-stream", "tcp-pkt":
		out.Transport = inspect.ProtoTCP
	case "udp":
		out.Transport = inspect.ProtoUDP
	case "icmp":
		out.Transport = inspect.ProtoICMP
	case "ip", "pkthdr":
		out.Transport = 0
	case "ipv4":
		out.Transport, out.IPVersion = 0, 4
	case "ipv6":
		out.Transport, out.IPVersion = 0, 6
	default:
		if t, ok := appProtos[proto]; ok {
			out.Transport, out.AppProto = t, proto
		} else if t, ok := approxProtos[proto]; ok {
			out.Transport, out.ApproxApp = t, proto
		} else {
			return rejectf("unsupported protocol %s", proto)
		}
	}
	var err error
	if out.Src, err = parseAddr(netString(g.Source.NegateNets, g.Source.Nets), c.opts.lookup, 0); err != nil {
		return rejectf("source address: %v", err)
	}
	if out.Dst, err = parseAddr(netString(g.Destination.NegateNets, g.Destination.Nets), c.opts.lookup, 0); err != nil {
		return rejectf("destination address: %v", err)
	}
	if out.SrcPorts, err = parsePorts(netString(g.Source.NegatePorts, g.Source.Ports), c.opts.lookup, 0); err != nil {
		return rejectf("source port: %v", err)
	}
	if out.DstPorts, err = parsePorts(netString(g.Destination.NegatePorts, g.Destination.Ports), c.opts.lookup, 0); err != nil {
		return rejectf("destination port: %v", err)
	}
	out.Bidirectional = g.Bidirectional
	return nil
}

func netString(neg bool, items []string) string {
	s := strings.Join(items, ",")
	if strings.Contains(s, ",") {
		s = "[" + s + "]"
	}
	if neg {
		s = "!" + s
	}
	return s
}

func (c *converter) flow() error {
	f, ok := c.r.Tags["flow"]
	if !ok {
		return nil
	}
	fl := &c.out.Flow
	for _, p := range strings.Split(f, ",") {
		switch strings.ToLower(strings.TrimSpace(p)) {
		case "to_server", "from_client":
			fl.ToServer = true
		case "to_client", "from_server":
			fl.ToClient = true
		case "established":
			fl.Established = true
		case "not_established":
			fl.NotEstablished = true
		case "stateless":
			fl.Stateless = true
		case "only_stream":
			fl.OnlyStream = true
		case "no_stream":
			fl.NoStream = true
		case "no_frag", "only_frag", "":
			// Reassembly happens before inspection; fragments are never seen.
		default:
			return rejectf("unsupported flow option %q", p)
		}
	}
	if fl.ToServer && fl.ToClient {
		return rejectf("flow has both to_server and to_client")
	}
	return nil
}

func (c *converter) flowbit(fb *gonids.Flowbit) error {
	switch fb.Action {
	case "noalert":
		c.out.NoAlert = true
		return nil
	case "set", "unset", "toggle", "isset", "isnotset":
	default:
		return rejectf("unsupported flowbits:%s", fb.Action)
	}
	f := Flowbit{Op: fb.Action}
	sep := "|"
	if strings.Contains(fb.Value, "&") {
		sep, f.All = "&", true
	}
	for _, n := range strings.Split(fb.Value, sep) {
		if n = strings.TrimSpace(n); n == "" {
			return rejectf("empty flowbit name in %q", fb.Value)
		}
		f.Names = append(f.Names, n)
	}
	if len(f.Names) > 1 && (f.Op != "isset" && f.Op != "isnotset") && !f.All {
		return rejectf("flowbits:%s does not take | lists", f.Op)
	}
	c.out.Flowbits = append(c.out.Flowbits, f)
	return nil
}

// list returns the rule's list for buffer b with transforms tr, creating
// it. Suricata starts a new list each time a sticky buffer keyword is
// given; consecutive ops on the same buffer share one.
func (c *converter) list(b applayer.Buffer, tr []string) *List {
	key := strings.Join(tr, ",")
	if b > fileDataMore {
		if l := c.fileLists[b]; l != nil && strings.Join(l.Transforms, ",") == key {
			return l
		}
		l := &List{Buffer: c.fileDataTarget(), Transforms: tr}
		c.out.Lists = append(c.out.Lists, l)
		if c.fileLists == nil {
			c.fileLists = map[applayer.Buffer]*List{}
		}
		c.fileLists[b] = l
		return l
	}
	if b == fileDataBuffer {
		b = c.fileDataTarget()
	}
	for _, l := range c.out.Lists {
		if l.Buffer == b && strings.Join(l.Transforms, ",") == key {
			return l
		}
	}
	l := &List{Buffer: b, Transforms: tr}
	c.out.Lists = append(c.out.Lists, l)
	return l
}

func (c *converter) dataPos(d gonids.DataPos) (applayer.Buffer, error) {
	name := d.String()
	if real, ok := c.alias[name]; ok {
		name = real
	}
	if n, ok := strings.CutPrefix(name, fileDataRepeat); ok {
		if k, err := strconv.Atoi(n); err == nil && k > 1 {
			return fileDataMore + applayer.Buffer(k), nil
		}
	}
	switch name {
	case "pkt_data":
		return applayer.BufNone, nil
	case "file_data", "file.data":
		return fileDataBuffer, nil
	case "base64_data":
		return base64DataBuffer, nil
	}
	if b, ok := bufferNames[name]; ok {
		return b, nil
	}
	return 0, rejectf("unsupported buffer %s", name)
}

func (c *converter) transforms(ts []*gonids.Transform) ([]string, error) {
	var out []string
	for _, t := range ts {
		if t.Name == "pcrexform" {
			if real, ok := c.alias["pcrexform:"+strings.Trim(t.Value, `"`)]; ok {
				// A transform gonids lacks, lent pcrexform's syntax
				// (see parsed.ownOptions).
				out = append(out, real)
				continue
			}
		}
		if !supportedTransforms[t.Name] {
			return nil, rejectf("unsupported transform %s", t.Name)
		}
		switch t.Name {
		case "xor":
			key := strings.Trim(t.Value, `"`)
			if b, err := hex.DecodeString(key); err != nil || len(b) == 0 {
				return nil, rejectf("xor: key %q is not hex bytes", t.Value)
			}
			out = append(out, "xor:"+key)
			continue
		case "pcrexform":
			pat := strings.Trim(t.Value, `"`)
			re, err := regexp.Compile(pat)
			if err != nil {
				return nil, rejectf("pcrexform: %v", err)
			}
			if re.NumSubexp() < 1 {
				return nil, rejectf("pcrexform: %q has no capture group", pat)
			}
			out = append(out, "pcrexform:"+pat)
			continue
		}
		out = append(out, t.Name)
	}
	return out, nil
}

func (c *converter) value(s, what string) (*Value, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		return &Value{N: n}, nil
	}
	if c.vars[s] {
		return &Value{Var: s}, nil
	}
	return nil, rejectf("%s: %q is neither a number nor a byte_extract variable", what, s)
}

func (c *converter) matchers() error {
	for _, m := range c.r.Matchers {
		switch m := m.(type) {
		case *gonids.Content:
			if err := c.content(m); err != nil {
				return err
			}
		case *gonids.PCRE:
			if err := c.pcre(m); err != nil {
				return err
			}
		case *gonids.ByteMatch:
			if err := c.byteMatch(m); err != nil {
				return err
			}
		case *gonids.LenMatch:
			if err := c.lenMatch(m); err != nil {
				return err
			}
		default:
			return rejectf("unsupported matcher %T", m)
		}
	}
	if c.b64 != nil && len(c.b64.Data) == 0 {
		// Suricata inspects nothing after a base64_decode without
		// base64_data: such a rule never matches.
		return rejectf("base64_decode without base64_data never matches")
	}
	return nil
}

func (c *converter) content(m *gonids.Content) error {
	if len(m.Pattern) == 0 {
		return rejectf("empty content")
	}
	buf, err := c.dataPos(m.DataPosition)
	if err != nil {
		return err
	}
	ct := &Content{Pattern: m.Pattern, Negate: m.Negate}
	if fp := m.FastPattern; fp.Enabled {
		ct.FastPattern, ct.FastPatternOnly = true, fp.Only
		ct.FastPatternOffset, ct.FastPatternLen = fp.Offset, fp.Length
		if fp.Length > 0 && fp.Offset+fp.Length > len(m.Pattern) {
			return rejectf("fast_pattern:%d,%d beyond content of %d bytes", fp.Offset, fp.Length, len(m.Pattern))
		}
	}
	for _, o := range m.Options {
		switch o.Name {
		case "nocase":
			ct.Nocase = true
		case "rawbytes":
		case "startswith":
			ct.StartsWith = true
		case "endswith":
			ct.EndsWith = true
		case "offset", "depth", "distance", "within":
			v, err := c.value(o.Value, o.Name)
			if err != nil {
				return err
			}
			switch o.Name {
			case "offset":
				ct.Offset = v
			case "depth":
				ct.Depth = v
			case "distance":
				ct.Distance = v
			case "within":
				ct.Within = v
			}
		default:
			b, ok := bufferNames[o.Name]
			if !ok {
				return rejectf("unsupported content modifier %s", o.Name)
			}
			if buf != applayer.BufNone {
				return rejectf("content modifier %s after sticky buffer %s", o.Name, m.DataPosition)
			}
			buf = b
		}
	}
	if ct.Depth != nil && ct.Depth.Var == "" && ct.Depth.N < len(ct.Pattern) && ct.Depth.N >= 0 {
		return rejectf("depth %d shorter than content of %d bytes", ct.Depth.N, len(ct.Pattern))
	}
	if ct.Within != nil && ct.Within.Var == "" && ct.Within.N < len(ct.Pattern) && ct.Within.N >= 0 {
		return rejectf("within %d shorter than content of %d bytes", ct.Within.N, len(ct.Pattern))
	}
	tr, err := c.transforms(m.Transforms)
	if err != nil {
		return err
	}
	return c.add(buf, tr, ct)
}

// pcreCaptures reads the variables a pcre stores its capture groups in
// ("/(a+)(b)/,flow:x,pkt:y", Suricata's detect-pcre.c): each is flow:,
// pkt: or alert: and a name, and there are no more than groups. Storing
// them changes what is logged (EVE metadata), never what matches: the
// flowvar and pktvar keywords, which would read them, are not supported.
func pcreCaptures(list string, pattern []byte) ([]Capture, error) {
	if list == "" {
		return nil, nil
	}
	names := strings.Split(list, ",")
	re, err := syntax.Parse(string(pattern), syntax.Perl)
	groups := 0
	if err == nil {
		groups = re.MaxCap()
	}
	var caps []Capture
	for _, n := range names {
		kind, name, ok := strings.Cut(strings.TrimSpace(n), ":")
		if !ok || (kind != "flow" && kind != "pkt" && kind != "alert") || name == "" || strings.ContainsAny(name, " \t") {
			return nil, rejectf("pcre: bad capture variable %q: want flow:NAME, pkt:NAME or alert:NAME", strings.TrimSpace(n))
		}
		caps = append(caps, Capture{Kind: kind, Name: name})
	}
	if err == nil && len(names) > groups {
		return nil, rejectf("pcre: %d capture variables for %d groups", len(names), groups)
	}
	return caps, nil
}

// reComplex finds constructs RE2 lacks; their presence sends a pattern to
// regexp2.
var rePyBackref = regexp.MustCompile(`\(\?P=(\w+)\)`)

var reHighByte = regexp.MustCompile(`\\x[89a-fA-F][0-9a-fA-F]`)

func (c *converter) pcre(m *gonids.PCRE) error {
	buf, err := c.dataPos(m.DataPosition)
	if err != nil {
		return err
	}
	if v, ok := c.alias["pcre:"+string(m.Pattern)]; ok {
		return c.entropy(buf, v)
	}
	p := &PCRE{Negate: m.Negate}
	opts, captures, _ := strings.Cut(string(m.Options), ",")
	caps, err := pcreCaptures(captures, m.Pattern)
	if err != nil {
		return err
	}
	p.Captures = caps
	var flags []string
	for _, f := range opts {
		switch f {
		case 'i', 's', 'm':
			flags = append(flags, string(f))
		case 'x':
			p.Complex = true // RE2 lacks extended mode
			flags = append(flags, "x")
		case 'U', 'I', 'P', 'Q', 'H', 'D', 'M', 'C', 'S', 'Y', 'V', 'W', 'Z':
			// Suricata lets the flag name the buffer even after a sticky
			// buffer keyword; the flag wins.
			buf = pcreBufferFlags[byte(f)]
		case 'R':
			p.Relative = true
		case 'B', 'O':
			// B (rawbytes) and O (override match limits) change nothing here.
		case 'G':
			flags = append(flags, "U") // PCRE's ungreedy is RE2's U
		case 'A', 'E':
			return rejectf("unsupported pcre flag %c", f)
		default:
			return rejectf("unsupported pcre flag %c", f)
		}
	}
	expr := string(m.Pattern)
	if len(flags) > 0 {
		expr = "(?" + strings.Join(flags, "") + ")" + expr
	}
	// regexp2 spells Python-style named groups the .NET way.
	expr = strings.ReplaceAll(expr, "(?P<", "(?<")
	expr = rePyBackref.ReplaceAllString(expr, `\k<$1>`)
	p.Expr = expr
	if !p.Complex && !reHighByte.MatchString(expr) {
		// Only parsing can fail in regexp.Compile; parsing alone decides
		// the same without building a program detect compiles again
		// (regexp.Compile here was ~3.5% of a cold ET Open load).
		if _, err := syntax.Parse(expr, syntax.Perl); err != nil {
			p.Complex = true
		}
	} else {
		p.Complex = true
	}
	if p.Complex {
		if _, err := regexp2.Compile(expr, regexp2.None); err != nil {
			return rejectf("pcre does not compile: %v", err)
		}
	}
	tr, err := c.transforms(m.Transforms)
	if err != nil {
		return err
	}
	return c.add(buf, tr, p)
}

func (c *converter) lenMatch(m *gonids.LenMatch) error {
	cmp := IntCmp{Op: m.Operator, N: m.Num, Min: m.Min, Max: m.Max}
	if cmp.Op == "" {
		cmp.Op = "="
	}
	switch m.Kind.String() {
	case "itype", "icode", "icmp_id", "icmp_seq":
		return c.icmp(m.Kind.String(), cmp)
	case "dsize":
		c.out.Dsize = &cmp
		return nil
	case "bsize":
		buf, err := c.dataPos(m.DataPosition)
		if err != nil {
			return err
		}
		if buf == base64DataBuffer {
			return c.add(buf, nil, &Bsize{cmp})
		}
		if c.b64 != nil {
			return rejectf("bsize after base64_decode: only base64_data may follow it")
		}
		l := c.list(buf, c.lastTransforms(buf))
		l.Ops = append(l.Ops, &Bsize{cmp})
		return nil
	case "urilen":
		buf := applayer.HTTPURI
		for _, o := range m.Options {
			if o == "raw" {
				buf = applayer.HTTPURIRaw
			}
		}
		if c.b64 != nil {
			return rejectf("urilen after base64_decode: only base64_data may follow it")
		}
		l := c.list(buf, nil)
		l.Ops = append(l.Ops, &Bsize{cmp})
		return nil
	}
	return rejectf("unsupported keyword %s", m.Kind)
}

// lastTransforms finds the transforms of the last list on buf, since
// gonids does not record them for bsize/byte_*.
func (c *converter) lastTransforms(buf applayer.Buffer) []string {
	if l := c.fileLists[buf]; l != nil {
		return l.Transforms
	}
	if isFileData(buf) {
		buf = c.fileDataTarget()
	}
	for i := len(c.out.Lists) - 1; i >= 0; i-- {
		if c.out.Lists[i].Buffer == buf {
			return c.out.Lists[i].Transforms
		}
	}
	return nil
}

func parseNumOpt(s string) (int, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		n, err := strconv.ParseInt(s[2:], 16, 64)
		return int(n), err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return int(n), err
}

func (c *converter) byteMatch(m *gonids.ByteMatch) error {
	buf, err := c.dataPos(m.DataPosition)
	if err != nil {
		return err
	}
	kind := m.Kind.String()
	var op Op
	switch kind {
	case "isdataat":
		v, err := c.value(m.NumBytes, "isdataat")
		if err != nil {
			return err
		}
		d := &IsDataAt{Offset: *v, Negate: m.Negate}
		for _, o := range m.Options {
			if strings.TrimSpace(o) == "relative" {
				d.Relative = true
			} else if strings.TrimSpace(o) != "rawbytes" {
				return rejectf("unsupported isdataat option %q", o)
			}
		}
		op = d
	case "byte_test", "byte_jump", "byte_extract":
		n, err := strconv.Atoi(m.NumBytes)
		bytesVar := ""
		if err != nil {
			// Suricata 7 takes nbytes from a byte_extract variable (not in
			// byte_extract itself); it is checked when read.
			if v := strings.TrimSpace(m.NumBytes); c.vars[v] && kind != "byte_extract" {
				bytesVar, n = v, 1
			} else {
				return rejectf("%s: bytes %q is neither a number nor a byte_extract variable", kind, m.NumBytes)
			}
		}
		// byte_jump may read 0 bytes: it then jumps by post_offset alone.
		if (n < 1 && !(n == 0 && kind == "byte_jump")) || n > 10 {
			if !(n <= 23 && containsOpt(m.Options, "string")) {
				return rejectf("%s: bytes %d out of range", kind, n)
			}
		}
		var bo byteOpts
		if err := bo.parse(kind, m.Options); err != nil {
			return err
		}
		if !bo.str && n > 8 {
			return rejectf("%s: %d bytes without string", kind, n)
		}
		switch kind {
		case "byte_test":
			off, err := c.value(m.Offset, "byte_test offset")
			if err != nil {
				return err
			}
			opStr := strings.TrimSpace(m.Operator)
			bt := &ByteTest{Bytes: n, BytesVar: bytesVar, Offset: *off, Relative: bo.relative, BigEndian: bo.big, String: bo.str, Base: bo.base, Bitmask: bo.bitmask}
			if strings.HasPrefix(opStr, "!") {
				bt.Not, opStr = true, opStr[1:]
			}
			switch opStr {
			case "<", ">", "=", "<=", ">=", "&", "^":
			default:
				return rejectf("byte_test: unsupported operator %q", m.Operator)
			}
			bt.Op = opStr
			val := strings.TrimSpace(m.Value)
			if nv, err := parseNumOpt(val); err == nil {
				bt.Value = Value{N: nv}
			} else if c.vars[val] {
				bt.Value = Value{Var: val}
			} else {
				return rejectf("byte_test: value %q is neither a number nor a variable", val)
			}
			op = bt
		case "byte_jump":
			off, err := c.value(m.Offset, "byte_jump offset")
			if err != nil {
				return err
			}
			op = &ByteJump{Bytes: n, BytesVar: bytesVar, Offset: *off, Relative: bo.relative, BigEndian: bo.big, String: bo.str, Base: bo.base,
				Multiplier: bo.multiplier, Align: bo.align > 0, FromBeginning: bo.fromBeginning, FromEnd: bo.fromEnd,
				PostOffset: bo.postOffset, Bitmask: bo.bitmask}
		case "byte_extract":
			off, err := strconv.Atoi(strings.TrimSpace(m.Offset))
			if err != nil {
				return rejectf("byte_extract: offset %q is not a number", m.Offset)
			}
			name := strings.TrimSpace(m.Variable)
			if name == "" {
				return rejectf("byte_extract without a variable name")
			}
			c.vars[name] = true
			op = &ByteExtract{Bytes: n, Offset: off, Var: name, Relative: bo.relative, BigEndian: bo.big, String: bo.str,
				Base: bo.base, Multiplier: bo.multiplier, Align: bo.align, Bitmask: bo.bitmask}
		}
	case "base64_decode":
		if c.b64 != nil {
			return rejectf("more than one base64_decode")
		}
		if buf == base64DataBuffer {
			return rejectf("base64_decode after base64_data")
		}
		d := &Base64Decode{}
		if nb := strings.TrimSpace(m.NumBytes); nb != "" {
			n, err := strconv.Atoi(nb)
			if err != nil || n < 1 {
				return rejectf("base64_decode: bytes %q is not a positive number", m.NumBytes)
			}
			d.Bytes = n
		}
		if o := strings.TrimSpace(m.Offset); o != "" {
			n, err := strconv.Atoi(o)
			if err != nil || n < 0 {
				return rejectf("base64_decode: offset %q is not a number", m.Offset)
			}
			d.Offset = n
		}
		d.Relative = containsOpt(m.Options, "relative")
		op = d
	default:
		return rejectf("unsupported keyword %s", kind)
	}
	if buf == base64DataBuffer {
		return c.add(buf, nil, op)
	}
	l := c.last
	if buf != applayer.BufNone || !isRelative(op) || l == nil {
		l = c.list(buf, c.lastTransforms(buf))
	}
	// Else, outside a sticky buffer, a relative byte_* or isdataat
	// follows the previous match, in whatever buffer a content modifier
	// put it (uricontent; byte_extract:...,relative), as Suricata
	// attaches it to the last match's list.
	if err := c.addTo(l, op); err != nil {
		return err
	}
	if d, ok := op.(*Base64Decode); ok {
		c.b64 = d
	}
	return nil
}

func isRelative(op Op) bool {
	switch o := op.(type) {
	case *IsDataAt:
		return o.Relative
	case *ByteTest:
		return o.Relative
	case *ByteJump:
		return o.Relative
	case *ByteExtract:
		return o.Relative
	case *Base64Decode:
		return o.Relative
	}
	return false
}

func containsOpt(opts []string, want string) bool {
	for _, o := range opts {
		if strings.TrimSpace(o) == want {
			return true
		}
	}
	return false
}

type byteOpts struct {
	relative, str, fromBeginning, fromEnd bool
	big                                   bool
	base, multiplier, align, postOffset   int
	bitmask                               uint64
}

func (b *byteOpts) parse(kind string, opts []string) error {
	b.big, b.base, b.multiplier = true, 10, 1
	for _, o := range opts {
		o = strings.TrimSpace(o)
		f := strings.Fields(o)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "relative":
			b.relative = true
		case "big":
			b.big = true
		case "little":
			b.big = false
		case "string":
			b.str = true
		case "hex":
			b.base = 16
		case "dec":
			b.base = 10
		case "oct":
			b.base = 8
		case "align":
			b.align = 4
		case "dce":
			return rejectf("%s: unsupported option dce", kind)
		case "from_beginning":
			b.fromBeginning = true
		case "from_end":
			b.fromEnd = true
		case "multiplier", "post_offset", "bitmask":
			if len(f) != 2 {
				return rejectf("%s: option %q needs a value", kind, o)
			}
			n, err := parseNumOpt(f[1])
			if err != nil {
				return rejectf("%s: bad %s %q", kind, f[0], f[1])
			}
			switch f[0] {
			case "multiplier":
				b.multiplier = n
			case "post_offset":
				b.postOffset = n
			case "bitmask":
				b.bitmask = uint64(n)
			}
		default:
			return rejectf("%s: unsupported option %q", kind, o)
		}
	}
	return nil
}

// tlsVersions are tls.version's named values (Suricata's
// detect-tls-version.c).
var tlsVersions = map[string]uint16{"1.0": 0x0301, "1.1": 0x0302, "1.2": 0x0303, "1.3": 0x0304}

// tlsTag turns the non-sticky TLS keywords into content on the buffer the
// TLS parser fills: tls.subject and tls.issuerdn match a substring of the
// certificate's DN (Suricata uses strstr), tls.fingerprint the
// certificate's fingerprint, tls.version the hello's version exactly.
func (c *converter) tlsTag(t *gonids.TLSTag) error {
	val := strings.Trim(strings.TrimSpace(t.Value), `"`)
	ct := &Content{Negate: t.Negate, Pattern: []byte(val)}
	var buf applayer.Buffer
	var extra Op
	switch t.Key {
	case "tls.subject":
		buf = applayer.TLSCertSubject
	case "tls.issuerdn":
		buf = applayer.TLSCertIssuer
	case "tls.fingerprint":
		buf, ct.Nocase = applayer.TLSCertFingerprint, true
	case "tls.version":
		v, ok := tlsVersions[val]
		if !ok {
			n, err := strconv.ParseUint(strings.TrimPrefix(val, "0x"), 16, 16)
			if err != nil || !strings.HasPrefix(val, "0x") || len(val) != 6 {
				return rejectf("tls.version: invalid value %q", t.Value)
			}
			if n>>8 == 0x7f {
				// The buffer holds drafts as read; Suricata matches named
				// 1.3 against drafts too, which a content cannot.
				return rejectf("tls.version: TLS 1.3 draft versions are not supported")
			}
			v = uint16(n)
		}
		buf = applayer.TLSVersion
		ct.Pattern = []byte{byte(v >> 8), byte(v)}
		extra = &Bsize{IntCmp{Op: "=", N: 2}}
	default:
		return rejectf("unsupported keyword %s", t.Key)
	}
	if len(ct.Pattern) == 0 {
		return rejectf("%s: empty value", t.Key)
	}
	l := c.list(buf, nil)
	l.Ops = append(l.Ops, ct)
	if extra != nil {
		l.Ops = append(l.Ops, extra)
	}
	return nil
}

// eventAliases are older spellings of events Suricata renamed, which
// rule sets still carry (dns-events.rules before Suricata 8).
var eventAliases = map[string]string{"dns.not_a_request": "dns.not_request", "dns.not_a_response": "dns.not_response"}

// appLayerEvent turns app-layer-event:PROTO.NAME into an exact match on
// the AppLayerEvent multi-buffer, which detection fills with the
// anomalies parsers raise. Only events of protocols with a parser here
// are accepted; detect refuses names the parser declares it never raises.
// Suricata's generic applayer_* events (protocol detection and change)
// have no counterpart and are refused.
func (c *converter) appLayerEvent(v string) error {
	v = strings.ToLower(strings.TrimSpace(v))
	proto, name, ok := strings.Cut(v, ".")
	if !ok || name == "" || strings.HasPrefix(v, "!") {
		return rejectf("unsupported app-layer-event %s", v)
	}
	if _, known := appProtos[proto]; !known || proto == "http1" {
		return rejectf("unsupported app-layer-event %s: no %s parser", v, proto)
	}
	if c.out.AppProto != "" && !inspect.AppProtoIs(proto, c.out.AppProto) && !inspect.AppProtoIs(c.out.AppProto, proto) {
		return rejectf("app-layer-event %s conflicts with protocol %s", v, c.out.AppProto)
	}
	if n, ok := eventAliases[v]; ok {
		v = n
	}
	l := c.list(applayer.AppLayerEvent, nil)
	l.Ops = append(l.Ops, &Content{Pattern: []byte(v)}, &Bsize{IntCmp{Op: "=", N: len(v)}})
	return nil
}

// flowint checks flowint:NAME,OP[,VALUE] (Suricata's flowint keyword).
func (c *converter) flowint(fi *gonids.Flowint) error {
	f := Flowint{Name: strings.TrimSpace(fi.Name), Op: strings.TrimSpace(fi.Modifier)}
	if f.Name == "" {
		return rejectf("flowint without a variable name")
	}
	val := strings.TrimSpace(fi.Value)
	switch f.Op {
	case "isset", "notset", "isnotset":
		if f.Op == "isnotset" {
			f.Op = "notset"
		}
		if val != "" {
			return rejectf("flowint:%s,%s takes no value", f.Name, f.Op)
		}
	case "=", "+", "-", "==", "!=", "<", "<=", ">", ">=":
		if val == "" {
			return rejectf("flowint:%s,%s needs a value", f.Name, f.Op)
		}
		if n, err := strconv.ParseInt(val, 10, 64); err == nil {
			if n < 0 || n > 1<<32-1 {
				return rejectf("flowint value %d out of range", n)
			}
			f.Value = n
		} else if isKeywordName(val) {
			f.Var = val
		} else {
			return rejectf("flowint: %q is neither a number nor a variable", val)
		}
	default:
		return rejectf("unsupported flowint operator %q", fi.Modifier)
	}
	c.out.Flowints = append(c.out.Flowints, f)
	return nil
}

func isKeywordName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isKeywordByte(s[i]) {
			return false
		}
	}
	return s != ""
}

// xbitDefaultExpire is Suricata's DETECT_XBITS_EXPIRE_DEFAULT (seconds).
const xbitDefaultExpire = 30

// xbit checks xbits:OP,NAME,track ip_src|ip_dst|ip_pair[,expire N].
func (c *converter) xbit(xb *gonids.Xbit) error {
	x := Xbit{Op: strings.ToLower(strings.TrimSpace(xb.Action)), Name: strings.TrimSpace(xb.Name), Expire: xbitDefaultExpire}
	switch x.Op {
	case "set", "unset", "toggle", "isset", "isnotset":
	case "noalert":
		c.out.NoAlert = true
		return nil
	default:
		return rejectf("unsupported xbits command %q", xb.Action)
	}
	if x.Name == "" {
		return rejectf("xbits without a name")
	}
	track := strings.TrimSpace(xb.Track)
	track = strings.TrimSpace(strings.TrimPrefix(track, "track"))
	switch track {
	case "ip_src", "ip_dst", "ip_pair":
		x.Track = track
	case "tx":
		return rejectf("unsupported xbits track tx")
	default:
		return rejectf("xbits: unknown track %q", xb.Track)
	}
	if e := strings.TrimSpace(xb.Expire); e != "" {
		n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(e, "expire")))
		if err != nil || n <= 0 {
			return rejectf("xbits: bad expire %q", xb.Expire)
		}
		x.Expire = n
	}
	c.out.Xbits = append(c.out.Xbits, x)
	return nil
}

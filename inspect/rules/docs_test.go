package rules

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/tests/testenv"
)

// supportPath is the generated rule-language support matrix.
const supportPath = "docs/rules.md"

// probe is one Suricata keyword and a rule option that uses it. Its
// status in the matrix is not written here: the test converts a rule
// with the option and records what the converter said, so the matrix
// cannot claim more than the code does. note says why a keyword that
// loads is only partly honoured.
type probe struct {
	keyword, option, note string
	// why explains a rejection beyond the converter's "unsupported".
	why string
	// header replaces the rule header (action proto src port -> dst port).
	header string
}

var probes = []probe{
	// Payload.
	{keyword: "content", option: `content:"abc";`},
	{keyword: "nocase", option: `content:"abc"; nocase;`},
	{keyword: "offset / depth", option: `content:"abc"; offset:1; depth:10;`},
	{keyword: "distance / within", option: `content:"a"; content:"b"; distance:0; within:5;`},
	{keyword: "startswith / endswith", option: `content:"a"; startswith; content:"z"; endswith;`},
	{keyword: "rawbytes", option: `content:"abc"; rawbytes;`, note: "accepted and ignored: the stream is already raw"},
	{keyword: "fast_pattern", option: `content:"abc"; fast_pattern;`},
	{keyword: "pcre", option: `pcre:"/a.c/i";`, note: "RE2 where the pattern allows; lookaround and backreferences run on a backtracking engine with a match timeout"},
	{keyword: "isdataat", option: `content:"a"; isdataat:2,relative;`},
	{keyword: "dsize", option: `dsize:>10;`, note: "the size of the chunk read from the stream, not of one packet"},
	{keyword: "bsize", option: `http.uri; bsize:>5;`},
	{keyword: "byte_test", option: `byte_test:2,>,5,0;`},
	{keyword: "byte_jump", option: `byte_jump:2,0; content:"a"; within:1;`},
	{keyword: "byte_extract", option: `byte_extract:2,0,len; content:"a"; within:len;`},
	{keyword: "byte_math", option: `byte_math:bytes 2, offset 0, oper +, rvalue 1, result r;`},
	{keyword: "urilen", option: `urilen:>5;`},
	{keyword: "entropy", option: `entropy:bytes 4, value >1;`},
	{keyword: "base64_decode", option: `base64_decode; base64_data; content:"a";`},
	{keyword: "dataset", option: `http.uri; dataset:isset,bad,type string;`, why: "no dataset files or state"},
	// Flow and state.
	{keyword: "flow", option: `flow:established,to_server;`},
	{keyword: "flowbits", option: `flowbits:set,x; flowbits:noalert;`},
	{keyword: "flowint", option: `flowint:c,+,1;`},
	{keyword: "xbits", option: `xbits:set,x,track ip_src,expire 60;`, note: "ip_src, ip_dst and ip_pair; track tx is rejected"},
	{keyword: "stream_size", option: `stream_size:server,>,10;`, note: "the bytes each side sent plus one for its SYN, as Suricata's sequence-space size"},
	{keyword: "app-layer-event", option: `app-layer-event:tls.invalid_record_type;`, note: "for the events the built-in parsers raise; other event names reject the rule"},
	{keyword: "prefilter", option: `content:"a"; prefilter;`, note: "a prefilter hint: accepted, changes nothing that matches"},
	{keyword: "threshold", option: `threshold:type limit, track by_src, count 1, seconds 60;`},
	{keyword: "detection_filter", option: `detection_filter:track by_src, count 5, seconds 60;`},
	{keyword: "noalert", option: `content:"a"; noalert;`},
	{keyword: "alert", option: `content:"a"; alert;`, note: "Suricata 8: a pass rule with it logs its matches as alerts"},
	{keyword: "tag", option: `tag:session,10,packets;`, note: "accepted; no packets are tagged (no pcap output)"},
	{keyword: "app-layer-protocol", option: `app-layer-protocol:http;`},
	// Packet header.
	{keyword: "ttl", option: `ttl:10;`, why: "a packet-header keyword: the appliance inspects reassembled streams, not packets"},
	{keyword: "flags", option: `flags:S;`, why: "a packet-header keyword: the appliance inspects reassembled streams, not packets"},
	{keyword: "seq / ack", option: `seq:0;`, why: "a packet-header keyword: the appliance inspects reassembled streams, not packets"},
	{keyword: "window", option: `window:1024;`, why: "a packet-header keyword: the appliance inspects reassembled streams, not packets"},
	{keyword: "ip_proto", option: `ip_proto:6;`, why: "a packet-header keyword: the appliance inspects reassembled streams, not packets"},
	{keyword: "itype / icode", header: "alert icmp any any -> any any", option: `itype:8; icode:0;`},
	{keyword: "fragbits", option: `fragbits:M;`, why: "a packet-header keyword: the appliance inspects reassembled streams, not packets"},
	// Meta.
	{keyword: "msg, sid, rev", option: `rev:2;`},
	{keyword: "gid", option: `gid:1;`},
	{keyword: "classtype", option: `classtype:trojan-activity;`},
	{keyword: "priority", option: `priority:1;`},
	{keyword: "metadata", option: `metadata:created_at 2020_01_01;`},
	{keyword: "reference", option: `reference:url,example.com;`},
	{keyword: "target", option: `target:dest_ip;`},
	// App-layer keywords with no buffer here.
	{keyword: "http.response_header / http.request_header", option: `http.request_header; content:"a";`},
	{keyword: "tls.cert_subject", option: `tls.cert_subject; content:"a";`, note: "TLS 1.2 and earlier: TLS 1.3 encrypts the certificate"},
	{keyword: "tls.subject", option: `tls.subject:"CN=a";`, note: "TLS 1.2 and earlier: TLS 1.3 encrypts the certificate"},
	{keyword: "tls.version", option: `tls.version:1.2;`},
	{keyword: "ja3.hash", option: `ja3.hash; content:"a";`},
	{keyword: "ja4.hash", option: `ja4.hash; content:"t13";`},
	{keyword: "dns.opcode", option: `dns.opcode:0;`, note: "a negated range (!7-15) is rejected"},
	{keyword: "dns.rcode", option: `dns.rcode:nxdomain;`, note: "numbers 0-15 or the names NOERROR to NOTZONE; a negated range is rejected"},
	{keyword: "ssh.proto / ssh.software", option: `ssh.proto; content:"2.0"; ssh.software; content:"OpenSSH";`},
	{keyword: "file.name", option: `file.name; content:"a";`, note: "HTTP: the response's Content-Disposition filename, else the request path; a request body is a file only for PUT (multipart parts are not split)"},
	{keyword: "filename / fileext", option: `filename:"a.exe"; fileext:"exe";`, note: "as Suricata: file.name with a nocase content (fileext: ending in .EXT)"},
	{keyword: "filesize", option: `filesize:>100;`, note: "HTTP files (as file.name says), matched once the file is complete; filemd5, filesha1 and filesha256 take a list file beside the rule file the same way"},
	{keyword: "filestore", option: `filestore;`, note: "accepted; files are not written to disk (no file-store output)"},
	{keyword: "bypass", option: `bypass;`, note: "the rest of the flow is forwarded without inspection or logging (a pass verdict); refused beside filestore"},
	{keyword: "filemagic", option: `filemagic:"PE32";`, why: "no file extraction"},
	{keyword: "lua", option: `lua:script.lua;`, why: "no scripting engine in the data path"},
}

// TestDocsRuleSupport keeps docs/rules.md equal to what the converter
// does: actions, protocols, buffers and transforms from its own tables,
// and one probe rule per keyword parsed for real. Change what the
// converter accepts and this fails until `make docs` (UPDATE_DOCS=1)
// regenerates the file.
func TestDocsRuleSupport(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(`# Rule language support

<!-- Generated by ` + "`make docs`" + ` from inspect/rules (the converter's tables, and
one probe rule per keyword parsed by the real loader). A test fails when
this file is stale. Do not edit it by hand. -->

interdict reads Suricata rules (parsed with gonids) and honours what it can
honour exactly. A rule that uses anything it cannot honour is **rejected**
with ` + "`file:line: sid N: reason`" + ` (` + "`interdict rules check FILE`" + ` lists them); the
rest of the file loads. Nothing is silently ignored: where a keyword loads
but is honoured only in part, the table says how.

`)
	sorted := func(m map[string]bool) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	set := func(keys ...string) map[string]bool {
		m := map[string]bool{}
		for _, k := range keys {
			m[k] = true
		}
		return m
	}

	var acts []string
	for a := range actions {
		acts = append(acts, a)
	}
	slices.Sort(acts)
	fmt.Fprintf(&b, "## Actions\n\nSupported: %s. Suricata's order applies: pass > drop > reject > alert.\n\n", code(acts))

	b.WriteString("## Protocols\n\n| protocol | status |\n|---|---|\n")
	for _, p := range []string{"tcp", "udp", "icmp", "ip", "ipv4", "ipv6"} {
		fmt.Fprintf(&b, "| `%s` | %s |\n", p, status(t, probe{header: "alert " + p + " any any -> any any", option: `content:"a";`}))
	}
	var app []string
	for p := range appProtos {
		app = append(app, p)
	}
	for _, p := range sorted(set(app...)) {
		fmt.Fprintf(&b, "| `%s` | supported: detected by content by the built-in parser |\n", p)
	}
	var approx []string
	for p := range approxProtos {
		approx = append(approx, p)
	}
	for _, p := range sorted(set(approx...)) {
		fmt.Fprintf(&b, "| `%s` | partial: no parser; the rule's payload keywords match the raw transport stream and the protocol is not checked |\n", p)
	}
	b.WriteString("\nAny other protocol is rejected.\n\n")

	var bufs []string
	for n := range bufferNames {
		bufs = append(bufs, n)
	}
	slices.Sort(bufs)
	fmt.Fprintf(&b, "## Sticky buffers and content modifiers\n\nSupported (both the sticky-buffer and the legacy modifier spelling where Suricata has both): %s, and `file_data`/`file.data` (with `flow:to_server` the request body, with `flow:to_client` the response body; without a direction each file of either direction as its own buffer: a PUT body, each part of a multipart/form-data upload that has a filename, the response body; a repeated `file.data` starts a new list, which may match another file), `pkt_data`. Any other buffer rejects the rule.\n\n", code(bufs))
	var flags []string
	for f := range pcreBufferFlags {
		flags = append(flags, string(f))
	}
	slices.Sort(flags)
	fmt.Fprintf(&b, "pcre buffer flags: %s.\n\n", code(flags))
	fmt.Fprintf(&b, "## Transforms\n\nSupported: %s. Any other transform rejects the rule.\n\n", code(sorted(supportedTransforms)))

	b.WriteString("## Keywords\n\n| keyword | status | example probed |\n|---|---|---|\n")
	for _, p := range probes {
		fmt.Fprintf(&b, "| `%s` | %s | `%s` |\n", p.keyword, status(t, p), strings.ReplaceAll(p.option, "|", `\|`))
	}
	// A note is for a keyword that loads; a why for one that does not.
	for _, p := range probes {
		require.False(t, p.note != "" && p.why != "", p.keyword)
	}
	testenv.Generated(t, supportPath, b.Bytes())
}

// status parses the probe's rule and says what the converter made of it.
func status(t *testing.T, p probe) string {
	t.Helper()
	header := p.header
	if header == "" {
		header = "alert tcp any any -> any any"
	}
	_, err := ParseRule(fmt.Sprintf(`%s (msg:"probe"; %s sid:1;)`, header, p.option), nil)
	switch {
	case err == nil && p.why != "":
		t.Fatalf("probe %q loads now: its rejection reason %q is out of date", p.keyword, p.why)
	case err == nil && p.note != "":
		return "partial: " + p.note
	case err == nil:
		return "supported"
	}
	var re *Error
	reason := err.Error()
	if errors.As(err, &re) {
		reason = re.Reason
	}
	require.NotEmpty(t, reason)
	if p.why != "" {
		reason += " (" + p.why + ")"
	}
	return "rejected: " + strings.ReplaceAll(reason, "|", `\|`)
}

func code(xs []string) string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = "`" + x + "`"
	}
	return strings.Join(out, ", ")
}

// Package detect is the detection engine: it compiles loaded rules
// (inspect/rules) into per-group multi-pattern prefilters and verification
// chains, and inspects flows chunk by chunk.
//
// An *Engine is immutable after New (threshold counters, which Suricata
// keeps across flows, sit behind their own lock) and implements
// inspect.FlowFactory. Each flow gets a Flow with bounded state: a window
// of recent stream bytes per direction for verification, prefilter stream
// state so a pattern split across chunks is found, pending candidates,
// flowbits, and the app-layer parser chosen by content.
//
// A pending rule is re-verified over the window only while its outcome
// can still change: the evaluator notes when a failure depended on the
// end of the buffer (evaluator.more); one that did not waits, dormant,
// for its fast pattern to be seen again, and the occurrences of its first
// content already ruled out are not tried again (pending.resume). Growing
// HTTP bodies drop such candidates the same way.
//
// Raw-stream rules see each TCP direction's first Options.StreamDepth
// bytes, as Suricata's stream.reassembly.depth bounds its raw stream;
// app-layer Units are inspected past it. Within the depth the raw stream
// includes the HTTP bodies that the body buffers also see, as in Suricata
// (ET has raw-content rules for payloads served over HTTP); the bodies
// are scanned twice only on a flow's first StreamDepth bytes, which on a
// keep-alive connection is a small share of its traffic.
//
// Rules without payload keywords match the stream once per direction on
// the live path, which has no packets. When the caller reports packets
// (FlowMeta.Packets: replay) they match per TCP packet instead, as in
// Suricata (packet.go): IP-only rules on the first packet of each
// direction, the others on every packet, with flow:established as of
// that packet; a pass from a rule with per-packet conditions passes the
// packet, not the flow.
//
// detect imports inspect, inspect/rules, inspect/prefilter and
// inspect/applayer; it never imports netstack or tunnel, and knows no
// app-layer protocol's wire format (it reads only the fixed ICMP header
// for itype, icode, icmp_id and icmp_seq).
package detect

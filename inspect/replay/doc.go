// Package replay runs a pcap or pcapng capture through the detection
// engine as the appliance would see it live: TCP is reassembled into each
// direction's byte stream and fed to an inspect.FlowInspector in capture
// order (so a request is inspected before its response), UDP datagrams
// one per call, and EVE events are written with the packets' timestamps.
// It is what `interdict replay` and the suricata-verify conformance suite
// use, so rules can be tested offline and compared with Suricata's output
// on the same capture.
//
// Reassembly is our own small in-order reassembler rather than
// gopacket/reassembly: we need exact control over which bytes win an
// overlap and over when each chunk is delivered relative to the other
// direction. Its policy:
//
//   - Overlaps: first wins. Bytes already received for a stream offset
//     (delivered or waiting out of order) are never replaced by a later
//     segment, so a retransmission cannot change what was inspected.
//   - Out-of-order segments wait, bounded per direction (MaxPendingBytes,
//     MaxPendingSegments); past the bound, or at the flow's end, a gap is
//     skipped and the data after it is delivered, as Suricata inspects
//     data after a gap.
//   - A flow whose handshake (a SYN from each side) was not seen is
//     marked FlowMeta.NotEstablished unless Config.Midstream is set, which
//     mirrors Suricata's stream.midstream pickup. The default is off, as
//     Suricata's: flow:established rules do not match a flow picked up in
//     the middle (`interdict replay --midstream` turns it on). With Midstream, a
//     pickup whose first bytes only a client-bound app-layer probe
//     recognises (an HTTP response) is reversed, as Suricata does.
//   - Close is called at RST, once both directions' FINs were reached, or
//     at the end of the capture.
//   - TCP urgent data is read as Config.Urgent says (Suricata's
//     stream.reassembly.urgent.policy; default inline, as the
//     appliance's own stack reads it): see UrgentPolicy.
//   - A packet of a 5-tuple whose flow was idle past its timeout
//     (Config.FlowTimeouts, Suricata's flow-timeouts by state) starts a
//     new flow; the old one is logged with reason timeout.
//
// Link types: Ethernet (with VLAN tags), raw IPv4/IPv6 (DLT_RAW 12 and
// 14, LINKTYPE_RAW 101, LINKTYPE_IPV4 228, LINKTYPE_IPV6 229), Linux
// cooked captures (SLL, SLL2) and BSD loopback (null, loop). A pcapng
// file may mix interfaces of different link types; each packet is read
// with its own interface's. Tunnels gopacket decodes (GRE, IP-in-IP)
// are tracked by their inner IP header, as Suricata tracks them. A
// record that cannot be read ends the
// capture (Summary.Unreadable), as in Suricata.
//
// Rules on packets: every TCP packet is announced to the inspector
// (inspect.PacketInspector) with Suricata's per-packet established
// state, so rules without payload keywords match per packet as in
// Suricata (bare ACKs and the handshake included; IP-only rules on the
// first packet of each direction). A flow that starts with a SYN gets
// its inspector at the SYN; a mid-stream one at its first bytes, once
// its direction was guessed. Data following a SYN that was never
// answered is not inspected (Suricata's stream engine accepts none in
// syn_sent), and flow events carry Suricata's TCP state (tcp.state,
// flow.state).
//
// Acknowledgements: in ids mode a direction's bytes are inspected as far
// as the receiver acknowledged them, as Suricata's IDS reassembly hands
// them on; the bytes of a one-sided capture wait for the flow's end.
// Config.AsyncOneside (stream.async-oneside), Config.StreamInline
// (stream.inline) and ips mode inspect them as they arrive. As Suricata
// detects on a packet's own direction only, the alerts on bytes the
// other side's packet delivered are logged with their direction's next
// packet (its pcap_cnt and time), or at the flow's end. What the
// end of the capture brings is logged without pcap_cnt, as Suricata's
// pseudo packets are.
//
// A pass verdict ends inspection, not logging: a passed flow is still
// fed, so its app-layer records are written; no rule decides it again.
//
// A bypass rule (Result.Bypass) takes the flow out of inspection from
// the next packet on, as Suricata's local bypass: later packets are
// counted, nothing else, and the flow is not flushed at its end; bytes
// flushed together at the end are all inspected, as Suricata's pseudo
// packets are. The flow event says state bypassed, bypass local.
//
// In IPS mode a drop or reject stops the flow: its later data is not
// inspected (it would not have been forwarded) and every later packet of
// the flow is logged as a drop event.
//
// Rules are loaded by inspect/ruleset, the appliance's loader, so a rule
// set behaves the same offline and live.
//
// replay imports inspect, inspect/eve, inspect/rules, inspect/ruleset and
// inspect/detect; never netstack or tunnel.
package replay

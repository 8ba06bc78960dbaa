// Package dns parses DNS messages (RFC 1035) for detection: over UDP one
// message per datagram, over TCP length-prefixed messages (RFC 1035 4.2.2)
// split across chunks in any way, several per stream, in both directions.
// Question names are dotted and without the trailing dot as in Suricata;
// messages are logged as EVE dns records in Suricata 8's version 3 format
// (header flags, questions, answers in the detailed and grouped forms,
// authorities, additionals).
//
// As in Suricata 8, every message is a transaction of its own: a response
// is not paired with its query. dns.query (a multi-buffer, one instance
// per question) is filled for messages to the server only: Suricata
// registers it to_server, and a response's echoed question does not match
// it; dns.queries.rrname and the record-name buffers are filled in both
// directions. Anomalies are spelled as Suricata's Rust parser spells its
// events (lower case: z_flag_set).
//
// Names are decoded with compression pointers that must point strictly
// backwards in the message, which rules out loops; a pointer that does
// not is reported as infinite_loop. Memory is bounded: a TCP message is at
// most 64 KiB by its 16-bit length, a name 255 bytes, and at most
// maxQuestions questions and maxRecords records per section are kept.
//
// dns imports only inspect and inspect/applayer.
package dns

// Package dns parses DNS messages (RFC 1035) for detection: over UDP one
// message per datagram, over TCP length-prefixed messages (RFC 1035 4.2.2)
// split across chunks in any way. Each question's name fills dns.query,
// dotted and without the trailing dot as in Suricata; queries and answers
// are logged as EVE dns records (id, rrname, rrtype, rcode).
//
// dns.query is filled in both directions: a response repeats its question,
// and Suricata 8 inspects it there too. Each question of a message gets its
// own Unit (Suricata's dns.query is a multi-buffer), all with the
// transaction id of the query; answers are paired with queries by DNS id.
//
// Names are decoded with compression pointers that must point strictly
// backwards in the message, which rules out loops; a pointer that does
// not is reported as INFINITE_LOOP. Memory is bounded: a TCP message is at
// most 64 KiB by its 16-bit length, a name 255 bytes, and at most
// maxQuestions questions and maxPendingIDs unanswered ids are kept.
//
// dns imports only inspect and inspect/applayer.
package dns

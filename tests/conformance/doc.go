// Package conformance replays suricata-verify test cases through
// interdict's replay (the code path of `interdict replay`) and evaluates
// each test.yaml's checks against our EVE output, so detection can be
// compared with Suricata's on the same captures and rules. Both corpora,
// suricata-verify and suricata-verify-next, run as one suite with one
// "N passed, N failed" line.
//
// The corpus lives outside the repository, in ../shared/corpus (override
// with INTERDICT_CORPUS). Some cases test packet-level semantics that a
// terminating proxy does not share (tcp-pkt rules, rules reading a
// packet's IP/TCP header, per-packet verdicts on handshake or empty
// segments, retransmitted segments inspected twice, Suricata's
// payload/packet dump fields, tunnel decoding); those checks are reported
// as not applicable, with the reason, and counted apart. Applicability is
// decided from each case's rules and checks (applicable.go), so a
// held-out case of the same kind is judged the same way.
//
// TestEVESchema validates every event the suite produces against
// Suricata's own EVE JSON schema (testdata/eve-schema, with its licence
// and provenance).
//
// conformance imports inspect packages and tests/testenv only.
package conformance

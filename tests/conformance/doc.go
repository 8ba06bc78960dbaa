// Package conformance replays suricata-verify test cases through
// interdict's replay (the code path of `interdict replay`) and evaluates
// each test.yaml's checks against our EVE output, so detection can be
// compared with Suricata's on the same captures and rules.
//
// The corpus lives outside the repository, in ../shared/corpus (override
// with INTERDICT_CORPUS). Some cases test packet-level semantics that a
// terminating proxy does not share (tcp-pkt rules, per-packet verdicts on
// handshake or empty segments, Suricata's payload/packet dump fields,
// tunnel decoding); those checks are reported as not applicable, with the
// reason, and counted apart.
//
// conformance imports inspect packages and tests/testenv only.
package conformance

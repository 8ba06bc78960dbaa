package eve

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"net/netip"

	"github.com/interdict/interdict/inspect"
)

// CommunityID returns the Community ID (version 1, seed 0) of a TCP or
// UDP flow: "1:" and the base64 SHA-1 of the seed, the two endpoints in
// a fixed order (smaller address, or port on a tie, first), the IP
// protocol and a zero pad byte (github.com/corelight/community-id-spec).
// Zeek, Suricata and other sensors compute the same string for the same
// flow, so EVE events join with their logs. "" for other protocols: ICMP
// needs the type and code, which flow metadata does not carry.
func CommunityID(meta *inspect.FlowMeta) string {
	var proto byte
	switch meta.Proto {
	case inspect.ProtoTCP:
		proto = 6
	case inspect.ProtoUDP:
		proto = 17
	default:
		return ""
	}
	a, b := meta.Src, meta.Dst
	if !a.Addr().IsValid() || !b.Addr().IsValid() {
		return ""
	}
	a = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	b = netip.AddrPortFrom(b.Addr().Unmap(), b.Port())
	if c := a.Addr().Compare(b.Addr()); c > 0 || c == 0 && a.Port() > b.Port() {
		a, b = b, a
	}
	buf := make([]byte, 0, 2+16+16+2+4)
	buf = append(buf, 0, 0) // seed
	buf = append(buf, a.Addr().AsSlice()...)
	buf = append(buf, b.Addr().AsSlice()...)
	buf = append(buf, proto, 0)
	buf = binary.BigEndian.AppendUint16(buf, a.Port())
	buf = binary.BigEndian.AppendUint16(buf, b.Port())
	sum := sha1.Sum(buf)
	return "1:" + base64.StdEncoding.EncodeToString(sum[:])
}

package netstack

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// ipv4 builds a valid IPv4 header (with checksum) followed by l4.
func mk4(src, dst string, proto uint8, l4 []byte) []byte {
	b := make([]byte, 20+len(l4))
	h := header.IPv4(b)
	h.Encode(&header.IPv4Fields{
		TotalLength: uint16(len(b)), TTL: 64, Protocol: proto,
		SrcAddr: addr(src), DstAddr: addr(dst),
	})
	h.SetChecksum(^h.CalculateChecksum())
	copy(b[20:], l4)
	return b
}

func mk6(src, dst string, proto uint8, l4 []byte) []byte {
	b := make([]byte, 40+len(l4))
	header.IPv6(b).Encode(&header.IPv6Fields{
		PayloadLength: uint16(len(l4)), TransportProtocol: header.TCPProtocolNumber, HopLimit: 64,
		SrcAddr: addr(src), DstAddr: addr(dst),
	})
	b[6] = proto
	copy(b[40:], l4)
	return b
}

func ports(s, d uint16) []byte {
	b := make([]byte, 20)
	binary.BigEndian.PutUint16(b, s)
	binary.BigEndian.PutUint16(b[2:], d)
	return b
}

func TestGuardParse(t *testing.T) {
	good4 := mk4("10.0.0.2", "10.99.0.1", 6, ports(1234, 80))
	good6 := mk6("fd00::2", "fd99::1", 17, ports(1234, 53))
	tests := []struct {
		name   string
		pkt    []byte
		ok     bool
		ports  bool
		icmpOK bool
	}{
		{"ipv4 tcp", good4, true, true, true},
		{"ipv6 udp", good6, true, true, true},
		{"empty", nil, false, false, true},
		{"bad version", append([]byte{0x50}, good4[1:]...), false, false, true},
		{"truncated ipv4 header", good4[:19], false, false, true},
		{"truncated ipv6 header", good6[:39], false, false, true},
		{"ipv4 without ports", good4[:22], true, false, true},
		{"ipv6 without ports", good6[:42], true, false, true},
		{"ihl below 5", func() []byte { b := clone(good4); b[0] = 0x44; return b }(), false, false, true},
		{"ihl beyond packet", func() []byte { b := clone(good4); b[0] = 0x4f; return b[:24] }(), false, false, true},
		{"total length below ihl", func() []byte {
			b := clone(good4)
			binary.BigEndian.PutUint16(b[2:], 10)
			fixsum(b)
			return b
		}(), false, false, true},
		{"total length beyond packet hides ports", func() []byte {
			b := clone(good4)
			binary.BigEndian.PutUint16(b[2:], 22)
			fixsum(b)
			return b
		}(), true, false, true},
		{"bad ipv4 checksum", func() []byte { b := clone(good4); b[10] ^= 0xff; return b }(), false, false, true},
		{"ipv6 payload length too short for ports", func() []byte {
			b := clone(good6)
			binary.BigEndian.PutUint16(b[4:], 2)
			return b
		}(), true, false, true},
		{"icmp echo", mk4("10.0.0.2", "10.99.0.1", 1, []byte{8, 0, 0, 0}), true, false, true},
		{"icmp redirect", mk4("10.0.0.2", "10.99.0.1", 1, []byte{5, 0, 0, 0}), true, false, false},
		{"icmpv6 echo", mk6("fd00::2", "fd99::1", 58, []byte{128, 0}), true, false, true},
		{"icmpv6 unreachable", mk6("fd00::2", "fd99::1", 58, []byte{1, 4}), true, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p parsed
			ok := parsePacket(tc.pkt, &p)
			require.Equal(t, tc.ok, ok)
			if ok {
				assert.Equal(t, tc.ports, p.hasPorts)
				assert.Equal(t, !tc.icmpOK, p.icmpOther)
			}
		})
	}
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

func fixsum(b []byte) {
	h := header.IPv4(b)
	h.SetChecksum(0)
	h.SetChecksum(^h.CalculateChecksum())
}

func FuzzGuardParse(f *testing.F) {
	f.Add(mk4("10.0.0.2", "10.99.0.1", 6, ports(1234, 80)))
	f.Add(mk6("fd00::2", "fd99::1", 17, ports(1234, 53)))
	f.Add(mk4("10.0.0.2", "10.99.0.1", 1, []byte{3, 3}))
	f.Add([]byte{0x45})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p parsed
		if len(b) > maxParse {
			b = b[:maxParse]
		}
		if parsePacket(b, &p) {
			// A parsed packet has addresses of its version.
			if p.src.Is4() != (b[0]>>4 == 4) {
				t.Fatalf("version %d parsed as %v", b[0]>>4, p.src)
			}
		}
		var q parsed
		parseHeaders(b, b, &q)
	})
}

func TestGuardTables(t *testing.T) {
	g := NewGuard(nil, 4)
	now := time.Now()
	src := netip.MustParseAddr("10.1.2.3")
	pk := func(src netip.Addr, sport uint16) *parsed {
		return &parsed{src: src, dst: netip.MustParseAddr("10.99.0.1"), proto: 6, sport: sport, dport: 80, hasPorts: true}
	}
	assert.Equal(t, -1, g.check(pk(src, 1), false), "empty guard passes")

	require.NoError(t, g.Block(netip.MustParsePrefix("10.1.0.0/16"), now.Add(time.Hour)))
	assert.Equal(t, reasonBlocked, g.check(pk(src, 1), false))
	assert.Equal(t, -1, g.check(pk(netip.MustParseAddr("10.2.0.1"), 1), false))
	assert.Equal(t, -1, g.check(pk(src, 1), true), "blocks apply inbound only")
	assert.True(t, g.Unblock(netip.MustParsePrefix("10.1.0.0/16")))
	assert.Equal(t, -1, g.check(pk(src, 1), false))

	require.NoError(t, g.Block(netip.MustParsePrefix("10.1.2.3/32"), now.Add(-time.Second)))
	assert.Equal(t, -1, g.check(pk(src, 1), false), "expired block passes")
	assert.Equal(t, 1, g.Sweep(now))

	ft := FiveTuple{Proto: TCP, Src: netip.AddrPortFrom(src, 1), Dst: netip.MustParseAddrPort("10.99.0.1:80")}
	require.NoError(t, g.Blackhole(ft, now.Add(time.Hour)))
	assert.Equal(t, reasonBlackholed, g.check(pk(src, 1), false))
	assert.Equal(t, -1, g.check(pk(src, 2), false), "other flows of the source pass")
	out := &parsed{src: ft.Dst.Addr(), dst: src, proto: 6, sport: 80, dport: 1, hasPorts: true}
	assert.Equal(t, reasonBlackholedOut, g.check(out, true))

	for i := range 3 {
		require.NoError(t, g.Blackhole(FiveTuple{Proto: UDP, Src: netip.AddrPortFrom(src, uint16(100+i)), Dst: ft.Dst}, now.Add(time.Hour)))
	}
	assert.ErrorIs(t, g.Blackhole(FiveTuple{Proto: UDP, Src: netip.AddrPortFrom(src, 999), Dst: ft.Dst}, now.Add(time.Hour)), ErrGuardFull)
}

func BenchmarkGuardCheck(b *testing.B) {
	g := NewGuard(nil, 1<<20)
	now := time.Now()
	for i := range 100000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		_ = g.Blackhole(FiveTuple{Proto: TCP, Src: netip.AddrPortFrom(a, 1), Dst: netip.MustParseAddrPort("10.99.0.1:80")}, now.Add(time.Hour))
		_ = g.Block(netip.PrefixFrom(a, 32-i%8), now.Add(time.Hour))
	}
	pkt := mk4("192.168.0.1", "10.99.0.1", 6, ports(1234, 80))
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		var p parsed
		parsePacket(pkt, &p)
		g.check(&p, false)
	}
}

func addr(s string) tcpip.Address {
	return tcpip.AddrFromSlice(netip.MustParseAddr(s).AsSlice())
}

func TestGuardParseSYN(t *testing.T) {
	withFlags := func(f header.TCPFlags) []byte {
		l4 := ports(1234, 80)
		l4[13] = uint8(f)
		return l4
	}
	tests := []struct {
		name string
		pkt  []byte
		syn  bool
	}{
		{"ipv4 syn", mk4("10.0.0.2", "10.99.0.1", 6, withFlags(header.TCPFlagSyn)), true},
		{"ipv6 syn", mk6("fd00::2", "fd99::1", 6, withFlags(header.TCPFlagSyn)), true},
		{"syn-ack", mk4("10.0.0.2", "10.99.0.1", 6, withFlags(header.TCPFlagSyn|header.TCPFlagAck)), false},
		{"ack", mk4("10.0.0.2", "10.99.0.1", 6, withFlags(header.TCPFlagAck)), false},
		{"udp with the flag bit", mk4("10.0.0.2", "10.99.0.1", 17, withFlags(header.TCPFlagSyn)), false},
		{"tcp header cut before flags", mk4("10.0.0.2", "10.99.0.1", 6, withFlags(header.TCPFlagSyn)[:13]), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p parsed
			require.True(t, parsePacket(tc.pkt, &p))
			assert.Equal(t, tc.syn, p.syn)
		})
	}
}

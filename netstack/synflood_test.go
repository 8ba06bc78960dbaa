package netstack

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"github.com/interdict/interdict/tests/craft"
	"github.com/interdict/interdict/tunnel/pipe"
)

// spoofedSYNs returns n SYNs to dst from sources spread over 10.200.0.0/16.
func spoofedSYNs(n int, dst string) [][]byte { return spoofedSYNsFrom(0, n, dst) }

// spoofedSYNsFrom returns the SYNs first..first+n-1 of a series whose
// 4-tuples repeat only after about 10^9 SYNs, as a flood from random sources
// would: none of them passes for the retransmission of another.
func spoofedSYNsFrom(first, n int, dst string) [][]byte {
	out := make([][]byte, n)
	for j := range out {
		i := first + j
		src := netip.AddrFrom4([4]byte{10, 200, byte(i >> 8), byte(i)})
		out[j] = craft.Packet{
			Src: netip.AddrPortFrom(src, uint16(1024+i%60000)), Dst: netip.MustParseAddrPort(dst),
			Proto: header.TCPProtocolNumber, Seq: uint32(i) * 7919,
		}.Whole()
	}
	return out
}

// spoofedNet holds the sources of spoofedSYNs.
var spoofedNet = netip.MustParsePrefix("10.200.0.0/16")

// TestSYNFloodValidatesFirst floods the stack with spoofed SYNs: past
// SYNPressure handshakes in flight it stops dialling upstream for them
// and answers with SYN cookies; 20 real clients still complete their
// exchanges byte for byte; the spoofed SYNs cost at most SYNPressure
// upstream dials; once the flood ends the stack dials first again.
func TestSYNFloodValidatesFirst(t *testing.T) {
	const pressure = 8
	d := &countingDialer{tcp: echoOnceServer(t)}
	var (
		mu      sync.Mutex
		changes []SYNModeChange
	)
	applianceLink, clientLink := pipe.New(0)
	// The cookie rate is one a -race build on a loaded 2-core machine
	// answers with room to spare (the default, 20,000 a second, is a third
	// of a core in a normal build). Past what the stack answers, the SYNs
	// the guard admits pile up in the cookie listener's segment queue and
	// the real clients' ACKs and data are dropped with them; the client's
	// first retransmission then comes after 3 RTTs, seconds under that
	// load: the exchanges failed with i/o timeouts, 19 runs in 20, with
	// no SYN ever refused for the rate.
	s, err := New(WithLink(applianceLink), WithDialer(d),
		WithLimits(Limits{SYNPressure: pressure, HandshakeTimeout: time.Second, SYNCookieRate: 400}),
		WithSYNModeHook(func(c SYNModeChange) { mu.Lock(); changes = append(changes, c); mu.Unlock() }))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	clientAddr := tcpip.AddrFrom4([4]byte{10, 9, 0, 2})
	cs := clientStack(t, clientLink, clientAddr)
	dst := tcpip.FullAddress{Addr: tcpip.AddrFrom4([4]byte{10, 9, 0, 1}), Port: 80}

	require.Equal(t, DialFirst, s.SYNMode())
	// A flow to the flooded port, open across the switch: the cookie
	// listener must bind beside its client leg and leave it alone.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	live, err := gonet.DialTCPWithBind(ctx, cs, tcpip.FullAddress{NIC: 1, Addr: clientAddr, Port: 40999}, dst, ipv4.ProtocolNumber)
	require.NoError(t, err)
	defer live.Close()
	flood := spoofedSYNs(1000, "10.9.0.1:80")
	inject(clientLink, flood)
	// The forwarder decides in goroutines of its own.
	require.Eventually(t, func() bool { return s.SYNMode() == ValidateFirst }, 5*time.Second, 10*time.Millisecond,
		"spoofed SYNs past the threshold switch the mode")

	stopFlood := make(chan struct{})
	floodDone := make(chan struct{})
	go func() {
		defer close(floodDone)
		// New 4-tuples throughout (5,000 SYNs a second at most, far past
		// the cookie rate): a flood that repeats its SYNs takes the
		// retransmissions' budget too.
		for i := len(flood); ; i += 50 {
			select {
			case <-stopFlood:
				return
			default:
			}
			inject(clientLink, spoofedSYNsFrom(i, 50, "10.9.0.1:80"))
			time.Sleep(10 * time.Millisecond)
		}
	}()
	for i := range 20 {
		exchange(t, cs, tcpip.FullAddress{NIC: 1, Addr: clientAddr, Port: uint16(41000 + i)}, dst)
	}
	close(stopFlood)
	<-floodDone
	require.NoError(t, live.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = live.Write([]byte{'L'})
	require.NoError(t, err)
	b := make([]byte, 1)
	_, err = io.ReadFull(live, b)
	require.NoError(t, err, "the flow opened before the flood still relays")
	assert.Equal(t, "L", string(b))
	// Counted by source: the dials for the real client are not exactly
	// 21 (1 live flow, 20 exchanges), since an ACK of a closed exchange
	// that arrives late still carries a valid cookie.
	assert.LessOrEqual(t, d.dialsFrom(spoofedNet), pressure-1, "spoofed SYNs dialled upstream")
	assert.Positive(t, s.gs.Stats().TCP.ListenOverflowSynCookieRcvd.Value(), "the real clients came through SYN cookies")

	require.Eventually(t, func() bool { return s.SYNMode() == DialFirst }, 10*time.Second, 50*time.Millisecond,
		"the stack dials first again once the flood is over")
	exchange(t, cs, tcpip.FullAddress{NIC: 1, Addr: clientAddr, Port: 42000}, dst)

	// SYNMode changes before the hook runs.
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(changes) == 2 }, 5*time.Second, 10*time.Millisecond,
		"the hook saw both switches")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, ValidateFirst, changes[0].Mode)
	assert.Contains(t, changes[0].Reason, "handshakes in flight")
	assert.Equal(t, DialFirst, changes[1].Mode)
	assert.Equal(t, 1.0, testutil.ToFloat64(s.m.synModeChanges.WithLabelValues("validate_first")))
	assert.Equal(t, 1.0, testutil.ToFloat64(s.m.synModeChanges.WithLabelValues("dial_first")))
	assert.Equal(t, 0.0, testutil.ToFloat64(s.m.synMode))
}

func synFrom(src string, sport uint16) *parsed {
	return &parsed{src: netip.MustParseAddr(src), dst: netip.MustParseAddr("10.9.0.1"), sport: sport, dport: 80, syn: true}
}

func TestRecentSYNs(t *testing.T) {
	r := newRecentSYNs()
	now := time.Unix(1_000_000, 0)
	a, b := synFrom("10.200.0.1", 1000), synFrom("10.200.0.2", 1000)
	assert.False(t, r.retransmission(a, now), "a first SYN")
	assert.False(t, r.retransmission(a, now.Add(100*time.Millisecond)), "an immediate repeat is no retransmission")
	assert.False(t, r.retransmission(b, now.Add(time.Second)), "another 4-tuple")
	assert.True(t, r.retransmission(a, now.Add(time.Second)), "the SYN again after the client's 1 s timer")
	assert.False(t, r.retransmission(a, now.Add(1100*time.Millisecond)), "counted once")
	assert.False(t, r.retransmission(b, now.Add(time.Second+synRetransWindow+time.Second)), "too old to be a retransmission")
}

// cookieRateStack is a stack on an unconnected pipe, for admitSYN.
func cookieRateStack(t *testing.T, rate int) *Stack {
	applianceLink, _ := pipe.New(0)
	s, err := New(WithLink(applianceLink), WithLimits(Limits{SYNCookieRate: rate}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestAdmitSYNRetransmissions: past SYNCookieRate first SYNs are dropped
// by the guard, but a client's retransmission of a dropped SYN gets in.
func TestAdmitSYNRetransmissions(t *testing.T) {
	s := cookieRateStack(t, 2)
	now := time.Now()
	admitted := 0
	for i := range 100 {
		if s.admitSYN(synFrom("10.200.0.1", uint16(2000+i)), now) {
			admitted++
		}
	}
	assert.Equal(t, 1, admitted, "first SYNs within the bucket's burst")
	assert.True(t, s.admitSYN(synFrom("10.200.0.1", 2050), now.Add(time.Second)), "a retransmitted SYN")
	assert.False(t, s.admitSYN(synFrom("10.200.0.1", 2051), now.Add(time.Second+time.Millisecond)),
		"the retransmission bucket is bounded too")
	assert.Equal(t, 100.0, testutil.ToFloat64(s.m.synCookieRate))
}

// recorder is a link's dispatcher that keeps the packets it receives.
type recorder struct{ pkts chan []byte }

func (r recorder) DeliverNetworkPacket(_ tcpip.NetworkProtocolNumber, pkt *stack.PacketBuffer) {
	select {
	case r.pkts <- pkt.Data().AsRange().ToSlice():
	default:
	}
}

func (recorder) DeliverLinkPacket(tcpip.NetworkProtocolNumber, *stack.PacketBuffer) {}

// TestSYNCookiesIPv6 completes an IPv6 handshake by hand against the
// cookie listener: the SYN-ACK's sequence number is the cookie, and the
// ACK that returns it is dialled upstream; an ACK with a wrong cookie is
// not.
func TestSYNCookiesIPv6(t *testing.T) {
	d := &countingDialer{tcp: echoOnceServer(t)}
	applianceLink, clientLink := pipe.New(0)
	rec := recorder{pkts: make(chan []byte, 4096)}
	clientLink.Attach(rec)
	s, err := New(WithLink(applianceLink), WithDialer(d), WithLimits(Limits{SYNPressure: 4, HandshakeTimeout: time.Second}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })

	var flood [][]byte
	for i := range 50 {
		flood = append(flood, craft.Packet{
			Src: netip.AddrPortFrom(netip.AddrFrom16([16]byte{0xfd, 0, 0, 0x66, 15: byte(i)}), uint16(3000+i)),
			Dst: netip.MustParseAddrPort("[fd00::1]:443"), Proto: header.TCPProtocolNumber, Seq: 1,
		}.Whole())
	}
	inject(clientLink, flood)
	require.Eventually(t, func() bool { return s.SYNMode() == ValidateFirst }, 5*time.Second, 10*time.Millisecond)
	// Forwarder goroutines admitted before the switch may still dial;
	// once no handshake is in flight, none can.
	require.Eventually(t, func() bool { s.syn.mu.Lock(); defer s.syn.mu.Unlock(); return s.syn.inFlight == 0 },
		5*time.Second, 10*time.Millisecond)
	spoofDials := d.n.Load()
	assert.Less(t, spoofDials, int32(4), "spoofed SYNs dialled before the switch")

	client := netip.MustParseAddrPort("[fd00::2]:5000")
	server := netip.MustParseAddrPort("[fd00::1]:443")
	for len(rec.pkts) > 0 {
		<-rec.pkts
	}
	inject(clientLink, [][]byte{craft.Packet{Src: client, Dst: server, Proto: header.TCPProtocolNumber, Seq: 1000}.Whole()})
	var synack header.TCP
	require.Eventually(t, func() bool {
		for {
			select {
			case b := <-rec.pkts:
				ip := header.IPv6(b)
				if p, ok := ip.TryParseTransportProtocol(); !ok || p != header.TCPProtocolNumber {
					continue
				}
				tcp := header.TCP(ip.Payload())
				if tcp.DestinationPort() == client.Port() && tcp.Flags() == header.TCPFlagSyn|header.TCPFlagAck {
					synack = tcp
					return true
				}
			default:
				return false
			}
		}
	}, 5*time.Second, 10*time.Millisecond, "the SYN is answered with a SYN-ACK")
	require.Equal(t, uint32(1001), synack.AckNumber())

	ack := func(n uint32) []byte {
		return craft.Packet{Src: client, Dst: server, Proto: header.TCPProtocolNumber, Seq: 1001, Ack: n,
			Flags: header.TCPFlagAck}.Whole()
	}
	// Not +2: the low bits of a gVisor cookie carry the MSS index.
	inject(clientLink, [][]byte{ack((synack.SequenceNumber() + 1) ^ 0x5a5a0000)})
	time.Sleep(100 * time.Millisecond)
	assert.Equal(t, spoofDials, d.n.Load(), "an ACK with a wrong cookie is not dialled")
	inject(clientLink, [][]byte{ack(synack.SequenceNumber() + 1)})
	require.Eventually(t, func() bool { return d.n.Load() == spoofDials+1 }, 5*time.Second, 10*time.Millisecond,
		"the client that returned the cookie is dialled upstream")
	assert.Positive(t, s.gs.Stats().TCP.ListenOverflowSynCookieRcvd.Value())
}

// TestAdmitSYNKnownSources: a source that completed a handshake keeps
// getting its SYNs through while first SYNs from unknown sources are
// over the rate, and a known source is forgotten after knownSourceTTL.
func TestAdmitSYNKnownSources(t *testing.T) {
	s := cookieRateStack(t, 400)
	now := time.Now()
	s.syn.known.add(netip.MustParseAddr("10.9.0.2"), now)
	flood := 0
	for i := range 1000 {
		if s.admitSYN(synFrom(fmt.Sprintf("10.200.%d.%d", i>>8, i&0xff), 3000), now) {
			flood++
		}
	}
	assert.Equal(t, 10, flood, "first SYNs from unknown sources: the first-SYN bucket's burst")
	known := 0
	for i := range 20 {
		if s.admitSYN(synFrom("10.9.0.2", uint16(4000+i)), now) {
			known++
		}
	}
	assert.Equal(t, 20, known, "SYNs from the known source")
	assert.False(t, s.admitSYN(synFrom("10.9.0.3", 4000), now), "a neighbour of the known source is not known")

	later := now.Add(knownSourceTTL + time.Second)
	assert.False(t, s.syn.known.known(netip.MustParseAddr("10.9.0.2"), later), "forgotten after the TTL")
	assert.True(t, s.syn.known.known(netip.MustParseAddr("10.9.0.2"), now.Add(knownSourceTTL-time.Second)))
}

// filterLink is a link that accepts an inbound filter, as tunnel/tun's
// Device does; the test calls the filter as the device's reader would.
type filterLink struct {
	*pipe.Endpoint
	filter func([]byte) bool
}

func (l *filterLink) SetInboundFilter(f func([]byte) bool) { l.filter = f }

// TestSYNFilterAtLink: on a link that takes an inbound filter, SYNs over
// the cookie rate are refused there, before a packet buffer exists;
// other packets pass; and a SYN the filter let through is not charged
// again when the guard sees it.
func TestSYNFilterAtLink(t *testing.T) {
	applianceLink, clientLink := pipe.New(0)
	link := &filterLink{Endpoint: applianceLink}
	s, err := New(WithLink(link), WithLimits(Limits{SYNCookieRate: 40}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.NotNil(t, link.filter, "the stack installs its SYN filter on the link")

	flood := spoofedSYNs(50, "10.9.0.1:80")
	for _, b := range flood {
		assert.True(t, link.filter(b), "dialling first, every SYN passes")
	}
	s.enterValidateFirst("test")
	passed := 0
	for _, b := range flood {
		if link.filter(b) {
			passed++
		}
	}
	assert.Equal(t, 1, passed, "first SYNs past the bucket's burst are refused at the link")
	refused := testutil.ToFloat64(s.m.synCookieRate)
	assert.Equal(t, 49.0, refused)
	ack := craft.Packet{Src: netip.MustParseAddrPort("10.200.0.1:1024"), Dst: netip.MustParseAddrPort("10.9.0.1:80"),
		Proto: header.TCPProtocolNumber, Seq: 1, Ack: 1, Flags: header.TCPFlagAck}.Whole()
	assert.True(t, link.filter(ack), "not a SYN")

	assert.Equal(t, refused, testutil.ToFloat64(s.m.packets.WithLabelValues("in")),
		"SYNs refused at the link are counted as inbound packets")

	// The guard sees the SYNs (as if the filter had passed them) and
	// does not decide about them a second time.
	inject(clientLink, flood)
	assert.Equal(t, refused, testutil.ToFloat64(s.m.synCookieRate))
}

// TestMaybeSYN: the filter's first look finds every SYN the parser
// finds in IPv4 and IPv6 and never panics on short input.
func TestMaybeSYN(t *testing.T) {
	for _, c := range []struct {
		src, dst string
		flags    header.TCPFlags
		want     bool
	}{
		{"10.0.0.2:1000", "10.0.0.1:80", header.TCPFlagSyn, true},
		{"10.0.0.2:1000", "10.0.0.1:80", header.TCPFlagSyn | header.TCPFlagAck, false},
		{"10.0.0.2:1000", "10.0.0.1:80", header.TCPFlagAck, false},
		{"[fd00::2]:1000", "[fd00::1]:80", header.TCPFlagSyn, true},
		{"[fd00::2]:1000", "[fd00::1]:80", header.TCPFlagAck | header.TCPFlagPsh, false},
	} {
		b := craft.Packet{Src: netip.MustParseAddrPort(c.src), Dst: netip.MustParseAddrPort(c.dst),
			Proto: header.TCPProtocolNumber, Seq: 1, Flags: c.flags}.Whole()
		var p parsed
		require.True(t, parsePacket(b[:min(len(b), maxParse)], &p))
		assert.Equal(t, c.want, maybeSYN(b), "%s %v", c.src, c.flags)
		assert.Equal(t, p.syn, maybeSYN(b), "agrees with the parser")
		for i := range b {
			_ = maybeSYN(b[:i])
		}
	}
}

// TestValidateAlways: with Limits.ValidateAlways no SYN is dialled
// upstream before its client completed the handshake, so spoofed SYNs
// cost the server nothing even below SYNPressure; a real client still
// exchanges its bytes, and a refused upstream resets the connected
// client where dial-first refuses its connect.
func TestValidateAlways(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := closed.Addr().String()
	require.NoError(t, closed.Close())

	for _, tc := range []struct {
		name   string
		always bool
	}{{"always", true}, {"dial-first", false}} {
		t.Run(tc.name, func(t *testing.T) {
			d := &countingDialer{tcp: echoOnceServer(t)}
			applianceLink, clientLink := pipe.New(0)
			s, err := New(WithLink(applianceLink), WithDialer(d),
				WithLimits(Limits{ValidateAlways: tc.always, SYNPressure: 1000, MaxSYNPerPrefix: 1000, HandshakeTimeout: time.Second}))
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			clientAddr := tcpip.AddrFrom4([4]byte{10, 9, 0, 2})
			cs := clientStack(t, clientLink, clientAddr)
			dst := tcpip.FullAddress{Addr: tcpip.AddrFrom4([4]byte{10, 9, 0, 1}), Port: 80}

			const spoofed = 200
			inject(clientLink, spoofedSYNs(spoofed, "10.9.0.1:80"))
			exchange(t, cs, tcpip.FullAddress{NIC: 1, Addr: clientAddr, Port: 41000}, dst)
			// Every spoofed SYN is answered and its handshake never
			// completes: each ends as a failed handshake at HandshakeTimeout.
			require.Eventually(t, func() bool {
				return testutil.ToFloat64(s.m.flowsTotal.WithLabelValues("tcp", "handshake_failed")) == spoofed
			}, 20*time.Second, 20*time.Millisecond, "the spoofed handshakes end at HandshakeTimeout")
			if tc.always {
				assert.Zero(t, d.dialsFrom(spoofedNet), "spoofed SYNs dialled upstream")
			} else {
				assert.Equal(t, spoofed, d.dialsFrom(spoofedNet), "dial-first dials every spoofed SYN below SYNPressure")
			}
			assert.Equal(t, DialFirst, s.SYNMode(), "no pressure, no cookies")

			// A refused upstream.
			d.mu.Lock()
			d.tcp = refused
			d.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := gonet.DialTCPWithBind(ctx, cs, tcpip.FullAddress{NIC: 1, Addr: clientAddr, Port: 41001}, dst, ipv4.ProtocolNumber)
			if !tc.always {
				require.Error(t, err, "dial-first mirrors the refusal to the connect")
				assert.Contains(t, err.Error(), "connection was refused")
				return
			}
			require.NoError(t, err, "the handshake completes before the dial")
			defer c.Close()
			require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
			_, err = c.Read(make([]byte, 1))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "connection reset by peer", "the refusal resets the connected client")
		})
	}
}

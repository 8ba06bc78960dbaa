package netstack

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"github.com/interdict/interdict/tests/craft"
	"github.com/interdict/interdict/tunnel/pipe"
)

func udpPacket(src, dst string, size int, bad bool) craft.Packet {
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	return craft.Packet{
		Src: netip.MustParseAddrPort(src), Dst: netip.MustParseAddrPort(dst),
		Proto: header.UDPProtocolNumber, Payload: payload, BadChecksum: bad, ID: 0x1234,
	}
}

// feed adds fragments in the given order and returns the last outcome.
func feed(t *testing.T, r *reassembler, frags [][]byte, now time.Time) ([]byte, int) {
	t.Helper()
	var (
		out []byte
		res = fragHeld
	)
	for i, b := range frags {
		f, frag, ok := parseFragment(b)
		require.True(t, frag && ok, "fragment %d parses", i)
		out, res = r.add(&f, now)
		if i < len(frags)-1 {
			require.Equal(t, fragHeld, res, "fragment %d of %d is held", i, len(frags))
		}
	}
	return out, res
}

func TestReassembly(t *testing.T) {
	now := time.Unix(1000, 0)
	for _, fam := range []struct{ name, src, dst string }{
		{"ipv4", "10.9.0.2:5000", "10.9.0.1:53"},
		{"ipv6", "[fd00::2]:5000", "[fd00::1]:53"},
	} {
		t.Run(fam.name, func(t *testing.T) {
			good := udpPacket(fam.src, fam.dst, 3000, false)
			reversed := func(f [][]byte) [][]byte {
				out := make([][]byte, len(f))
				for i := range f {
					out[len(f)-1-i] = f[i]
				}
				return out
			}
			t.Run("in order equals the unfragmented packet", func(t *testing.T) {
				out, res := feed(t, newReassembler(), good.Fragments(1000), now)
				require.Equal(t, fragDone, res)
				assert.Equal(t, good.Whole(), out)
			})
			t.Run("out of order", func(t *testing.T) {
				out, res := feed(t, newReassembler(), reversed(good.Fragments(1000)), now)
				require.Equal(t, fragDone, res)
				assert.Equal(t, good.Whole(), out)
			})
			t.Run("exact duplicate is ignored", func(t *testing.T) {
				f := good.Fragments(1000)
				out, res := feed(t, newReassembler(), [][]byte{f[0], f[1], f[1], f[2], f[3]}, now)
				require.Equal(t, fragDone, res)
				assert.Equal(t, good.Whole(), out)
			})
			t.Run("wrong transport checksum is dropped", func(t *testing.T) {
				r := newReassembler()
				_, res := feed(t, r, udpPacket(fam.src, fam.dst, 3000, true).Fragments(1000), now)
				assert.Equal(t, reasonFragChecksum, res)
				assert.Empty(t, r.m)
				assert.Zero(t, r.bytes)
			})
			t.Run("overlap with other bytes drops the datagram", func(t *testing.T) {
				other := udpPacket(fam.src, fam.dst, 3000, false)
				other.Payload = bytes.Repeat([]byte{'A'}, 3000)
				f, g := good.Fragments(1000), other.Fragments(1000)
				r := newReassembler()
				_, res := feed(t, r, [][]byte{f[0], f[1]}, now)
				require.Equal(t, fragHeld, res)
				_, res = feed(t, r, [][]byte{g[1]}, now)
				assert.Equal(t, reasonFragInvalid, res)
				assert.Empty(t, r.m)
				assert.Zero(t, r.bytes)
			})
			t.Run("incomplete datagram expires", func(t *testing.T) {
				r := newReassembler()
				f := good.Fragments(1000)
				_, res := feed(t, r, f[:2], now)
				require.Equal(t, fragHeld, res)
				assert.Zero(t, r.expire(now.Add(fragTimeout-time.Second)))
				assert.Equal(t, 2, r.expire(now.Add(fragTimeout)))
				assert.Empty(t, r.m)
				assert.Zero(t, r.bytes)
			})
		})
	}
	t.Run("bounded", func(t *testing.T) {
		r := newReassembler()
		for i := 0; i < fragMaxDatagrams; i++ {
			p := udpPacket("10.9.0.2:5000", "10.9.0.1:53", 3000, false)
			p.ID = uint32(i)
			_, res := feed(t, r, p.Fragments(1000)[:1], now)
			require.Equal(t, fragHeld, res)
		}
		p := udpPacket("10.9.0.2:5000", "10.9.0.1:53", 3000, false)
		p.ID = fragMaxDatagrams
		_, res := feed(t, r, p.Fragments(1000)[:1], now)
		assert.Equal(t, reasonFragLimit, res)
		assert.LessOrEqual(t, r.bytes, fragMaxBytes)
	})
	t.Run("not a multiple of 8 before the last", func(t *testing.T) {
		f := udpPacket("10.9.0.2:5000", "10.9.0.1:53", 3000, false).Fragments(1000)
		b := f[0][:len(f[0])-3]
		header.IPv4(b).SetTotalLength(uint16(len(b)))
		_, frag, ok := parseFragment(b)
		assert.True(t, frag)
		assert.False(t, ok)
	})
}

// udpRecorder is an upstream UDP server that records every datagram.
type udpRecorder struct {
	c   net.PacketConn
	got chan []byte
}

func newUDPRecorder(t *testing.T) *udpRecorder {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	r := &udpRecorder{c: c, got: make(chan []byte, 16)}
	go func() {
		for {
			b := make([]byte, 65536)
			n, _, err := c.ReadFrom(b)
			if err != nil {
				return
			}
			r.got <- b[:n]
		}
	}()
	return r
}

// countingDialer dials a fixed host address and counts the dials, in
// all and by source address.
type countingDialer struct {
	udp, tcp string
	n        atomic.Int32
	mu       sync.Mutex
	srcs     []netip.Addr
}

func (d *countingDialer) Dial(ctx context.Context, network string, src, _ netip.AddrPort) (net.Conn, error) {
	d.n.Add(1)
	d.mu.Lock()
	d.srcs = append(d.srcs, src.Addr())
	d.mu.Unlock()
	d.mu.Lock()
	addr := d.tcp
	if network == "udp" {
		addr = d.udp
	}
	d.mu.Unlock()
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

// dialsFrom counts the dials for sources in p.
func (d *countingDialer) dialsFrom(p netip.Prefix) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, a := range d.srcs {
		if p.Contains(a) {
			n++
		}
	}
	return n
}

func inject(link *pipe.Endpoint, pkts [][]byte) {
	for _, b := range pkts {
		var l stack.PacketBufferList
		l.PushBack(stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(b)}))
		_, _ = link.WritePackets(l)
		l.DecRef()
	}
}

// TestFragmentChecksumThroughStack sends fragmented UDP datagrams and
// TCP SYNs into the stack: the ones with a wrong transport checksum
// reach nothing upstream (no datagram, no dial) and are counted; the
// good ones arrive byte for byte.
func TestFragmentChecksumThroughStack(t *testing.T) {
	rec := newUDPRecorder(t)
	d := &countingDialer{udp: rec.c.LocalAddr().String(), tcp: echoOnceServer(t)}
	applianceLink, clientLink := pipe.New(0)
	reg := prometheus.NewRegistry()
	s, err := New(WithLink(applianceLink), WithDialer(d), WithMetrics(reg))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })

	for _, fam := range []struct{ name, src, dst string }{
		{"ipv4", "10.9.0.2:5000", "10.9.0.1:53"},
		{"ipv6", "[fd00::2]:5000", "[fd00::1]:53"},
	} {
		t.Run(fam.name+"/udp", func(t *testing.T) {
			before := d.n.Load()
			bad := udpPacket(fam.src, fam.dst, 3000, true)
			inject(clientLink, bad.Fragments(1200))
			good := udpPacket(fam.src, fam.dst, 3000, false)
			good.ID++
			inject(clientLink, good.Fragments(1200))
			select {
			case b := <-rec.got:
				assert.Equal(t, good.Payload, b, "the good datagram, byte for byte")
			case <-time.After(5 * time.Second):
				t.Fatal("the good fragmented datagram never arrived")
			}
			select {
			case b := <-rec.got:
				t.Fatalf("a second datagram arrived (%d bytes): the corrupted one was relayed", len(b))
			case <-time.After(200 * time.Millisecond):
			}
			assert.Equal(t, before+1, d.n.Load(), "one upstream session")
		})
		t.Run(fam.name+"/tcp-syn", func(t *testing.T) {
			src, dst := netip.MustParseAddrPort(fam.src), netip.MustParseAddrPort(fam.dst)
			syn := func(port uint16, bad bool) craft.Packet {
				return craft.Packet{Src: netip.AddrPortFrom(src.Addr(), port), Dst: netip.AddrPortFrom(dst.Addr(), 80),
					Proto: header.TCPProtocolNumber, Seq: 1000, Payload: make([]byte, 1500), BadChecksum: bad, ID: uint32(port)}
			}
			before := d.n.Load()
			inject(clientLink, syn(6001, true).Fragments(1000))
			time.Sleep(100 * time.Millisecond)
			assert.Equal(t, before, d.n.Load(), "no upstream dial for a corrupted SYN")
			inject(clientLink, syn(6002, false).Fragments(1000))
			require.Eventually(t, func() bool { return d.n.Load() == before+1 }, 5*time.Second, 10*time.Millisecond,
				"a good fragmented SYN is dialled")
		})
	}
	assert.Equal(t, 4.0, testutil.ToFloat64(s.m.guardDrops.WithLabelValues(DropFragmentChecksum)), "corrupted datagrams counted")
	assert.EqualValues(t, 4, s.Guard().Drops()[DropFragmentChecksum])
}

package replay

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/eve"
)

// fakeEngine records what each flow was fed and fires rules on literal
// substrings of single chunks, enough to drive replay without the real
// detection engine.
type fakeEngine struct {
	// app is what its flows report as detected protocol.
	app   string
	mu    sync.Mutex
	rules []fakeRule
	flows []*fakeFlow
	// entropy, bits and ints are what its flows report as entropy
	// values, flowbits and flowints.
	entropy map[string]float64
	bits    []string
	ints    map[string]int64
}

type fakeRule struct {
	content string
	info    *inspect.RuleInfo
	noalert bool
	event   *inspect.Event // emitted with the alert
	vars    []inspect.Var  // the match's pcre captures
}

type call struct {
	dir  inspect.Direction
	data string
}

type fakeFlow struct {
	e      *fakeEngine
	meta   inspect.FlowMeta
	calls  []call
	closes int
}

func (e *fakeEngine) NewFlow(meta inspect.FlowMeta) inspect.FlowInspector {
	e.mu.Lock()
	defer e.mu.Unlock()
	f := &fakeFlow{e: e, meta: meta}
	e.flows = append(e.flows, f)
	return f
}

func (f *fakeFlow) Inspect(dir inspect.Direction, data []byte) inspect.Result {
	f.calls = append(f.calls, call{dir, string(data)})
	var res inspect.Result
	for _, r := range f.e.rules {
		if !strings.Contains(string(data), r.content) {
			continue
		}
		res.Alerts = append(res.Alerts, inspect.Alert{Rule: r.info, Dir: dir, NoAlert: r.noalert, Vars: r.vars})
		if r.info.Action.Stronger(res.Action) {
			res.Action = r.info.Action
		}
		res.Bypass = res.Bypass || r.info.Bypass
		if r.event != nil {
			res.Events = append(res.Events, *r.event)
		}
	}
	return res
}

func (f *fakeFlow) Close() inspect.Result { f.closes++; return inspect.Result{} }

// AppProto implements inspect.AppProtoReporter.
func (f *fakeFlow) AppProto() string { return f.e.app }

func (f *fakeFlow) Entropy() map[string]float64 { return f.e.entropy }

func (f *fakeFlow) FlowBits() []string { return f.e.bits }

func (f *fakeFlow) FlowInts() map[string]int64 { return f.e.ints }

// stream returns what a direction was fed, concatenated.
func (f *fakeFlow) stream(dir inspect.Direction) string {
	var b strings.Builder
	for _, c := range f.calls {
		if c.dir == dir {
			b.WriteString(c.data)
		}
	}
	return b.String()
}

// capture builds a pcap (or pcapng) in memory.
type capture struct {
	t    *testing.T
	lt   layers.LinkType
	ts   time.Time
	pkts [][]byte
	cis  []gopacket.CaptureInfo
}

func newCapture(t *testing.T, lt layers.LinkType) *capture {
	return &capture{t: t, lt: lt, ts: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
}

type tcpSeg struct {
	src, dst netip.AddrPort
	seq, ack uint32
	flags    string // any of S A F R P U
	data     string
	urgent   uint16 // the urgent pointer (with U)
}

func (c *capture) tcp(s tcpSeg) *capture {
	t := &layers.TCP{SrcPort: layers.TCPPort(s.src.Port()), DstPort: layers.TCPPort(s.dst.Port()), Seq: s.seq, Ack: s.ack, Window: 65535,
		SYN: strings.Contains(s.flags, "S"), ACK: strings.Contains(s.flags, "A"), FIN: strings.Contains(s.flags, "F"),
		RST: strings.Contains(s.flags, "R"), PSH: strings.Contains(s.flags, "P"), URG: strings.Contains(s.flags, "U"), Urgent: s.urgent}
	return c.add(s.src.Addr(), s.dst.Addr(), layers.IPProtocolTCP, t, []byte(s.data))
}

func (c *capture) udp(src, dst netip.AddrPort, data string) *capture {
	u := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
	return c.add(src.Addr(), dst.Addr(), layers.IPProtocolUDP, u, []byte(data))
}

func (c *capture) icmpEcho(src, dst netip.Addr, typ uint8, data string) *capture {
	ic := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, 0), Id: 7, Seq: 1}
	return c.add(src, dst, layers.IPProtocolICMPv4, ic, []byte(data))
}

type transport interface {
	gopacket.SerializableLayer
}

func (c *capture) add(src, dst netip.Addr, proto layers.IPProtocol, tl transport, payload []byte) *capture {
	c.t.Helper()
	var net gopacket.NetworkLayer
	var ls []gopacket.SerializableLayer
	if src.Is4() {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: net4(src), DstIP: net4(dst)}
		net = ip
		ls = append(ls, ip)
	} else {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		net = ip
		ls = append(ls, ip)
	}
	switch x := tl.(type) {
	case *layers.TCP:
		require.NoError(c.t, x.SetNetworkLayerForChecksum(net))
	case *layers.UDP:
		require.NoError(c.t, x.SetNetworkLayerForChecksum(net))
	}
	ls = append(ls, tl, gopacket.Payload(payload))
	switch c.lt {
	case layers.LinkTypeEthernet:
		et := layers.EthernetTypeIPv4
		if src.Is6() {
			et = layers.EthernetTypeIPv6
		}
		ls = append([]gopacket.SerializableLayer{&layers.Ethernet{SrcMAC: mac(1), DstMAC: mac(2), EthernetType: et}}, ls...)
	case layers.LinkTypeLinuxSLL:
		ls = append([]gopacket.SerializableLayer{sllHeader(src.Is6())}, ls...)
	case layers.LinkTypeLinuxSLL2, layers.LinkTypeNull, layers.LinkTypeLoop:
		ls = append([]gopacket.SerializableLayer{linkHeader{lt: c.lt, v6: src.Is6()}}, ls...)
	}
	buf := gopacket.NewSerializeBuffer()
	require.NoError(c.t, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...))
	data := append([]byte(nil), buf.Bytes()...)
	c.ts = c.ts.Add(time.Millisecond)
	c.pkts = append(c.pkts, data)
	c.cis = append(c.cis, gopacket.CaptureInfo{Timestamp: c.ts, CaptureLength: len(data), Length: len(data)})
	return c
}

func net4(a netip.Addr) net.IP { b := a.As4(); return net.IP(b[:]) }

func mac(n byte) net.HardwareAddr { return net.HardwareAddr{0x02, 0, 0, 0, 0, n} }

// sllHeader is a Linux cooked-capture header; gopacket can decode but
// not serialize LinuxSLL, so it is written by hand.
type sllHeader bool

func (h sllHeader) SerializeTo(b gopacket.SerializeBuffer, _ gopacket.SerializeOptions) error {
	p, err := b.PrependBytes(16)
	if err != nil {
		return err
	}
	copy(p, []byte{0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0})
	if h {
		p[14], p[15] = 0x86, 0xdd
	} else {
		p[14], p[15] = 0x08, 0x00
	}
	return nil
}

func (sllHeader) LayerType() gopacket.LayerType { return layers.LayerTypeLinuxSLL }

// linkHeader writes the link headers gopacket cannot serialize: Linux
// SLL2 (20 bytes, protocol first), BSD null (address family in host
// order, little-endian here) and loop (family in network order).
type linkHeader struct {
	lt layers.LinkType
	v6 bool
}

func (h linkHeader) SerializeTo(b gopacket.SerializeBuffer, _ gopacket.SerializeOptions) error {
	switch h.lt {
	case layers.LinkTypeLinuxSLL2:
		p, err := b.PrependBytes(20)
		if err != nil {
			return err
		}
		copy(p, []byte{0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0})
		if h.v6 {
			p[0], p[1] = 0x86, 0xdd
		}
	default:
		p, err := b.PrependBytes(4)
		if err != nil {
			return err
		}
		fam := uint32(2) // AF_INET
		if h.v6 {
			fam = 24 // AF_INET6 as NetBSD/OpenBSD number it; gopacket accepts 24, 28 and 30
		}
		if h.lt == layers.LinkTypeNull {
			binary.LittleEndian.PutUint32(p, fam)
		} else {
			binary.BigEndian.PutUint32(p, fam)
		}
	}
	return nil
}

func (h linkHeader) LayerType() gopacket.LayerType { return gopacket.LayerTypePayload }

func (c *capture) pcap() []byte {
	c.t.Helper()
	var b bytes.Buffer
	w := pcapgo.NewWriter(&b)
	require.NoError(c.t, w.WriteFileHeader(65535, c.lt))
	for i := range c.pkts {
		require.NoError(c.t, w.WritePacket(c.cis[i], c.pkts[i]))
	}
	return b.Bytes()
}

func (c *capture) pcapng() []byte {
	c.t.Helper()
	var b bytes.Buffer
	w, err := pcapgo.NewNgWriter(&b, c.lt)
	require.NoError(c.t, err)
	for i := range c.pkts {
		require.NoError(c.t, w.WritePacket(c.cis[i], c.pkts[i]))
	}
	require.NoError(c.t, w.Flush())
	return b.Bytes()
}

// events collects EVE events decoded back from JSON, so tests see what a
// reader of eve.json sees.
type events struct{ list []map[string]any }

func (e *events) Write(ev *eve.Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	e.list = append(e.list, m)
	return nil
}

func (e *events) ofType(t string) []map[string]any {
	var out []map[string]any
	for _, m := range e.list {
		if m["event_type"] == t {
			out = append(out, m)
		}
	}
	return out
}

func run(t *testing.T, data []byte, e *fakeEngine, cfg Config) (Summary, *events) {
	t.Helper()
	evs := &events{}
	cfg.Events = evs
	sum, err := Run(bytes.NewReader(data), e, cfg)
	require.NoError(t, err)
	return sum, evs
}

var (
	cli  = netip.MustParseAddrPort("10.0.0.1:40000")
	srv  = netip.MustParseAddrPort("10.0.0.2:80")
	cli6 = netip.MustParseAddrPort("[2001:db8::1]:40000")
	srv6 = netip.MustParseAddrPort("[2001:db8::2]:80")
)

// handshake adds SYN, SYN-ACK, ACK with client ISN 1000 and server ISN
// 5000; client data then starts at seq 1001, server data at 5001.
func (c *capture) handshake(cl, sv netip.AddrPort) *capture {
	return c.tcp(tcpSeg{src: cl, dst: sv, seq: 1000, flags: "S"}).
		tcp(tcpSeg{src: sv, dst: cl, seq: 5000, ack: 1001, flags: "SA"}).
		tcp(tcpSeg{src: cl, dst: sv, seq: 1001, ack: 5001, flags: "A"})
}

package replay

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
	"github.com/interdict/interdict/inspect/eve"
)

// Mode chooses whether drop and reject actions are enforced.
type Mode uint8

const (
	// ModeIDS logs what rules would do; every flow is inspected to its end.
	ModeIDS Mode = iota
	// ModeIPS enforces drop and reject: the flow's later data is not
	// inspected and its later packets are logged as drops.
	ModeIPS
)

func (m Mode) String() string {
	if m == ModeIPS {
		return "ips"
	}
	return "ids"
}

// ParseMode parses "ids" or "ips".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "ids", "":
		return ModeIDS, nil
	case "ips":
		return ModeIPS, nil
	}
	return ModeIDS, fmt.Errorf("replay: unknown mode %q (want ids or ips)", s)
}

// Sink receives EVE events; *eve.Writer implements it.
type Sink interface {
	Write(ev *eve.Event) error
}

// Defaults for the bounds in Config.
const (
	DefaultMaxFlows           = 1 << 16
	DefaultMaxPendingBytes    = 1 << 20
	DefaultMaxPendingSegments = 1024
	// snaplenFloor: captures written by tools such as dpkt declare a
	// snaplen (1500) smaller than the packets they hold; tcpdump and
	// Wireshark ignore it, and so do we up to this bound.
	snaplenFloor = 256 << 10
)

// Config controls a replay.
type Config struct {
	Mode Mode
	// Midstream picks up TCP flows whose handshake is not in the capture
	// as established (Suricata's stream.midstream: true).
	Midstream bool
	// MidstreamDrop, in IPS mode, drops TCP flows whose handshake was not
	// seen without inspecting them (Suricata's stream.midstream-policy:
	// drop-flow). A terminating proxy never forwards such a flow.
	MidstreamDrop bool
	// AsyncOneside inspects a TCP direction's bytes as they arrive even
	// though the other side acknowledges none of them (Suricata's
	// stream.async-oneside); StreamInline inspects every direction's
	// bytes as they arrive (stream.inline, as ips mode does). Without
	// either, in ids mode, bytes wait until the receiver acknowledged
	// them, or the flow's end, as Suricata's IDS reassembly hands on
	// only what was acknowledged.
	AsyncOneside, StreamInline bool
	// Urgent is how TCP urgent data is read (Suricata's
	// stream.reassembly.urgent.policy, default inline), UrgentOOBLimit
	// what UrgentOOB gives way to once a direction took 64k bytes out
	// of band (its oob-limit-policy: inline, gap or drop; default
	// inline). See UrgentPolicy.
	Urgent, UrgentOOBLimit UrgentPolicy
	// FlowTimeouts end idle flows (see FlowTimeouts); nil means
	// DefaultFlowTimeouts.
	FlowTimeouts *FlowTimeouts
	// Events receives EVE events; nil discards them.
	Events Sink
	// Netflow logs two netflow events at each flow's end, one per
	// direction (the second only when the server sent a packet), as
	// Suricata's eve netflow type does.
	Netflow bool
	// DropStart logs the packets of a dropped flow once per direction
	// (Suricata's eve drop output with flows: start, its default); the
	// packet a rule dropped is always logged. Off, every dropped packet
	// is a drop event (flows: all).
	DropStart bool
	// TrafficTags maps a rule's sid to the traffic tags its match sets
	// (Suricata 8's flowbits traffic/id/X and traffic/label/X), logged on
	// the alert and the flow. Optional.
	TrafficTags map[uint32]eve.Traffic
	// Protos are the app-layer protocols whose probes guess the direction
	// of a mid-stream pickup (with Midstream): a flow whose first bytes
	// only a client-bound probe recognises is reversed. Setup passes the
	// engine's protocols; nil keeps the first sender as the client.
	Protos []applayer.Proto
	// Clock, when set, is advanced to each packet's timestamp before the
	// packet is processed (give the engine Clock.Now for thresholds).
	Clock *Clock
	// Anomaly, when set, is the appliance's protocol policy: the action an
	// app-layer anomaly takes (ActionNone: only logged). In ips mode a
	// terminal one drops the flow with a drop event naming the anomaly,
	// as the appliance refuses a message it cannot read unambiguously.
	Anomaly func(inspect.Anomaly) inspect.Action
	// Bounds; zero means the default.
	MaxFlows           int
	MaxPendingBytes    int
	MaxPendingSegments int
}

// Summary is what a replay found.
type Summary struct {
	Packets   uint64
	Bytes     uint64
	Undecoded uint64 // packets that were not IPv4/IPv6 TCP, UDP or ICMP, or were fragments
	Truncated bool   // the capture ended inside a packet record
	// Unreadable, when set, says why reading stopped before the end of
	// the file: a record pcapgo cannot read (a capture length beyond
	// the snaplen, a broken block) leaves no way to find the next one.
	// As Suricata does with such a file, what was read is replayed and
	// the rest is ignored.
	Unreadable  string
	Flows       uint64
	Alerts      uint64 // alert events written (noalert matches excluded)
	AlertsBySID map[uint32]uint64
	Drops       uint64 // drop events written
	Gaps        uint64 // stream gaps skipped
}

// File replays the pcap or pcapng file at path.
func File(path string, ff inspect.FlowFactory, cfg Config) (Summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return Summary{}, fmt.Errorf("replay: %w", err)
	}
	defer f.Close()
	s, err := Run(f, ff, cfg)
	if err != nil {
		return s, fmt.Errorf("replay %s: %w", path, err)
	}
	return s, nil
}

// packetSource is what pcapgo's two readers have in common.
type packetSource interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// Run replays a pcap or pcapng stream. The format is chosen by the magic
// number.
func Run(r io.Reader, ff inspect.FlowFactory, cfg Config) (Summary, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	magic, err := br.Peek(4)
	if err != nil {
		return Summary{}, fmt.Errorf("not a pcap or pcapng file: %w", err)
	}
	var (
		src      packetSource
		linkType func(ci gopacket.CaptureInfo) layers.LinkType
	)
	if binary.LittleEndian.Uint32(magic) == 0x0A0D0D0A {
		// Interfaces may have different link types (a tap and a
		// tunnel): without WantMixedLinkType pcapgo silently skips every
		// packet whose interface differs from the first one's.
		ng, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			return Summary{}, fmt.Errorf("pcapng: %w", err)
		}
		src = ng
		linkType = func(ci gopacket.CaptureInfo) layers.LinkType {
			if iface, err := ng.Interface(ci.InterfaceIndex); err == nil {
				return iface.LinkType
			}
			return ng.LinkType()
		}
	} else {
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return Summary{}, fmt.Errorf("pcap: %w", err)
		}
		if pr.Snaplen() < snaplenFloor {
			pr.SetSnaplen(snaplenFloor)
		}
		src = pr
		lt := pr.LinkType()
		linkType = func(gopacket.CaptureInfo) layers.LinkType { return lt }
	}

	rp := newReplayer(ff, cfg)
	for {
		data, ci, err := src.ReadPacketData()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				rp.sum.Truncated = true
				break
			}
			rp.sum.Unreadable = fmt.Sprintf("record %d: %v", rp.sum.Packets+1, err)
			break
		}
		if err := rp.packet(data, ci, linkType(ci)); err != nil {
			return rp.summary(), err
		}
	}
	if err := rp.finish(); err != nil {
		return rp.summary(), err
	}
	return rp.summary(), nil
}

// decoded is the part of a packet replay needs.
type decoded struct {
	proto    inspect.Proto
	src, dst netip.AddrPort
	v6       bool
	vlan     []uint16
	tcp      *layers.TCP
	payload  []byte
}

// rawIP are the link types whose frames are a bare IPv4 or IPv6 packet:
// DLT_RAW as libpcap numbers it on most systems (12), on OpenBSD (14) and
// in files (LINKTYPE_RAW 101), and LINKTYPE_IPV4/IPV6 (228, 229).
// gopacket registers a decoder for only one of 12 and 14, and for
// neither of 228 and 229.
var rawIP = map[layers.LinkType]bool{12: true, 14: true, layers.LinkTypeRaw: true, layers.LinkTypeIPv4: true, layers.LinkTypeIPv6: true}

// decode reads a frame of link type lt: Ethernet (with VLAN tags), raw
// IP (see rawIP), Linux cooked captures (SLL, SLL2) and BSD loopback
// (null, loop).
func decode(data []byte, lt layers.LinkType) (decoded, bool) {
	var d decoded
	if rawIP[lt] {
		lt = layers.LinkTypeRaw
	}
	pkt := gopacket.NewPacket(data, lt, gopacket.DecodeOptions{NoCopy: true, Lazy: true})
	for _, l := range pkt.Layers() {
		if q, ok := l.(*layers.Dot1Q); ok {
			d.vlan = append(d.vlan, q.VLANIdentifier)
		}
	}
	var srcIP, dstIP netip.Addr
	var ipPayloadLayer gopacket.Layer
	switch ip := innerIP(pkt).(type) {
	case *layers.IPv4:
		// Fragments are not reassembled: a non-first fragment has no
		// transport header and a first fragment only part of the data.
		if ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0 {
			return d, false
		}
		srcIP, _ = netip.AddrFromSlice(ip.SrcIP.To4())
		dstIP, _ = netip.AddrFromSlice(ip.DstIP.To4())
		ipPayloadLayer = ip
	case *layers.IPv6:
		srcIP, _ = netip.AddrFromSlice(ip.SrcIP.To16())
		dstIP, _ = netip.AddrFromSlice(ip.DstIP.To16())
		d.v6 = true
		ipPayloadLayer = ip
	default:
		return d, false
	}
	if ipPayloadLayer == nil || !srcIP.IsValid() || !dstIP.IsValid() {
		return d, false
	}
	switch {
	case pkt.Layer(layers.LayerTypeTCP) != nil:
		t := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
		d.proto, d.tcp, d.payload = inspect.ProtoTCP, t, t.Payload
		d.src = netip.AddrPortFrom(srcIP, uint16(t.SrcPort))
		d.dst = netip.AddrPortFrom(dstIP, uint16(t.DstPort))
	case pkt.Layer(layers.LayerTypeUDP) != nil:
		u := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
		d.proto, d.payload = inspect.ProtoUDP, u.Payload
		d.src = netip.AddrPortFrom(srcIP, uint16(u.SrcPort))
		d.dst = netip.AddrPortFrom(dstIP, uint16(u.DstPort))
	case pkt.Layer(layers.LayerTypeICMPv4) != nil, pkt.Layer(layers.LayerTypeICMPv6) != nil:
		// The whole ICMP message (type, code, checksum, rest) is the
		// datagram, so itype/icode can be read from its first bytes.
		l := pkt.Layer(layers.LayerTypeICMPv4)
		if l == nil {
			l = pkt.Layer(layers.LayerTypeICMPv6)
		}
		d.proto = inspect.ProtoICMP
		d.payload = append(append([]byte(nil), l.LayerContents()...), l.LayerPayload()...)
		d.src = netip.AddrPortFrom(srcIP, 0)
		d.dst = netip.AddrPortFrom(dstIP, 0)
	default:
		return d, false
	}
	// A decoder error in a layer above the transport (gopacket tries
	// app-layer decoders by port) does not matter: we use raw payloads.
	if el := pkt.ErrorLayer(); el != nil && d.tcp == nil && d.proto == inspect.ProtoTCP {
		return d, false
	}
	return d, true
}

// innerIP is the IP header that carries the transport layer: the last
// IPv4 or IPv6 layer. gopacket decodes tunnels (GRE, IP-in-IP, 6in4) and
// its NetworkLayer is the outer header, whose addresses paired with the
// inner ports would split one tunnelled flow into two made-up ones;
// Suricata tracks the inner flow.
func innerIP(pkt gopacket.Packet) gopacket.Layer {
	var ip gopacket.Layer
	for _, l := range pkt.Layers() {
		switch l.(type) {
		case *layers.IPv4, *layers.IPv6:
			ip = l
		}
	}
	return ip
}

// summary returns a copy safe to hand out.
func (rp *replayer) summary() Summary {
	s := rp.sum
	s.AlertsBySID = make(map[uint32]uint64, len(rp.sum.AlertsBySID))
	for k, v := range rp.sum.AlertsBySID {
		s.AlertsBySID[k] = v
	}
	return s
}

// elapsedSeconds is whole seconds between two packets (stats uptime). A
// flow's age is not this: Suricata subtracts the timestamps' seconds
// fields, so a flow from 23.9 s to 33.2 s is 10 s old.
func elapsedSeconds(a, b time.Time) int64 { return int64(b.Sub(a) / time.Second) }

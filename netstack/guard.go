package netstack

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/nested"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// FiveTuple names one flow, oriented from the client: Src is the
// originator. Guard and flow table use it as the key for both directions
// of a flow.
type FiveTuple struct {
	Proto    Proto
	Src, Dst netip.AddrPort
}

func (t FiveTuple) String() string {
	return fmt.Sprintf("%s %s->%s", t.Proto, t.Src, t.Dst)
}

func (t FiveTuple) reverse() FiveTuple { return FiveTuple{Proto: t.Proto, Src: t.Dst, Dst: t.Src} }

// Guard drop reasons, the label values of guard_drops_total.
const (
	DropBlockedSource = "blocked_source"
	DropBlackholed    = "blackholed"
	DropBlackholedOut = "blackholed_out"
	DropMalformed     = "malformed"
	DropICMPOther     = "icmp_other"
	// DropFragmentChecksum: a datagram reassembled from fragments whose
	// transport checksum is wrong (counted once, for its last fragment).
	DropFragmentChecksum = "fragment_checksum"
	// DropFragmentInvalid: overlapping or inconsistent fragments; the
	// whole datagram is dropped.
	DropFragmentInvalid = "fragment_invalid"
	// DropFragmentLimit: a fragment that did not fit the reassembly
	// bounds.
	DropFragmentLimit = "fragment_limit"
	// DropFragmentTimeout: fragments of datagrams not completed within
	// the reassembly timeout.
	DropFragmentTimeout = "fragment_timeout"
	// DropListenerClose: RSTs a closing SYN cookie listener sent in
	// reply to the segments left in its queue (synflood.go,
	// closeDrained).
	DropListenerClose = "listener_close"
)

var guardReasons = [...]string{DropBlockedSource, DropBlackholed, DropBlackholedOut, DropMalformed, DropICMPOther,
	DropFragmentChecksum, DropFragmentInvalid, DropFragmentLimit, DropFragmentTimeout, DropListenerClose}

const (
	reasonBlocked = iota
	reasonBlackholed
	reasonBlackholedOut
	reasonMalformed
	reasonICMPOther
	reasonFragChecksum
	reasonFragInvalid
	reasonFragLimit
	reasonFragTimeout
	reasonListenerClose
	numReasons
)

// Guard is a nested link endpoint in front of the client-facing link. It
// drops inbound packets from blocked source prefixes and packets of
// blackholed flows in both directions (so a blackholed flow's client sees
// neither data nor FIN nor RST), and ICMP other than echo. It reassembles
// IP fragments and hands the stack whole datagrams whose transport
// checksum it verified (fragments.go).
//
// The cost per packet does not depend on the table sizes: one map lookup
// per distinct prefix length in use (at most 33 for IPv4, 129 for IPv6),
// plus one 5-tuple lookup, and none of them when the tables are empty.
type Guard struct {
	nested.Endpoint

	child      stack.LinkEndpoint
	maxEntries int

	mu sync.RWMutex
	// blocks holds masked prefixes; lens4/lens6 count entries per
	// prefix length so lookups only try lengths in use.
	blocks     map[netip.Prefix]time.Time
	lens4      [33]int
	lens6      [129]int
	blackholes map[FiveTuple]time.Time
	nBlocks    atomic.Int32
	nHoles     atomic.Int32

	drops [numReasons]atomic.Uint64

	frags *reassembler

	// onSYN, set by the Stack, sees every inbound TCP SYN (without ACK)
	// that passed the checks, before the stack demultiplexes it; false
	// drops the SYN (the stack counts why).
	onSYN func(p *parsed) bool
	// synsFiltered: the link runs synFilter on every packet it reads,
	// so onSYN has already seen each SYN that was not a fragment.
	synsFiltered bool

	// probe and quietPort serve the close of a drained SYN cookie
	// listener (synflood.go): probe catches the answer to a sentinel
	// SYN on its way out, quietPort (the listener's port + 1, 0 when
	// none) drops the RSTs the listener sends while it closes.
	probe     atomic.Pointer[listenerProbe]
	quietPort atomic.Uint32

	// Metrics, resolved once so the hot path does no label lookups.
	mDrops                         [numReasons]prometheus.Counter
	mPktIn, mPktOut, mByIn, mByOut prometheus.Counter
}

var _ stack.LinkEndpoint = (*Guard)(nil)
var _ stack.NetworkDispatcher = (*Guard)(nil)

// NewGuard wraps child. maxEntries bounds the block list and the
// blackhole table each (0 means 65536).
func NewGuard(child stack.LinkEndpoint, maxEntries int) *Guard {
	if maxEntries <= 0 {
		maxEntries = 1 << 16
	}
	g := &Guard{
		child:      child,
		maxEntries: maxEntries,
		blocks:     make(map[netip.Prefix]time.Time),
		blackholes: make(map[FiveTuple]time.Time),
		frags:      newReassembler(),
	}
	g.Endpoint.Init(child, g)
	return g
}

func (g *Guard) setMetrics(m *metrics) {
	for i, r := range guardReasons {
		g.mDrops[i] = m.guardDrops.WithLabelValues(r)
	}
	g.mPktIn, g.mPktOut = m.packets.WithLabelValues("in"), m.packets.WithLabelValues("out")
	g.mByIn, g.mByOut = m.bytes.WithLabelValues("in"), m.bytes.WithLabelValues("out")
}

func (g *Guard) drop(reason int) {
	g.drops[reason].Add(1)
	if c := g.mDrops[reason]; c != nil {
		c.Inc()
	}
}

// Drops returns the number of packets dropped so far, by reason.
func (g *Guard) Drops() map[string]uint64 {
	out := make(map[string]uint64, numReasons)
	for i, r := range guardReasons {
		out[r] = g.drops[i].Load()
	}
	return out
}

// ErrGuardFull is returned when a guard table is at its bound and holds
// no expired entry to make room.
var ErrGuardFull = fmt.Errorf("netstack: guard table full")

// Block drops every inbound packet whose source lies in p until the given
// time. Blocking an existing prefix again moves its expiry.
func (g *Guard) Block(p netip.Prefix, until time.Time) error {
	if !p.IsValid() {
		return fmt.Errorf("netstack: block %v: invalid prefix", p)
	}
	p = p.Masked()
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.blocks[p]; !ok {
		if len(g.blocks) >= g.maxEntries && g.sweepLocked(time.Now()) == 0 {
			return fmt.Errorf("block %v: %w (%d entries)", p, ErrGuardFull, g.maxEntries)
		}
		g.lenCount(p, 1)
		g.nBlocks.Add(1)
	}
	g.blocks[p] = until
	return nil
}

// Unblock removes p from the block list and reports whether it was there.
func (g *Guard) Unblock(p netip.Prefix) bool {
	p = p.Masked()
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.blocks[p]; !ok {
		return false
	}
	g.removeBlockLocked(p)
	return true
}

func (g *Guard) removeBlockLocked(p netip.Prefix) {
	delete(g.blocks, p)
	g.lenCount(p, -1)
	g.nBlocks.Add(-1)
}

func (g *Guard) lenCount(p netip.Prefix, d int) {
	if p.Addr().Is4() {
		g.lens4[p.Bits()] += d
	} else {
		g.lens6[p.Bits()] += d
	}
}

// BlockEntry is one block-list entry.
type BlockEntry struct {
	Prefix netip.Prefix
	Until  time.Time
}

// Blocks returns the current block list (for the admin API).
func (g *Guard) Blocks() []BlockEntry {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := make([]BlockEntry, 0, len(g.blocks))
	for p, u := range g.blocks {
		out = append(out, BlockEntry{p, u})
	}
	return out
}

// Blackhole drops every packet of the flow t (both directions) until the
// given time.
func (g *Guard) Blackhole(t FiveTuple, until time.Time) error {
	t = normTuple(t)
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.blackholes[t]; !ok {
		if len(g.blackholes) >= g.maxEntries && g.sweepLocked(time.Now()) == 0 {
			return fmt.Errorf("blackhole %v: %w (%d entries)", t, ErrGuardFull, g.maxEntries)
		}
		g.nHoles.Add(1)
	}
	g.blackholes[t] = until
	return nil
}

// Unblackhole removes t from the blackhole table and reports whether it
// was there.
func (g *Guard) Unblackhole(t FiveTuple) bool {
	t = normTuple(t)
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.blackholes[t]; !ok {
		return false
	}
	delete(g.blackholes, t)
	g.nHoles.Add(-1)
	return true
}

// Blackholed reports whether t is blackholed now.
func (g *Guard) Blackholed(t FiveTuple) bool {
	t = normTuple(t)
	g.mu.RLock()
	u, ok := g.blackholes[t]
	g.mu.RUnlock()
	return ok && time.Now().Before(u)
}

// Sweep removes expired entries and returns how many it removed, and
// drops the fragments of datagrams not reassembled in time. The stack
// calls it periodically; lookups also ignore expired entries, so
// sweeping only bounds memory.
func (g *Guard) Sweep(now time.Time) int {
	for n := g.frags.expire(now); n > 0; n-- {
		g.drop(reasonFragTimeout)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.sweepLocked(now)
}

func (g *Guard) sweepLocked(now time.Time) int {
	n := 0
	for p, u := range g.blocks {
		if !now.Before(u) {
			g.removeBlockLocked(p)
			n++
		}
	}
	for t, u := range g.blackholes {
		if !now.Before(u) {
			delete(g.blackholes, t)
			g.nHoles.Add(-1)
			n++
		}
	}
	return n
}

// normTuple strips zones and unmaps 4-in-6 addresses so keys built from
// packets and from netip values agree.
func normTuple(t FiveTuple) FiveTuple {
	t.Src = netip.AddrPortFrom(t.Src.Addr().Unmap().WithZone(""), t.Src.Port())
	t.Dst = netip.AddrPortFrom(t.Dst.Addr().Unmap().WithZone(""), t.Dst.Port())
	return t
}

// DeliverNetworkPacket implements stack.NetworkDispatcher: the inbound
// check.
func (g *Guard) DeliverNetworkPacket(proto tcpip.NetworkProtocolNumber, pkt *stack.PacketBuffer) {
	size := pkt.Data().Size()
	var wasFrag bool
	if g.mPktIn != nil {
		g.mPktIn.Inc()
		g.mByIn.Add(float64(size))
	}
	n := min(size, maxParse)
	b, ok := pkt.Data().PullUp(n)
	if !ok {
		g.drop(reasonMalformed)
		return
	}
	var p parsed
	if !parsePacket(b, &p) {
		g.drop(reasonMalformed)
		return
	}
	if p.frag {
		wasFrag = true
		// Blocked sources and blackholed first fragments are dropped
		// before they take room in the reassembly table.
		if r := g.check(&p, false); r >= 0 {
			g.drop(r)
			return
		}
		whole, r := g.reassemble(pkt)
		switch r {
		case fragHeld:
			return
		case fragDone:
			if whole == nil {
				break // IPv6 extension headers, but no fragment header
			}
			defer whole.DecRef()
			pkt = whole
			b, _ = pkt.Data().PullUp(min(pkt.Data().Size(), maxParse))
			p = parsed{}
			if !parsePacket(b, &p) {
				g.drop(reasonMalformed)
				return
			}
		default:
			g.drop(r)
			return
		}
	}
	if p.icmpOther {
		g.drop(reasonICMPOther)
		return
	}
	if r := g.check(&p, false); r >= 0 {
		g.drop(r)
		return
	}
	if p.syn && g.onSYN != nil && (wasFrag || !g.synsFiltered) && !g.admitSYN(p) {
		return
	}
	g.Endpoint.DeliverNetworkPacket(proto, pkt)
}

// admitSYN asks onSYN about a copy of p: handing onSYN (a func value)
// the address of DeliverNetworkPacket's own parse moved it to the heap
// for every packet, five allocations per connection, where only SYNs
// need one.
func (g *Guard) admitSYN(p parsed) bool { return g.onSYN(&p) }

// inboundFilterer is a link that lets a filter see each packet it reads
// before it allocates anything for it (tunnel/tun's Device).
type inboundFilterer interface {
	SetInboundFilter(f func(pkt []byte) bool)
}

// filterSYNs makes the child link run onSYN's decision on every SYN it
// reads: under a SYN flood most SYNs are refused, and refusing one there
// skips the packet buffer, GRO and the header fix-up. With it (and
// without an endpoint lookup for refused SYNs, onSYN) the appliance read
// 200,000 packets a second of hping3's flood instead of 56,000, and the
// TUN's ring dropped 0.3% of what the kernel sent it instead of 10%,
// real clients' ACKs and data among them (tests/bench/synflood.sh's
// topology, 8 s, shared machine).
func (g *Guard) filterSYNs() {
	if f, ok := g.child.(inboundFilterer); ok && g.onSYN != nil {
		f.SetInboundFilter(g.synFilter)
		g.synsFiltered = true
	}
}

// synFilter is the link's inbound filter: it refuses the SYNs onSYN
// refuses. Everything else, and a SYN the guard drops for another reason
// (blocked source, blackholed, malformed) or cannot see whole (a
// fragment), goes on to DeliverNetworkPacket, which drops and counts it.
// A refused SYN is counted in the inbound packets here, as
// DeliverNetworkPacket would have.
func (g *Guard) synFilter(b []byte) bool {
	if !maybeSYN(b) {
		return true
	}
	var p parsed
	if !parsePacket(b[:min(len(b), maxParse)], &p) || !p.syn || p.frag || g.check(&p, false) >= 0 {
		return true
	}
	if g.onSYN(&p) {
		return true
	}
	if g.mPktIn != nil {
		g.mPktIn.Inc()
		g.mByIn.Add(float64(len(b)))
	}
	return false
}

// maybeSYN is synFilter's first look, a few byte reads, so that the
// packets of established flows pay no parse: it reports whether b may
// be a TCP SYN without ACK in IPv4 or in IPv6 without extension headers
// (whose SYNs the guard decides about after reassembly).
func maybeSYN(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	const syn, ack = uint8(header.TCPFlagSyn), uint8(header.TCPFlagAck)
	off, proto := 0, byte(0)
	switch b[0] >> 4 {
	case 4:
		off, proto = int(b[0]&0xf)*4, 9
	case 6:
		off, proto = header.IPv6MinimumSize, 6
	default:
		return false
	}
	return len(b) > off+13 && b[proto] == uint8(header.TCPProtocolNumber) && b[off+13]&(syn|ack) == syn
}

// reassemble files a fragment. It returns fragDone with the whole
// datagram (a new packet the caller releases), or with nil when pkt is
// not a fragment after all; fragHeld while the datagram is incomplete;
// or a drop reason.
func (g *Guard) reassemble(pkt *stack.PacketBuffer) (*stack.PacketBuffer, int) {
	b := pkt.Data().AsRange().ToSlice()
	f, frag, ok := parseFragment(b)
	if !ok {
		if frag {
			return nil, reasonFragInvalid
		}
		return nil, reasonMalformed
	}
	if !frag {
		return nil, fragDone
	}
	whole, r := g.frags.add(&f, time.Now())
	if r != fragDone {
		return nil, r
	}
	out := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(whole)})
	out.NetworkProtocolNumber = pkt.NetworkProtocolNumber
	return out, fragDone
}

// WritePackets implements stack.LinkEndpoint: the outbound check, which
// only blackholes apply to (a blackholed flow must not even answer).
func (g *Guard) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	if g.mPktOut != nil {
		for _, pkt := range pkts.AsSlice() {
			g.mPktOut.Inc()
			g.mByOut.Add(float64(pkt.Size()))
		}
	}
	probe, quiet := g.probe.Load(), g.quietPort.Load()
	if g.nHoles.Load() == 0 && probe == nil && quiet == 0 {
		return g.Endpoint.WritePackets(pkts)
	}
	var keep stack.PacketBufferList
	dropped := 0
	for _, pkt := range pkts.AsSlice() {
		var p parsed
		nh, th := pkt.NetworkHeader().Slice(), pkt.TransportHeader().Slice()
		if len(nh) == 0 || !parseHeaders(nh, th, &p) {
			pkt.IncRef()
			keep.PushBack(pkt)
			continue
		}
		tcp := p.proto == uint8(header.TCPProtocolNumber) && p.hasPorts
		switch {
		case probe != nil && tcp && netip.AddrPortFrom(p.dst, p.dport) == probe.src:
			probe.answered()
			dropped++
			continue
		case quiet != 0 && tcp && p.rst && uint32(p.sport)+1 == quiet:
			g.drop(reasonListenerClose)
			dropped++
			continue
		case g.check(&p, true) >= 0:
			g.drop(reasonBlackholedOut)
			dropped++
			continue
		}
		pkt.IncRef()
		keep.PushBack(pkt)
	}
	defer keep.DecRef()
	if keep.Len() == 0 {
		return dropped, nil
	}
	n, err := g.Endpoint.WritePackets(keep)
	return n + dropped, err
}

// check returns the drop reason for p, or -1 to let it pass.
func (g *Guard) check(p *parsed, outbound bool) int {
	nb, nh := g.nBlocks.Load(), g.nHoles.Load()
	if nb == 0 && nh == 0 {
		return -1
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	var now time.Time
	if nb > 0 && !outbound {
		lens := g.lens6[:]
		if p.src.Is4() {
			lens = g.lens4[:]
		}
		for bits, c := range lens {
			if c == 0 {
				continue
			}
			pfx, _ := p.src.Prefix(bits)
			if u, ok := g.blocks[pfx]; ok {
				if now.IsZero() {
					now = time.Now()
				}
				if now.Before(u) {
					return reasonBlocked
				}
			}
		}
	}
	if nh > 0 && p.hasPorts {
		t := FiveTuple{Proto: Proto(p.proto), Src: netip.AddrPortFrom(p.src, p.sport), Dst: netip.AddrPortFrom(p.dst, p.dport)}
		if outbound {
			t = t.reverse()
		}
		if u, ok := g.blackholes[t]; ok {
			if now.IsZero() {
				now = time.Now()
			}
			if now.Before(u) {
				if outbound {
					return reasonBlackholedOut
				}
				return reasonBlackholed
			}
		}
	}
	return -1
}

// maxParse is how many leading bytes of a packet the guard reads: the
// largest IPv4 header (60) plus the TCP header up to its flags (14),
// which also covers an IPv6 header (40) plus the same.
const maxParse = 74

// parsed is what the guard needs from a packet.
type parsed struct {
	src, dst     netip.Addr
	proto        uint8
	sport, dport uint16
	hasPorts     bool
	icmpOther    bool
	// syn is a TCP SYN without ACK: a connection request.
	syn bool
	// rst is a TCP segment with RST.
	rst bool
	// frag is an IPv4 fragment, or an IPv6 packet with extension headers
	// (which may hold a fragment header).
	frag bool
}

// parsePacket reads an IP packet starting at b (which may be a truncated
// prefix of the packet, at most maxParse bytes). It reports false for
// anything that is not a well-formed IPv4 or IPv6 header; it never
// panics on any input.
func parsePacket(b []byte, p *parsed) bool {
	if len(b) < 1 {
		return false
	}
	switch b[0] >> 4 {
	case 4:
		if len(b) < header.IPv4MinimumSize {
			return false
		}
		ihl := int(b[0]&0xf) * 4
		if ihl < header.IPv4MinimumSize || ihl > len(b) {
			return false
		}
		h := header.IPv4(b)
		if int(h.TotalLength()) < ihl {
			return false
		}
		if !h.IsChecksumValid() {
			return false
		}
		p.src, p.dst = netip.AddrFrom4(h.SourceAddress().As4()), netip.AddrFrom4(h.DestinationAddress().As4())
		p.proto = h.Protocol()
		p.frag = h.More() || h.FragmentOffset() != 0
		// Only the first fragment carries the transport header.
		if h.FragmentOffset() != 0 {
			return true
		}
		l4len := int(h.TotalLength()) - ihl
		l4 := b[ihl:]
		if len(l4) > l4len {
			l4 = l4[:l4len]
		}
		parseL4(l4, p, false)
		return true
	case 6:
		if len(b) < header.IPv6MinimumSize {
			return false
		}
		h := header.IPv6(b)
		p.src, p.dst = netip.AddrFrom16(h.SourceAddress().As16()), netip.AddrFrom16(h.DestinationAddress().As16())
		p.proto = h.NextHeader()
		switch header.IPv6ExtensionHeaderIdentifier(p.proto) {
		case header.IPv6HopByHopOptionsExtHdrIdentifier, header.IPv6RoutingExtHdrIdentifier,
			header.IPv6DestinationOptionsExtHdrIdentifier, header.IPv6FragmentExtHdrIdentifier:
			p.frag = true
		}
		l4 := b[header.IPv6MinimumSize:]
		if pl := int(h.PayloadLength()); len(l4) > pl {
			l4 = l4[:pl]
		}
		parseL4(l4, p, true)
		return true
	}
	return false
}

// parseHeaders reads outbound packets whose headers the stack has already
// laid out.
func parseHeaders(nh, th []byte, p *parsed) bool {
	if len(nh) < 1 {
		return false
	}
	switch nh[0] >> 4 {
	case 4:
		if len(nh) < header.IPv4MinimumSize {
			return false
		}
		h := header.IPv4(nh)
		p.src, p.dst = netip.AddrFrom4(h.SourceAddress().As4()), netip.AddrFrom4(h.DestinationAddress().As4())
		p.proto = h.Protocol()
	case 6:
		if len(nh) < header.IPv6MinimumSize {
			return false
		}
		h := header.IPv6(nh)
		p.src, p.dst = netip.AddrFrom16(h.SourceAddress().As16()), netip.AddrFrom16(h.DestinationAddress().As16())
		p.proto = h.NextHeader()
	default:
		return false
	}
	parseL4(th, p, nh[0]>>4 == 6)
	return true
}

func parseL4(l4 []byte, p *parsed, v6 bool) {
	switch p.proto {
	case uint8(header.TCPProtocolNumber), uint8(header.UDPProtocolNumber):
		if len(l4) >= 4 {
			p.sport = uint16(l4[0])<<8 | uint16(l4[1])
			p.dport = uint16(l4[2])<<8 | uint16(l4[3])
			p.hasPorts = true
		}
		if p.proto == uint8(header.TCPProtocolNumber) && len(l4) > 13 {
			f := header.TCPFlags(l4[13])
			p.syn = f&(header.TCPFlagSyn|header.TCPFlagAck) == header.TCPFlagSyn
			p.rst = f&header.TCPFlagRst != 0
		}
	case uint8(header.ICMPv4ProtocolNumber):
		if !v6 && len(l4) >= 1 {
			t := header.ICMPv4Type(l4[0])
			p.icmpOther = t != header.ICMPv4Echo && t != header.ICMPv4EchoReply
		}
	case uint8(header.ICMPv6ProtocolNumber):
		if v6 && len(l4) >= 1 {
			switch header.ICMPv6Type(l4[0]) {
			case header.ICMPv6EchoRequest, header.ICMPv6EchoReply,
				// Neighbour discovery keeps an IPv6 link usable.
				header.ICMPv6RouterSolicit, header.ICMPv6RouterAdvert,
				header.ICMPv6NeighborSolicit, header.ICMPv6NeighborAdvert:
			default:
				p.icmpOther = true
			}
		}
	}
}

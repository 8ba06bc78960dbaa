package netstack

import (
	"net/netip"
	"strconv"
	"time"
)

// Verdict is what a flow handler decides about a flow or one chunk of it.
// It is the single verdict enum of the data path; the appliance maps rule
// actions onto it in one place and the relay maps it onto netstack actions
// in one place.
type Verdict uint8

const (
	// Continue forwards the chunk and keeps inspecting the flow. Both "no
	// match" and "alert" map here: the event is the handler's business.
	Continue Verdict = iota
	// Pass forwards the chunk and stops calling the handler for this flow
	// (fast path).
	Pass
	// Drop blackholes the flow: nothing more is forwarded or answered, the
	// client sees silence, the upstream leg is reset quietly and the guard
	// drops the flow's later packets until it times out.
	Drop
	// Reject resets the client leg (TCP RST; ICMP port unreachable for UDP)
	// and closes the upstream leg. Suricata's reject and rejectsrc.
	Reject
	// RejectDst closes the client leg and resets the upstream leg.
	RejectDst
	// RejectBoth resets both legs.
	RejectBoth
	// Hold keeps the chunk unsent and reads more: the handler needs the
	// bytes that follow to decide (a ClientHello or request head split
	// over reads). The relay calls the handler again with the new bytes
	// only (it has seen the held ones); Continue or Pass then forwards
	// the held bytes and the new ones in order, a terminal verdict
	// discards them. The held bytes of a direction are bounded
	// (Limits.HoldLimit); past the bound the flow ends with
	// Limits.HoldOverflow. At the end of the stream (FIN) with bytes held,
	// the handler is asked a last time with an empty chunk; Hold then is
	// treated as past the bound. Held bytes are never forwarded without a
	// Continue or Pass. Not terminal. UDP sessions cannot hold a datagram:
	// there Hold is a handler bug and rejects the session.
	Hold
	// Monitor forwards the chunk and every later chunk of the flow without
	// waiting for the handler, and still shows each one to the handler,
	// after it was written, so it can keep logging the flow (Suricata's
	// pass rule: no more detection, app-layer records go on). What the
	// handler returns for those chunks is ignored. Counted as Pass.
	Monitor
)

var verdictNames = [...]string{"continue", "pass", "drop", "reject", "rejectdst", "rejectboth", "hold", "monitor"}

func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return "verdict(" + strconv.Itoa(int(v)) + ")"
}

// Terminal reports whether the verdict ends the flow.
func (v Verdict) Terminal() bool { return v >= Drop && v <= RejectBoth }

// Direction of a chunk within a flow.
type Direction uint8

const (
	// ToServer is the client-to-upstream direction (the flow's originator
	// is the client).
	ToServer Direction = iota
	// ToClient is the upstream-to-client direction.
	ToClient
)

func (d Direction) String() string {
	if d == ToServer {
		return "to_server"
	}
	return "to_client"
}

// Proto is the transport protocol of a flow.
type Proto uint8

const (
	TCP Proto = 6
	UDP Proto = 17
)

func (p Proto) String() string {
	switch p {
	case TCP:
		return "TCP"
	case UDP:
		return "UDP"
	}
	return "proto(" + strconv.Itoa(int(p)) + ")"
}

// Identity is who sent a flow: a WireGuard peer or a configured source
// prefix. The netstack only needs its name; the appliance supplies the
// concrete type and reads it back from FlowInfo.
type Identity interface {
	IdentityName() string
}

// IdentityName returns id's name, "" for a nil identity.
func IdentityName(id Identity) string {
	if id == nil {
		return ""
	}
	return id.IdentityName()
}

// FlowInfo describes a flow to its handler. It is immutable after NewFlow.
type FlowInfo struct {
	ID       uint64
	Proto    Proto
	Src      netip.AddrPort // the client (originator)
	Dst      netip.AddrPort // the target as the client addressed it
	Identity Identity       // the peer or source identity; nil if unknown
	NIC      string         // the link the flow arrived on (EVE in_iface)
	Start    time.Time
}

// FlowStats is handed to FlowHandler.Close when the flow ends.
type FlowStats struct {
	BytesToServer, BytesToClient     uint64
	PacketsToServer, PacketsToClient uint64  // chunks or datagrams
	Verdict                          Verdict // the terminal verdict, or Continue/Pass
	Reason                           string  // why the flow ended: "fin", "rst", "idle", "verdict", "shutdown", ...
	End                              time.Time
}

// Handler decides about new flows. The forwarder calls NewFlow before it
// dials upstream: a terminal verdict refuses the flow (Reject: RST or ICMP
// unreachable, Drop: silence) without any upstream connection.
type Handler interface {
	NewFlow(info *FlowInfo) (FlowHandler, Verdict)
}

// FlowHandler sees every chunk of one flow before it is forwarded.
// Calls for one flow are serialised per direction; the two directions may
// call concurrently, so implementations guard shared per-flow state.
type FlowHandler interface {
	// Chunk is called with bytes read from one leg before they are written
	// to the other. b is valid only during the call. A terminal verdict
	// means b is never forwarded. An empty b is the end of the stream in
	// dir, sent only while bytes are held (see Hold). After Monitor, Chunk
	// sees each later chunk after it was forwarded and its verdict is
	// ignored.
	Chunk(dir Direction, b []byte) Verdict
	// Close is called exactly once when the flow ends.
	Close(stats FlowStats)
}

// Answerer is an optional interface of a UDP session's FlowHandler: a
// handler that answers a client's datagram itself (a DNS REFUSED for a
// query its policy denies) returns the answer, which goes back to the
// client in place of forwarding the datagram; nil forwards as usual. It
// is asked before Chunk, for datagrams to the server only.
type Answerer interface {
	Answer(b []byte) []byte
}

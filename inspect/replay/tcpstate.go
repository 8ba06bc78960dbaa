package replay

import "github.com/interdict/interdict/inspect"

// tcpState is a TCP session's state as Suricata's stream engine names it
// (stream-tcp.c), logged as tcp.state in flow events. Its transitions
// are Suricata's, which are not quite RFC 793's: a FIN from the client
// of an established session moves it to close_wait, one from the server
// to fin_wait1.
type tcpState uint8

const (
	tcpNone tcpState = iota
	tcpSynSent
	tcpSynRecv
	tcpEstablished
	tcpFinWait1
	tcpFinWait2
	tcpTimeWait
	tcpLastAck
	tcpCloseWait
	tcpClosing
	tcpClosed
)

var tcpStateNames = [...]string{"none", "syn_sent", "syn_recv", "established", "fin_wait1", "fin_wait2",
	"time_wait", "last_ack", "close_wait", "closing", "closed"}

func (s tcpState) String() string { return tcpStateNames[s] }

// tcpSession follows a flow's TCP state from its packets' flags and
// acknowledgements. Like Suricata's, it exists only once a packet could
// start a session: a SYN, or with midstream pickup any packet but a
// RST. Packets before that (a mid-stream capture without midstream) are
// not tracked, so their flags are not logged either.
type tcpSession struct {
	state tcpState
	// flags are the TCP flags seen in each direction since the session
	// began (tcp_flags_ts, tcp_flags_tc).
	flags [2]uint8
	// finAck is the acknowledgement number that covers each direction's
	// FIN, once one was sent (fin).
	finAck [2]uint32
	fin    [2]bool
}

// tracked reports whether a session exists.
func (s *tcpSession) tracked() bool { return s.state != tcpNone }

// update moves the session on for one packet in dir with flags fl.
func (s *tcpSession) update(dir inspect.Direction, fl uint8, seq, ack uint32, payload int, midstream bool) {
	syn, isACK, fin, rst := fl&flSYN != 0, fl&flACK != 0, fl&flFIN != 0, fl&flRST != 0
	if s.state == tcpNone {
		switch {
		case rst:
			return
		case syn && !isACK:
			s.state = tcpSynSent
		case !midstream:
			return // nothing Suricata would start a session on
		case syn:
			s.state = tcpSynRecv // a SYN-ACK picked up mid-handshake
		default:
			s.state = tcpEstablished // mid-stream pickup
		}
		s.flags[dir] |= fl
		return
	}
	s.flags[dir] |= fl
	if fin && !s.fin[dir] {
		end := seq + uint32(payload) + 1
		if syn {
			end++
		}
		s.fin[dir], s.finAck[dir] = true, end
	}
	other := 1 - dir
	// acksFIN: this packet acknowledges the other side's FIN.
	acksFIN := isACK && s.fin[other] && ack == s.finAck[other]
	if rst && s.state != tcpClosed {
		s.state = tcpClosed
		return
	}
	switch s.state {
	case tcpSynSent:
		if dir == inspect.ToClient && syn {
			s.state = tcpSynRecv // SYN-ACK, or a simultaneous open's SYN
		}
	case tcpSynRecv:
		if dir == inspect.ToServer && isACK && !syn {
			s.state = tcpEstablished
		}
	case tcpEstablished:
		if fin {
			if dir == inspect.ToServer {
				s.state = tcpCloseWait
			} else {
				s.state = tcpFinWait1
			}
		}
	case tcpFinWait1:
		// The server closed first; this is the client's answer.
		if dir != inspect.ToServer {
			break
		}
		switch {
		case fin && isACK:
			s.state = tcpTimeWait
		case fin:
			s.state = tcpClosing
		case acksFIN:
			s.state = tcpFinWait2
		}
	case tcpFinWait2:
		if dir == inspect.ToServer && fin {
			s.state = tcpTimeWait
		}
	case tcpCloseWait:
		if dir == inspect.ToClient && fin {
			s.state = tcpLastAck
		}
	case tcpLastAck:
		if dir == inspect.ToServer && acksFIN {
			s.state = tcpClosed
		}
	case tcpClosing:
		if acksFIN {
			s.state = tcpTimeWait
		}
	case tcpTimeWait:
		if acksFIN {
			s.state = tcpClosed
		}
	}
}

// flowState is the flow's state as Suricata derives it from the session:
// established from the handshake's end through the closing states,
// closed from last_ack and time_wait on.
func (s *tcpSession) flowState() string {
	switch s.state {
	case tcpNone, tcpSynSent, tcpSynRecv:
		return "new"
	case tcpLastAck, tcpTimeWait, tcpClosed:
		return "closed"
	}
	return "established"
}

// reverse swaps the session's directions (a mid-stream pickup found
// reversed).
func (s *tcpSession) reverse() {
	s.flags[0], s.flags[1] = s.flags[1], s.flags[0]
	s.finAck[0], s.finAck[1] = s.finAck[1], s.finAck[0]
	s.fin[0], s.fin[1] = s.fin[1], s.fin[0]
}

package http1

import (
	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

var _ applayer.Tunneler = (*Parser)(nil)

// Tunnel implements applayer.Tunneler: after a CONNECT answered 2xx the
// flow carries another protocol, whose first bytes (those the client
// sent before the answer, and what followed it in either direction in
// the same Feed) are returned once, for detection to probe.
func (p *Parser) Tunnel() (first [2][]byte, ok bool) {
	if p.x == nil || !p.x.tunnelNew {
		return first, false
	}
	p.x.tunnelNew = false
	first = p.x.tunnelBuf
	p.x.tunnelBuf = [2][]byte{}
	return first, true
}

// openTunnel starts a CONNECT tunnel: the client's stashed bytes are its
// first bytes to the server.
func (p *Parser) openTunnel() {
	x := p.extras()
	x.tunnelNew = true
	x.tunnelBuf[inspect.ToServer] = append([]byte(nil), p.req.stash...)
}

// tunnelBytes keeps bytes that arrive in the tunnel before detection
// took the tunnel over (the rest of the Feed that opened it), bounded
// as the stash is: detection takes them after each Feed, and a caller
// that never does must not make them grow.
func (p *Parser) tunnelBytes(dir inspect.Direction, data []byte) {
	if p.x == nil || !p.x.tunnelNew {
		return
	}
	b := &p.x.tunnelBuf[dir&1]
	if room := p.cfg.maxHeader - len(*b); room > 0 {
		*b = append(*b, data[:min(room, len(data))]...)
	}
}

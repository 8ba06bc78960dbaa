package replay

import (
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFlowTimeout: a packet of a 5-tuple whose flow was idle past the
// timeout of its state starts a new flow, and the old one is logged with
// reason timeout (Suricata's flow lookup); idle within the timeout, or
// a packet stamped in the past, keeps the flow.
func TestFlowTimeout(t *testing.T) {
	closed := func(t *testing.T, idle time.Duration) []byte {
		c := newCapture(t, layers.LinkTypeEthernet).handshake(cli, srv).
			tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "FA"}).
			tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1002, flags: "FA"}).
			tcp(tcpSeg{src: cli, dst: srv, seq: 1002, ack: 5002, flags: "A"})
		c.ts = c.ts.Add(idle)
		// The server's FIN, retransmitted.
		return c.tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1002, flags: "FPA", data: "bye"}).pcap()
	}
	reasons := func(evs *events) (out []string) {
		for _, f := range evs.ofType("flow") {
			out = append(out, f["flow"].(map[string]any)["reason"].(string))
		}
		return out
	}

	_, evs := run(t, closed(t, 15*time.Second), &fakeEngine{}, Config{})
	assert.Equal(t, []string{"timeout", "shutdown"}, reasons(evs), "closed: 10 s by default")

	_, evs = run(t, closed(t, 5*time.Second), &fakeEngine{}, Config{})
	assert.Equal(t, []string{"shutdown"}, reasons(evs))

	long := &FlowTimeouts{TCP: StateTimeouts{Closed: time.Minute}}
	_, evs = run(t, closed(t, 15*time.Second), &fakeEngine{}, Config{FlowTimeouts: long})
	assert.Equal(t, []string{"shutdown"}, reasons(evs), "configured timeouts")

	// In ips mode with Suricata's midstream drop-flow, the new flow is
	// a pickup: its first packet is dropped for that, the next for the
	// policy.
	c := newCapture(t, layers.LinkTypeEthernet).handshake(cli, srv).
		tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "FA"}).
		tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1002, flags: "FA"})
	c.ts = c.ts.Add(20 * time.Second)
	c.tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1002, flags: "FPA", data: "bye"})
	c.tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1002, flags: "FPA", data: "bye"})
	_, evs = run(t, c.pcap(), &fakeEngine{}, Config{Mode: ModeIPS, MidstreamDrop: true})
	var drops []string
	for _, d := range evs.ofType("drop") {
		drops = append(drops, d["drop"].(map[string]any)["reason"].(string))
	}
	assert.Equal(t, []string{"stream midstream", "exception policy flow drop"}, drops)

	// A clock stepping back neither ends the flow nor rewinds its end.
	c = newCapture(t, layers.LinkTypeEthernet).handshake(cli, srv)
	c.ts = c.ts.Add(-time.Hour)
	c.tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "PA", data: "x"})
	c.ts = c.ts.Add(time.Hour)
	c.tcp(tcpSeg{src: srv, dst: cli, seq: 5001, ack: 1002, flags: "A"})
	_, evs = run(t, c.pcap(), &fakeEngine{}, Config{})
	require.Equal(t, []string{"shutdown"}, reasons(evs))
}

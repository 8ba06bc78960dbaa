package netstack

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// txQueue is the client NIC's queueing discipline: gVisor hands it each
// outbound packet and goes on, and one goroutine per lane writes the
// queued packets to the link in batches.
//
// Without it every packet was written to the TUN by whichever goroutine
// sent it, while it held the TCP endpoint's lock, and a TUN write runs
// the receiving kernel's TCP stack before it returns. gVisor's segment
// processor, finding the endpoint locked, requeued it and tried again:
// in tests/bench/throughput.sh's connect loop 17% of the appliance's CPU
// was the processor and 6% of it that loop alone. With the queue the
// processor fell to 6%, and the CPU per connection by 8-10% (each
// interleaved with the direct path, on the shared machine).
//
// A lane is chosen by the packet's flow hash, so a flow's packets stay
// in order; with as many lanes as the TUN has queues each lane writes to
// one queue. A lane holds at most txQueueLimit packets; a packet beyond
// that is dropped and counted, as a full NIC queue drops it, and TCP
// retransmits it. Close writes what is queued before it returns, so the
// last RST or FIN of a closing stack still reaches the link.
type txQueue struct {
	lower stack.LinkWriter
	lanes []txLane
	drops prometheus.Counter
	wg    sync.WaitGroup
}

// txQueueLimit bounds a lane's queued packets: what a TUN queue holds
// (tunnel/tun's txqueuelen is 5000 in the other direction) is far more
// than one writer drains between two wake-ups.
const txQueueLimit = 1024

// txBatch is how many packets one WritePackets call carries.
const txBatch = 64

type txLane struct {
	mu      sync.Mutex
	pending []*stack.PacketBuffer
	closing bool
	// wake is signalled when pending becomes non-empty or closing is set.
	wake chan struct{}
}

var _ stack.QueueingDiscipline = (*txQueue)(nil)

func newTxQueue(lower stack.LinkWriter, lanes int, drops prometheus.Counter) *txQueue {
	q := &txQueue{lower: lower, lanes: make([]txLane, max(1, lanes)), drops: drops}
	for i := range q.lanes {
		l := &q.lanes[i]
		l.wake = make(chan struct{}, 1)
		q.wg.Add(1)
		go q.drain(l)
	}
	return q
}

// WritePacket implements stack.QueueingDiscipline.WritePacket.
func (q *txQueue) WritePacket(pkt *stack.PacketBuffer) tcpip.Error {
	l := &q.lanes[int(pkt.Hash%uint32(len(q.lanes)))]
	l.mu.Lock()
	switch {
	case l.closing:
		l.mu.Unlock()
		return &tcpip.ErrClosedForSend{}
	case len(l.pending) >= txQueueLimit:
		l.mu.Unlock()
		q.drops.Inc()
		return &tcpip.ErrNoBufferSpace{}
	}
	l.pending = append(l.pending, pkt.IncRef())
	first := len(l.pending) == 1
	l.mu.Unlock()
	if first {
		l.signal()
	}
	return nil
}

func (l *txLane) signal() {
	select {
	case l.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// drain writes a lane's packets until the lane is closed and empty.
func (q *txQueue) drain(l *txLane) {
	defer q.wg.Done()
	var (
		spare []*stack.PacketBuffer
		batch stack.PacketBufferList
	)
	for {
		l.mu.Lock()
		pkts, closing := l.pending, l.closing
		if len(pkts) > 0 {
			// Two arrays take turns: WritePacket appends to one while
			// the other is written out.
			l.pending = spare[:0]
		}
		l.mu.Unlock()
		if len(pkts) == 0 {
			if closing {
				return
			}
			<-l.wake
			continue
		}
		for i, pkt := range pkts {
			batch.PushBack(pkt)
			pkts[i] = nil
			if batch.Len() == txBatch || i == len(pkts)-1 {
				// The link drops what it cannot send; TCP retransmits.
				_, _ = q.lower.WritePackets(batch)
				batch.Reset() // releases the references taken in WritePacket
			}
		}
		spare = pkts
	}
}

// Close implements stack.QueueingDiscipline.Close: it refuses new
// packets and returns once every queued packet was written.
func (q *txQueue) Close() {
	for i := range q.lanes {
		l := &q.lanes[i]
		l.mu.Lock()
		l.closing = true
		l.mu.Unlock()
		l.signal()
	}
	q.wg.Wait()
}

package netstack

import (
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// gatedWriter records the first byte of each packet it is given, and
// blocks writes while the gate is held.
type gatedWriter struct {
	gate sync.Mutex
	mu   sync.Mutex
	got  []byte
}

func (w *gatedWriter) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	w.gate.Lock()
	defer w.gate.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range pkts.AsSlice() {
		w.got = append(w.got, p.Data().AsRange().ToSlice()[0])
	}
	return pkts.Len(), nil
}

func (w *gatedWriter) written() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]byte(nil), w.got...)
}

// TestTxQueue: packets of a flow reach the link in order; a full lane
// drops and counts; Close writes everything queued before it returns and
// refuses what comes after; every packet is released.
func TestTxQueue(t *testing.T) {
	w := &gatedWriter{}
	drops := prometheus.NewCounter(prometheus.CounterOpts{Name: "drops"})
	q := newTxQueue(w, 1, drops)

	var pkts []*stack.PacketBuffer
	send := func(b byte) tcpip.Error {
		pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData([]byte{b})})
		pkt.Hash = 7
		pkts = append(pkts, pkt)
		return q.WritePacket(pkt)
	}
	require.Nil(t, send(0))
	require.Eventually(t, func() bool { return len(w.written()) == 1 }, 5*time.Second, time.Millisecond, "a lone packet is written")

	// With the link blocked the lane fills: the drain goroutine takes
	// at most txQueueLimit packets out of it and waits for the gate, and
	// the lane holds txQueueLimit more; once it is full, everything
	// after is refused.
	w.gate.Lock()
	var refused int
	for i := 1; i <= 2*txQueueLimit+10; i++ {
		if err := send(byte(i)); err != nil {
			require.IsType(t, &tcpip.ErrNoBufferSpace{}, err)
			refused++
		}
	}
	assert.Positive(t, refused, "a full lane refuses packets")
	assert.Equal(t, float64(refused), testutil.ToFloat64(drops))
	closed := make(chan struct{})
	go func() { q.Close(); close(closed) }()
	w.gate.Unlock()
	<-closed

	got := w.written()
	assert.Len(t, got, len(pkts)-refused, "everything queued was written before Close returned")
	for i := 1; i < len(got); i++ {
		assert.Equal(t, byte(got[i-1]+1), got[i], "in order")
	}
	assert.IsType(t, &tcpip.ErrClosedForSend{}, send(0), "refused after Close")
	for _, p := range pkts {
		assert.EqualValues(t, 1, p.ReadRefs(), "only the sender's reference is left")
		p.DecRef()
	}
}

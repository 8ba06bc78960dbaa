package wg

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.zx2c4.com/wireguard/conn"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// nullDispatcher takes delivered packets and lets them go, as a stack
// that dropped them would.
type nullDispatcher struct{ n int }

func (d *nullDispatcher) DeliverNetworkPacket(tcpip.NetworkProtocolNumber, *stack.PacketBuffer) {
	d.n++
}
func (*nullDispatcher) DeliverLinkPacket(tcpip.NetworkProtocolNumber, *stack.PacketBuffer) {}

// ipv4Packet is a minimal IPv4 header plus payload, size bytes in all.
func ipv4Packet(size int) []byte {
	b := make([]byte, size)
	header.IPv4(b).Encode(&header.IPv4Fields{TotalLength: uint16(size), TTL: 64, Protocol: 6,
		SrcAddr: tcpip.AddrFrom4([4]byte{100, 96, 0, 2}), DstAddr: tcpip.AddrFrom4([4]byte{198, 18, 0, 1})})
	return b
}

// The bridge allocates nothing per packet once its pools are warm: a
// batch of decrypted packets into the stack (Write) and a batch of the
// stack's packets out to WireGuard (WritePackets, then Read).
func TestBridgeHotPathDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector (sync.Pool drops items); make test runs this")
	}
	d := &Device{}
	d.mtu.Store(DefaultMTU)
	d.side = &tunSide{d: d, out: make(chan *stack.PacketBuffer, outQueue), done: make(chan struct{})}
	disp := &nullDispatcher{}
	d.dispatcher = disp

	const batch = conn.IdealBatchSize
	const offset = 16
	in := make([][]byte, batch)
	for i := range in {
		in[i] = append(make([]byte, offset), ipv4Packet(1420)...)
	}
	allocs := testing.AllocsPerRun(100, func() {
		_, _ = d.side.Write(in, offset)
	})
	assert.Equal(t, 100*batch+batch, disp.n, "every packet was delivered")
	assert.Zero(t, allocs/batch, "allocations per decrypted packet into the stack: %.2f per batch", allocs)

	// The list holds one reference to each packet, as the stack's
	// writer does; WritePackets takes its own for the queue.
	var list stack.PacketBufferList
	for i := 0; i < batch; i++ {
		list.PushBack(stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(ipv4Packet(1420))}))
	}
	defer list.Reset()
	bufs, sizes := make([][]byte, batch), make([]int, batch)
	for i := range bufs {
		bufs[i] = make([]byte, offset+DefaultMTU)
	}
	allocs = testing.AllocsPerRun(100, func() {
		n, err := d.WritePackets(list)
		if err != nil || n != batch {
			t.Fatalf("WritePackets: %d, %v", n, err)
		}
		got := 0
		for got < batch {
			k, err := d.side.Read(bufs[got:], sizes[got:], offset)
			require.NoError(t, err)
			got += k
		}
	})
	assert.Zero(t, allocs/batch, "allocations per stack packet out to WireGuard: %.2f per batch", allocs)
	assert.Equal(t, 1420, sizes[0])
}

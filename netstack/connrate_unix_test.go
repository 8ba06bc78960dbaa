//go:build unix

package netstack

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"github.com/interdict/interdict/tunnel/pipe"
)

// BenchmarkTCPConnect is tests/bench's connect loop in one process: a
// client gVisor stack connects through the forwarder (pipe link, host
// socket upstream to a loopback server), sends one byte, reads the
// answer and the server's FIN, and closes; one op is one connection.
// cpu-us/op is the process's CPU time (user + system) per connection,
// which counts the client stack and the loopback server too: compare it
// with a baseline from the same run, not with the appliance's figure.
func BenchmarkTCPConnect(b *testing.B) {
	srv := echoOnceServer(b)
	applianceLink, clientLink := pipe.New(0)
	// The appliance's own upstream dialer, sent to the loopback server.
	d := redirectDialer{to: netip.MustParseAddrPort(srv), d: &HostDialer{}}
	s, err := New(WithLink(applianceLink), WithDialer(d))
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	cs := clientStack(b, clientLink, tcpip.AddrFrom4([4]byte{10, 9, 0, 2}))
	dst := tcpip.FullAddress{Addr: tcpip.AddrFrom4([4]byte{10, 9, 0, 1}), Port: 80}

	const workers = 16
	var (
		next   atomic.Int64
		failed atomic.Int64
		wg     sync.WaitGroup
		errMu  sync.Mutex
		first  error
	)
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := connectOnce(cs, dst); err != nil {
					failed.Add(1)
					errMu.Lock()
					if first == nil {
						first = err
					}
					errMu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	cpu := cpuTime(b) - cpu0
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/op")
	// Packets the appliance wrote to the client and received from it:
	// each one costs a TUN write or read in production.
	b.ReportMetric(float64(applianceLink.Delivered())/float64(b.N), "pkts-out/op")
	b.ReportMetric(float64(clientLink.Delivered())/float64(b.N), "pkts-in/op")
	require.Zero(b, failed.Load(), "failed connections (first: %v)", first)
}

// redirectDialer dials to in place of the flow's destination.
type redirectDialer struct {
	to netip.AddrPort
	d  Dialer
}

func (r redirectDialer) Dial(ctx context.Context, network string, src, _ netip.AddrPort) (net.Conn, error) {
	return r.d.Dial(ctx, network, src, r.to)
}

// connectOnce is one connection of BenchmarkTCPConnect.
func connectOnce(cs *stack.Stack, dst tcpip.FullAddress) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := gonet.DialContextTCP(ctx, cs, dst, ipv4.ProtocolNumber)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	b := []byte{7}
	if _, err := c.Write(b); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if _, err := io.ReadFull(c, b); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if n, err := c.Read(b); n != 0 || err != io.EOF {
		return fmt.Errorf("want the server's FIN, got %d bytes, %v", n, err)
	}
	return nil
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	require.NoError(tb, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

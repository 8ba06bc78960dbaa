//go:build linux

package tun

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/interdict/interdict/tests/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/refs"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

func TestMain(m *testing.M) {
	// Every packet buffer and chunk is registered, so a buffer this
	// package takes and never releases fails TestTUNEcho.
	refs.SetLeakMode(refs.LeaksPanic)
	os.Exit(m.Run())
}

// newNetns creates a network namespace that is deleted when the test ends.
func newNetns(t *testing.T) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "itun-" + hex.EncodeToString(b[:])
	out, err := exec.Command("ip", "netns", "add", name).CombinedOutput()
	require.NoError(t, err, "ip netns add: %s", out)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	return name
}

// inNetns runs f on an OS thread switched into the namespace: TUN devices
// and sockets belong to the namespace of the thread that creates them.
func inNetns(t *testing.T, name string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if !assert.NoError(t, err) {
			return
		}
		defer orig.Close()
		target, err := os.Open("/var/run/netns/" + name)
		if !assert.NoError(t, err) {
			return
		}
		defer target.Close()
		if !assert.NoError(t, unix.Setns(int(target.Fd()), unix.CLONE_NEWNET)) {
			return
		}
		f()
		// A thread that cannot go back stays locked and is discarded.
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
	}()
	<-done
}

type echoCase struct {
	name     string
	queues   int
	hostAddr netip.Prefix // the namespace's side of the TUN
	stackIP  netip.Addr   // gVisor's address, reached through the TUN
}

func TestTUNEcho(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "ip")
	before := goleak.IgnoreCurrent()
	cases := []echoCase{
		{"ipv4-1queue", 1, netip.MustParsePrefix("10.99.0.1/24"), netip.MustParseAddr("10.99.0.2")},
		{"ipv4-2queues", 2, netip.MustParsePrefix("10.99.0.1/24"), netip.MustParseAddr("10.99.0.2")},
		{"ipv6-2queues", 2, netip.MustParsePrefix("fd00:99::1/64"), netip.MustParseAddr("fd00:99::2")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runEcho(t, tc) })
	}
	// Everything the subtests created is gone: buffers and goroutines.
	assert.NotPanics(t, refs.DoRepeatedLeakCheck, "packet buffers leaked")
	goleak.VerifyNone(t, before)
}

func runEcho(t *testing.T, tc echoCase) {
	ns := newNetns(t)
	var (
		dev *Device
		err error
	)
	inNetns(t, ns, func() {
		dev, err = Open(Config{Name: "itun0", Queues: tc.queues, Addresses: []netip.Prefix{tc.hostAddr}})
	})
	require.NoError(t, err)
	assert.Equal(t, tc.queues, dev.Queues())
	link, err := exec.Command("ip", "-n", ns, "-d", "link", "show", "itun0").CombinedOutput()
	require.NoError(t, err, "%s", link)
	assert.Contains(t, string(link), "qlen 5000")
	assert.Contains(t, string(link), "mtu 1500")
	assert.Contains(t, string(link), ",UP")

	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol},
	})
	t.Cleanup(func() {
		// Link endpoints are stopped by their owner, not by the stack.
		s.Close()
		dev.Close()
		s.Wait()
	})
	require.Nil(t, s.CreateNIC(1, dev))
	proto := header.IPv4ProtocolNumber
	if tc.stackIP.Is6() {
		proto = header.IPv6ProtocolNumber
	}
	require.Nil(t, s.AddProtocolAddress(1, tcpip.ProtocolAddress{
		Protocol:          proto,
		AddressWithPrefix: tcpip.AddrFromSlice(tc.stackIP.AsSlice()).WithPrefix(),
	}, stack.AddressProperties{}))
	s.SetRouteTable([]tcpip.Route{{Destination: header.IPv4EmptySubnet, NIC: 1}, {Destination: header.IPv6EmptySubnet, NIC: 1}})

	ln, err := gonet.ListenTCP(s, tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFromSlice(tc.stackIP.AsSlice()), Port: 7}, proto)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()

	// A real kernel socket in the namespace, routed into the TUN.
	var c net.Conn
	inNetns(t, ns, func() {
		d := net.Dialer{Timeout: 5 * time.Second}
		c, err = d.Dial("tcp", netip.AddrPortFrom(tc.stackIP, 7).String())
	})
	require.NoError(t, err)
	defer c.Close()

	const size = 32 << 20
	payload := make([]byte, size)
	_, _ = rand.Read(payload)
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		werr <- err
	}()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(60*time.Second)))
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	require.NoError(t, <-werr)
	require.Equal(t, len(payload), len(got), "echoed length")
	assert.True(t, bytes.Equal(payload, got), "echoed bytes differ")

	st := dev.Stats()
	assert.Zero(t, st.TxErrors, "write errors")
	assert.Zero(t, st.RxDropped, "dropped packets")
	// Both directions carried the payload; gVisor's segments went out as
	// GSO super-packets, so they average well above the MTU.
	assert.GreaterOrEqual(t, st.RxBytes, uint64(size))
	assert.GreaterOrEqual(t, st.TxBytes, uint64(size))
	require.NotZero(t, st.TxPackets)
	require.NotZero(t, st.RxPackets)
	assert.Greater(t, st.RxBytes/st.RxPackets, uint64(1500), "average read packet: kernel TSO super-packets were not handed over whole")
	assert.Greater(t, st.TxBytes/st.TxPackets, uint64(1500), "average written packet: GSO not in use")
	t.Logf("stats %+v", st)
}

func TestConfigDefaults(t *testing.T) {
	cases := []struct {
		name string
		in   Config
		want string // error substring; empty for success
	}{
		{"defaults", Config{Name: "t0"}, ""},
		{"no-name", Config{}, "empty interface name"},
		{"long-name", Config{Name: strings.Repeat("x", 16)}, "longer than 15"},
		{"mtu-low", Config{Name: "t0", MTU: 500}, "mtu 500"},
		{"queues", Config{Name: "t0", Queues: MaxQueues + 1}, fmt.Sprintf("queues %d", MaxQueues+1)},
		{"txqlen", Config{Name: "t0", TxQueueLen: -1}, "negative txqueuelen"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.in.withDefaults()
			if tc.want != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.want)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, DefaultMTU, got.MTU)
			assert.Equal(t, 1, got.Queues)
			assert.Equal(t, DefaultTxQueueLen, got.TxQueueLen)
		})
	}
}

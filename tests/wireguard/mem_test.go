package wireguard

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// heap is the live heap after a full collection.
func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// rss is the process's resident set (Linux), 0 elsewhere.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

// BenchmarkHubMemoryPeers: what 1,000 configured peers cost the hub (the
// registry entries, wireguard-go's peers and their allowed IPs). Run with
// -benchtime=1x; it reports heap bytes per peer and the process RSS, with
// the RSS of the same process holding the hub without peers.
func BenchmarkHubMemoryPeers(b *testing.B) {
	const n = 1000
	var peers []string
	for i := 0; i < n; i++ {
		r := newRunner(b, fmt.Sprintf("peer-%d", i), netip.AddrFrom4([4]byte{100, 96, byte(10 + i/250), byte(1 + i%250)}).String())
		peers = append(peers, r.peerYAML())
	}
	srv, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	defer srv.Close()
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		base := heap()
		_, stop := startHub(b, dir, "", netip.MustParseAddrPort(srv.Addr().String()))
		empty, rssEmpty := heap(), rss()
		stop()
		_, stop = startHub(b, dir, strings.Join(peers, ", "), netip.MustParseAddrPort(srv.Addr().String()))
		full := heap()
		b.ReportMetric(float64(empty-base), "hub-heap-bytes")
		b.ReportMetric(float64(int64(full)-int64(empty))/n, "heap-bytes/peer")
		// The baseline in the same run: the process with the empty hub.
		b.ReportMetric(float64(rssEmpty)/(1<<20), "rss-empty-hub-MiB")
		b.ReportMetric(float64(rss())/(1<<20), "rss-MiB")
		stop()
	}
}

// BenchmarkHubMemoryIdleFlows: 100 peers, each holding 10 idle TCP flows
// through the hub. The clients run in the same process, so the per-flow
// figure counts both ends (the runner's endpoint, the hub's two legs and
// relay, the server's socket): an upper bound of the hub's share.
func BenchmarkHubMemoryIdleFlows(b *testing.B) {
	const peers, flows = 100, 10
	srv := newServer(b)
	var runners []*runner
	var yaml []string
	for i := 0; i < peers; i++ {
		r := newRunner(b, fmt.Sprintf("runner-%d", i), netip.AddrFrom4([4]byte{100, 96, 1, byte(10 + i)}).String())
		runners = append(runners, r)
		yaml = append(yaml, r.peerYAML())
	}
	for i := 0; i < b.N; i++ {
		h, _ := startHub(b, b.TempDir(), strings.Join(yaml, ", "), srv.addr())
		for _, r := range runners {
			r.connect(b, h)
			echo(b, r, "up")
		}
		before, rssBefore := heap(), rss()
		var conns []net.Conn
		for _, r := range runners {
			for j := 0; j < flows; j++ {
				c, err := r.dial(b, 80, 20*time.Second)
				require.NoError(b, err)
				_, err = c.Write([]byte("E\n"))
				require.NoError(b, err)
				conns = append(conns, c)
			}
		}
		require.Eventually(b, func() bool { return h.st.Flows().Len() >= peers*flows }, 20*time.Second, 10*time.Millisecond)
		after, rssAfter := heap(), rss()
		b.ReportMetric(float64(int64(after)-int64(before))/float64(peers*flows), "heap-bytes/flow")
		b.ReportMetric(float64(int64(rssAfter)-int64(rssBefore))/(1<<20), "rss-delta-MiB")
		b.ReportMetric(float64(rssAfter)/(1<<20), "rss-MiB")
		for _, c := range conns {
			c.Close()
		}
	}
}

package harness

import (
	"context"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/interdict/interdict/netstack"
)

// BenchmarkIdleFlowMemory opens idle TCP flows through the harness and
// reports the heap per flow after GC. The figure covers the whole harness
// per flow: client endpoint, the appliance's two legs and relay state, and
// the server endpoint and its handler goroutine.
//
//	go test -run '^$' -bench IdleFlowMemory -benchtime 1x ./tests/harness/
func BenchmarkIdleFlowMemory(b *testing.B) {
	const flows = 10000
	for b.Loop() {
		n, err := Build(netstack.WithLimits(netstack.Limits{MaxSYNPerSource: flows, MaxSYNInFlight: 4096}))
		if err != nil {
			b.Fatal(err)
		}
		ln, err := n.Listen(srvAP)
		if err != nil {
			b.Fatal(err)
		}
		var srv []net.Conn
		accepted := make(chan struct{})
		go func() {
			defer close(accepted)
			for range flows {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				srv = append(srv, c)
			}
		}()
		base := heap()
		conns := make([]net.Conn, 0, flows)
		for range flows {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			c, err := n.Dial(ctx, srvAP)
			cancel()
			if err != nil {
				b.Fatal(err)
			}
			conns = append(conns, c)
		}
		<-accepted
		for n.Appliance.Flows().Len() < flows {
			time.Sleep(10 * time.Millisecond)
		}
		per := float64(heap()-base) / flows
		b.ReportMetric(per, "bytes/flow")
		b.ReportMetric(float64(runtime.NumGoroutine())/flows, "goroutines/flow")
		for _, c := range conns {
			c.Close()
		}
		for _, c := range srv {
			c.Close()
		}
		ln.Close()
		n.Close()
	}
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

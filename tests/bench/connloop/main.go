// Command connloop measures TCP connection rate for tests/bench: with
// -listen it serves (reads one byte, answers one byte, closes); otherwise
// it runs -parallel workers that connect, exchange one byte and close, for
// -duration, and prints connects per second, the number of failures and
// its own CPU time (user and system) per connection in microseconds.
// With -latency it also prints, on a second line, the median, 90th and
// 99th percentile of the two phases of a connection: connect (SYN to the
// SYN-ACK the client's kernel accepted) and exchange (the byte written to
// the answer read), so a slower rate can be told apart as slower
// handshakes or slower first data.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// maxSamples bounds the latency samples kept per worker.
const maxSamples = 1 << 16

func main() {
	listen := flag.String("listen", "", "serve on this address")
	addr := flag.String("addr", "", "connect to this address")
	parallel := flag.Int("parallel", 32, "concurrent connect loops")
	duration := flag.Duration("duration", 5*time.Second, "how long to measure")
	latency := flag.Bool("latency", false, "also print connect and exchange latency percentiles")
	flag.Parse()
	if *listen != "" {
		fmt.Fprintln(os.Stderr, "connloop:", serve(*listen))
		os.Exit(1)
	}
	var ok, failed atomic.Int64
	deadline := time.Now().Add(*duration)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var connect, exchange []time.Duration
	for i := 0; i < *parallel; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var myConnect, myExchange []time.Duration
			defer func() {
				mu.Lock()
				connect = append(connect, myConnect...)
				exchange = append(exchange, myExchange...)
				mu.Unlock()
			}()
			b := make([]byte, 1)
			for time.Now().Before(deadline) {
				t0 := time.Now()
				c, err := net.DialTimeout("tcp", *addr, 2*time.Second)
				if err != nil {
					failed.Add(1)
					continue
				}
				t1 := time.Now()
				_ = c.SetDeadline(t1.Add(2 * time.Second))
				if _, err := c.Write(b); err == nil {
					if _, err = io.ReadFull(c, b); err == nil {
						ok.Add(1)
						if len(myConnect) < maxSamples {
							myConnect = append(myConnect, t1.Sub(t0))
							myExchange = append(myExchange, time.Since(t1))
						}
					} else {
						failed.Add(1)
					}
				} else {
					failed.Add(1)
				}
				c.Close()
			}
		}()
	}
	wg.Wait()
	fmt.Printf("%.0f %d %.1f\n", float64(ok.Load())/duration.Seconds(), failed.Load(), cpuPerConn(ok.Load()))
	if *latency {
		fmt.Printf("connect p50 %s p90 %s p99 %s, exchange p50 %s p90 %s p99 %s\n",
			pct(connect, 50), pct(connect, 90), pct(connect, 99), pct(exchange, 50), pct(exchange, 90), pct(exchange, 99))
	}
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[(len(d)-1)*p/100].Round(time.Microsecond)
}

// serve runs until the listener fails and returns why.
func serve(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			b := make([]byte, 1)
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(c, b); err == nil {
				_, _ = c.Write(b)
			}
		}()
	}
}

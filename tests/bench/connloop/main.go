// Command connloop measures TCP connection rate for tests/bench: with
// -listen it serves (reads one byte, answers one byte, closes); otherwise
// it runs -parallel workers that connect, exchange one byte and close, for
// -duration, and prints connects per second.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	listen := flag.String("listen", "", "serve on this address")
	addr := flag.String("addr", "", "connect to this address")
	parallel := flag.Int("parallel", 32, "concurrent connect loops")
	duration := flag.Duration("duration", 5*time.Second, "how long to measure")
	flag.Parse()
	if *listen != "" {
		fmt.Fprintln(os.Stderr, "connloop:", serve(*listen))
		os.Exit(1)
	}
	var ok, failed atomic.Int64
	deadline := time.Now().Add(*duration)
	var wg sync.WaitGroup
	for i := 0; i < *parallel; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := make([]byte, 1)
			for time.Now().Before(deadline) {
				c, err := net.DialTimeout("tcp", *addr, 2*time.Second)
				if err != nil {
					failed.Add(1)
					continue
				}
				_ = c.SetDeadline(time.Now().Add(2 * time.Second))
				if _, err := c.Write(b); err == nil {
					if _, err = io.ReadFull(c, b); err == nil {
						ok.Add(1)
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
	fmt.Printf("%.0f %d\n", float64(ok.Load())/duration.Seconds(), failed.Load())
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

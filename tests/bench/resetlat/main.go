// Command resetlat measures how long a client waits for the reset of a
// request that a reject rule blocks (tests/bench/inspect.sh). Three modes:
//
//	resetlat probe -addr host:port [-n 500] [-samples file]
//	    N times, one after another: connect, send the request in two writes
//	    split inside the matching URI, and time from the write that
//	    completes the match to the read that fails with ECONNRESET.
//	resetlat report file...
//	    pooled percentiles and a histogram of the samples of probe runs.
//	resetlat promhist -metric name before after [before after ...]
//	    the quantiles of a Prometheus histogram over the intervals between
//	    pairs of /metrics scrapes (bucket deltas, interpolated in the bucket
//	    as histogram_quantile does).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: resetlat probe|report|promhist ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "probe":
		err = probeCmd(os.Args[2:])
	case "report":
		err = reportCmd(os.Args[2:])
	case "promhist":
		err = promhistCmd(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "resetlat:", err)
		os.Exit(1)
	}
}

// The probe request is split inside the URI the bench's reject rule looks
// for: the first write cannot match, the second completes the match (and
// the request), so the timed interval holds one inspection of one chunk.
const (
	probeHead = "GET /interdict-bench-re"
	probeTail = "set HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: resetlat\r\nAccept: */*\r\n\r\n"
)

// outcome of one probe; only reset carries a latency.
type outcome int

const (
	reset   outcome = iota // read failed with ECONNRESET: the rule's reset
	early                  // the reset came before the completing write
	answer                 // the origin answered: nothing rejected it
	closed                 // orderly close or another error
	timeout                // nothing within the deadline
)

var outcomeNames = [...]string{"reset", "reset before completing write", "answered", "closed/other error", "timeout"}

func probeCmd(args []string) error {
	fs := flag.NewFlagSet("probe", flag.ExitOnError)
	addr := fs.String("addr", "", "host:port of the HTTP origin behind the appliance")
	n := fs.Int("n", 500, "probes")
	gap := fs.Duration("gap", 3*time.Millisecond, "pause between the two writes, so the first is inspected on its own")
	wait := fs.Duration("timeout", 2*time.Second, "deadline of one probe")
	samples := fs.String("samples", "", "append each reset latency (ns, one a line) to this file")
	_ = fs.Parse(args)
	if *addr == "" {
		return errors.New("probe: -addr is required")
	}
	var out *os.File
	if *samples != "" {
		f, err := os.OpenFile(*samples, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("probe: samples: %w", err)
		}
		defer f.Close()
		out = f
	}
	var lat []time.Duration
	var counts [len(outcomeNames)]int
	for i := 0; i < *n; i++ {
		o, d, err := probe(*addr, *gap, *wait)
		if err != nil {
			return fmt.Errorf("probe %d: %w", i+1, err)
		}
		counts[o]++
		if o == reset {
			lat = append(lat, d)
			if out != nil {
				fmt.Fprintln(out, d.Nanoseconds())
			}
		}
	}
	fmt.Print(summary(lat))
	for o, c := range counts {
		if o != int(reset) && c > 0 {
			fmt.Printf("  %d of %d probes: %s\n", c, *n, outcomeNames[o])
		}
	}
	return nil
}

// probe runs one connection; an error means the probe could not be made at
// all (connect failed), not that the reset failed to come.
func probe(addr string, gap, wait time.Duration) (outcome, time.Duration, error) {
	c, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		return 0, 0, fmt.Errorf("connect %s: %w", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(wait + gap))
	if _, err := io.WriteString(c, probeHead); err != nil {
		return classify(err, early), 0, nil
	}
	time.Sleep(gap)
	start := time.Now()
	if _, err := io.WriteString(c, probeTail); err != nil {
		return classify(err, early), 0, nil
	}
	var b [512]byte
	nr, err := c.Read(b[:])
	d := time.Since(start)
	if nr > 0 {
		return answer, 0, nil
	}
	return classify(err, reset), d, nil
}

func classify(err error, asReset outcome) outcome {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return asReset
	case errors.As(err, &ne) && ne.Timeout():
		return timeout
	default:
		return closed
	}
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func summary(lat []time.Duration) string {
	if len(lat) == 0 {
		return "resets 0\n"
	}
	s := append([]time.Duration(nil), lat...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	us := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e3, 'f', 0, 64) }
	return fmt.Sprintf("resets %d: p50 %s us, p90 %s us, p99 %s us, max %s us\n",
		len(s), us(percentile(s, 50)), us(percentile(s, 90)), us(percentile(s, 99)), us(s[len(s)-1]))
}

// histogram draws the samples in doubling buckets from 25 us.
func histogram(lat []time.Duration) string {
	var b strings.Builder
	lo := time.Duration(0)
	hi := 25 * time.Microsecond
	for {
		c := 0
		for _, d := range lat {
			if d >= lo && d < hi {
				c++
			}
		}
		more := false
		for _, d := range lat {
			if d >= hi {
				more = true
				break
			}
		}
		if c > 0 || (more && b.Len() > 0) {
			bar := strings.Repeat("#", (c*50+len(lat)-1)/len(lat))
			fmt.Fprintf(&b, "  %6.0f - %6.0f us %5d %s\n", float64(lo)/1e3, float64(hi)/1e3, c, bar)
		}
		if !more {
			return b.String()
		}
		lo, hi = hi, hi*2
	}
}

func reportCmd(files []string) error {
	var lat []time.Duration
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		for i, line := range strings.Fields(string(b)) {
			ns, err := strconv.ParseInt(line, 10, 64)
			if err != nil {
				return fmt.Errorf("report: %s:%d: %w", f, i+1, err)
			}
			lat = append(lat, time.Duration(ns))
		}
	}
	fmt.Print(summary(lat))
	if len(lat) > 0 {
		fmt.Print(histogram(lat))
	}
	return nil
}

// bucket is one cumulative bucket of a Prometheus histogram.
type bucket struct {
	le    float64 // upper bound, +Inf for the last
	count float64 // observations <= le
}

// parseHistogram reads the cumulative buckets of metric from a Prometheus
// text exposition (an unlabelled histogram, or the sum over its series).
func parseHistogram(text, metric string) ([]bucket, error) {
	byLE := map[float64]float64{}
	prefix := metric + "_bucket{"
	for i, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		k := strings.Index(line, `le="`)
		end := strings.LastIndexByte(line, '}')
		if k < 0 || end < k {
			return nil, fmt.Errorf("line %d: no le label: %q", i+1, line)
		}
		leText := line[k+4:]
		leText = leText[:strings.IndexByte(leText, '"')]
		le, err := strconv.ParseFloat(leText, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: le: %w", i+1, err)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(line[end+1:]), 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: value: %w", i+1, err)
		}
		byLE[le] += v
	}
	if len(byLE) == 0 {
		return nil, fmt.Errorf("no %s buckets", metric)
	}
	bs := make([]bucket, 0, len(byLE))
	for le, c := range byLE {
		bs = append(bs, bucket{le, c})
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	return bs, nil
}

// quantile estimates the q-quantile of cumulative buckets the way
// Prometheus' histogram_quantile does: linear within the bucket that holds
// it, from 0 for the first bucket; in the +Inf bucket the answer is the
// highest finite bound and inf reports that it is only a lower bound.
func quantile(bs []bucket, q float64) (v float64, inf bool) {
	if len(bs) == 0 || bs[len(bs)-1].count == 0 {
		return 0, false
	}
	rank := q * bs[len(bs)-1].count
	lo, below := 0.0, 0.0
	for _, b := range bs {
		if b.count >= rank {
			if b.le > 1e300 {
				return lo, true
			}
			if b.count == below {
				return b.le, false
			}
			return lo + (b.le-lo)*(rank-below)/(b.count-below), false
		}
		lo, below = b.le, b.count
	}
	return lo, true
}

func promhistCmd(args []string) error {
	fs := flag.NewFlagSet("promhist", flag.ExitOnError)
	metric := fs.String("metric", "interdict_enforce_match_verdict_seconds", "histogram name")
	_ = fs.Parse(args)
	files := fs.Args()
	if len(files) == 0 || len(files)%2 != 0 {
		return errors.New("promhist: needs pairs of scrapes (before after ...)")
	}
	var sum []bucket
	for i := 0; i < len(files); i += 2 {
		var pair [2][]bucket
		for j := range pair {
			b, err := os.ReadFile(files[i+j])
			if err != nil {
				return fmt.Errorf("promhist: %w", err)
			}
			if pair[j], err = parseHistogram(string(b), *metric); err != nil {
				return fmt.Errorf("promhist: %s: %w", files[i+j], err)
			}
		}
		if len(pair[0]) != len(pair[1]) {
			return fmt.Errorf("promhist: %s and %s have different buckets", files[i], files[i+1])
		}
		if sum == nil {
			sum = make([]bucket, len(pair[0]))
		}
		for k := range sum {
			sum[k].le = pair[1][k].le
			sum[k].count += pair[1][k].count - pair[0][k].count
		}
	}
	n := sum[len(sum)-1].count
	fmt.Printf("%s: %.0f observations", *metric, n)
	for _, q := range []float64{0.5, 0.9, 0.99} {
		v, inf := quantile(sum, q)
		op := ""
		if inf {
			op = ">"
		}
		fmt.Printf(", p%.0f %s%.0f us", q*100, op, v*1e6)
	}
	fmt.Println()
	return nil
}

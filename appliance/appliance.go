package appliance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/interdict/interdict/netstack"
	"github.com/interdict/interdict/tunnel/tun"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewLogger builds the one slog logger of the process from the settings.
func NewLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(strings.ToUpper(level)))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// closingLink hands the TUN device to the stack. gVisor's Stack.Wait waits
// for link endpoints' goroutines but leaves stopping them to their owner,
// and netstack.Stack.Close calls it only after every flow has ended; so
// Wait is where the device is closed, after the last FIN or RST went out.
type closingLink struct{ *tun.Device }

func (l closingLink) Wait() {
	l.Device.Close()
	l.Device.Wait()
}

// Run runs the appliance until ctx is cancelled: it opens the TUN, builds
// the netstack with the configured dialer and handler, serves /metrics and
// on cancellation ends every flow and removes the TUN.
func Run(ctx context.Context, s *Settings, log *slog.Logger) (err error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	dev, err := openTUN(s.Link)
	if err != nil {
		return err
	}
	defer dev.Close()
	if err := registerTUNMetrics(reg, dev, "client"); err != nil {
		return err
	}

	opts := []netstack.Option{
		netstack.WithLink(closingLink{dev}),
		netstack.WithNICName(dev.Name()),
		netstack.WithLimits(s.Limits),
		netstack.WithMetrics(reg),
		netstack.WithLogger(log),
		netstack.WithHandler(handlerFor(s)),
	}
	switch s.Upstream {
	case "transparent":
		up, err := openTUN(s.Transparent)
		if err != nil {
			return err
		}
		defer up.Close()
		if err := registerTUNMetrics(reg, up, "upstream"); err != nil {
			return err
		}
		opts = append(opts, netstack.WithUpstreamLink(closingLink{up}))
	default:
		d := s.Host
		opts = append(opts, netstack.WithDialer(&d))
	}
	st, err := netstack.New(opts...)
	if err != nil {
		return fmt.Errorf("netstack: %w", err)
	}
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("netstack close: %w", cerr)
		}
	}()

	srvErr := make(chan error, 1)
	var srv *http.Server
	if s.Metrics != "" {
		ln, err := net.Listen("tcp", s.Metrics)
		if err != nil {
			return fmt.Errorf("metrics listen %s: %w", s.Metrics, err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { srvErr <- srv.Serve(ln) }()
		log.Info("metrics", "listen", ln.Addr().String())
	}
	log.Info("running", "tun", dev.Name(), "queues", dev.Queues(), "mtu", dev.MTU(),
		"upstream", s.Upstream, "mark", s.Host.Mark, "bind_device", s.Host.BindDevice, "handler", s.Handler.Mode)

	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-srvErr:
		return fmt.Errorf("metrics server: %w", err)
	}
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("metrics server shutdown", "err", err)
		}
	}
	return nil
}

func openTUN(t TUNSettings) (*tun.Device, error) {
	dev, err := tun.Open(tun.Config{Name: t.Name, MTU: t.MTU, Queues: t.Queues, TxQueueLen: t.TxQueueLen, Addresses: t.Addresses})
	if err != nil {
		return nil, fmt.Errorf("%w (creating a TUN needs CAP_NET_ADMIN)", err)
	}
	return dev, nil
}

func handlerFor(s *Settings) netstack.Handler {
	if s.Handler.Mode == "pattern" {
		return &netstack.PatternHandler{Pattern: []byte(s.Handler.Pattern), Verdict: s.Verdict}
	}
	return netstack.PassAll{}
}

func registerTUNMetrics(reg prometheus.Registerer, dev *tun.Device, link string) error {
	counter := func(name, help string, f func(tun.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "interdict", Subsystem: "tun", Name: name, Help: help,
			ConstLabels: prometheus.Labels{"link": link, "device": dev.Name()},
		}, func() float64 { return float64(f(dev.Stats())) })
	}
	for _, c := range []prometheus.Collector{
		counter("rx_packets_total", "Packets read from the TUN (kernel super-packets split).", func(s tun.Stats) uint64 { return s.RxPackets }),
		counter("rx_bytes_total", "Bytes read from the TUN.", func(s tun.Stats) uint64 { return s.RxBytes }),
		counter("tx_packets_total", "Packets written to the TUN (a GSO super-packet counts once).", func(s tun.Stats) uint64 { return s.TxPackets }),
		counter("tx_bytes_total", "Bytes written to the TUN.", func(s tun.Stats) uint64 { return s.TxBytes }),
		counter("rx_dropped_total", "Packets read but dropped: bad checksum, not IP, no stack.", func(s tun.Stats) uint64 { return s.RxDropped }),
		counter("rx_errors_total", "Failed TUN reads.", func(s tun.Stats) uint64 { return s.RxErrors }),
		counter("tx_errors_total", "Failed TUN writes.", func(s tun.Stats) uint64 { return s.TxErrors }),
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("tun metrics: %w", err)
		}
	}
	return nil
}

package appliance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/interdict/interdict/appliance/admin"
	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/netstack"
	"github.com/interdict/interdict/tunnel/tun"
)

// Version is reported by the admin API; main sets it from its build flag.
var Version = "dev"

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

// Run runs the appliance until ctx is cancelled: it loads the rules, opens
// the link (the WireGuard hub, or a TUN), builds the netstack with the configured dialer and handler,
// serves /metrics and the admin API, reloads the rules on SIGUSR2 and
// reopens the EVE file on SIGHUP; on cancellation it ends every flow and
// removes the TUN.
func Run(ctx context.Context, s *Settings, log *slog.Logger) (err error) {
	a, err := New(s, log)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := a.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	reg := a.Registry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if s.LinkMode == "wireguard" {
		return a.runWireGuard(ctx)
	}

	dev, err := openTUN(s.Link)
	if err != nil {
		return err
	}
	defer dev.Close()
	if err := registerTUNMetrics(reg, dev, "client"); err != nil {
		return err
	}

	opts := append([]netstack.Option{
		netstack.WithLink(dev),
		netstack.WithNICName(dev.Name()),
		netstack.WithLimits(s.Limits),
	}, a.StackOptions()...)
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
		opts = append(opts, netstack.WithUpstreamLink(up))
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
	if err := a.Attach(st); err != nil {
		return err
	}
	log.Info("running", "tun", dev.Name(), "queues", dev.Queues(), "mtu", dev.MTU(),
		"upstream", s.Upstream, "mark", fmt.Sprintf("%#x", s.Host.Mark), "bind_device", s.Host.BindDevice, "handler", s.Handler.Mode,
		"mode", s.Mode, "eve", s.EVEPath, "admin", s.AdminSocket)
	logRoutingHint(log, s)
	return a.Serve(ctx)
}

// shutdownGrace bounds the wait for in-flight metrics and admin requests
// at shutdown.
const shutdownGrace = 5 * time.Second

// Serve is the control loop of an appliance attached to its stack: it
// serves /metrics and the admin API, writes stats events, reloads the
// rules on SIGUSR2 and reopens the EVE file on SIGHUP, until ctx ends.
// The signal handlers are installed before the admin API listens, so a
// caller that saw the API answer may signal.
func (a *Appliance) Serve(ctx context.Context) error {
	s, log := a.s, a.log
	sigs := make(chan os.Signal, 4)
	if len(ctlSignals) > 0 {
		signal.Notify(sigs, ctlSignals...)
		defer signal.Stop(sigs)
	}

	srvErr := make(chan error, 1)
	var srv *http.Server
	if s.Metrics != "" {
		ln, err := net.Listen("tcp", s.Metrics)
		if err != nil {
			return listenHint(fmt.Errorf("metrics listen %s: %w", s.Metrics, err), "metrics.listen")
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg}))
		// The probes beside /metrics: orchestrators reach this TCP
		// listener without the admin API's socket or token.
		admin.RegisterHealth(mux, a.Ready)
		srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { srvErr <- srv.Serve(ln) }()
		log.Info("metrics", "listen", ln.Addr().String())
	}
	defer func() {
		if srv == nil {
			return
		}
		sdCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if err := srv.Shutdown(sdCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("metrics server shutdown", "err", err)
		}
	}()
	adm, err := a.ServeAdmin()
	if err != nil {
		return err
	}
	var admErr <-chan error
	if adm != nil {
		admErr = adm.Err()
		defer func() {
			sdCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			defer cancel()
			if err := adm.Shutdown(sdCtx); err != nil {
				log.Warn("admin server shutdown", "err", err)
			}
		}()
	}

	statsDone := make(chan struct{})
	sctx, stopStats := context.WithCancel(ctx)
	go func() { defer close(statsDone); a.StatsLoop(sctx) }()
	defer func() { stopStats(); <-statsDone }()

	for {
		select {
		case <-ctx.Done():
			a.stopping.Store(true)
			log.Info("shutting down")
			return nil
		case sig := <-sigs:
			switch sig {
			case reopenSignal:
				if err := a.ReopenEVE(); err != nil {
					log.Error("SIGHUP: reopen EVE", "err", err)
				} else {
					log.Info("SIGHUP: EVE file reopened", "path", s.EVEPath)
				}
			case reloadSignal:
				// Reload logs its outcome; a refusal keeps the running rules.
				_, _ = a.Reload(ctx)
			}
		case err := <-srvErr:
			return fmt.Errorf("metrics server: %w", err)
		case err := <-admErr:
			return err
		}
	}
}

// ServeAdmin starts the admin API on the configured unix socket and TCP
// listener; nil when neither is configured.
func (a *Appliance) ServeAdmin() (*admin.Server, error) {
	s := a.s
	if s.AdminSocket == "" && s.AdminTCP == "" {
		return nil, nil
	}
	h := admin.NewHandler(a, a.log)
	var th http.Handler
	if s.AdminTCP != "" {
		var err error
		if th, err = admin.RequireToken(h, s.AdminToken); err != nil {
			return nil, err
		}
	}
	srv := admin.NewServer()
	if s.AdminSocket != "" {
		ln, err := admin.ListenUnix(s.AdminSocket)
		if err != nil {
			return nil, pathHint(err, "admin.socket", `"" turns the admin API off`)
		}
		srv.Serve(ln, h)
		a.log.Info("admin API", "socket", s.AdminSocket)
	}
	if s.AdminTCP != "" {
		ln, err := net.Listen("tcp", s.AdminTCP)
		if err != nil {
			_ = srv.Shutdown(context.Background())
			return nil, listenHint(fmt.Errorf("admin tcp listen %s: %w", s.AdminTCP, err), "admin.tcp.listen")
		}
		srv.Serve(ln, th)
		a.log.Info("admin API", "tcp", ln.Addr().String())
	}
	return srv, nil
}

func openTUN(t TUNSettings) (*tun.Device, error) {
	dev, err := tun.Open(tun.Config{Name: t.Name, MTU: t.MTU, Queues: t.Queues, TxQueueLen: t.TxQueueLen, Addresses: t.Addresses})
	if err != nil {
		return nil, tunHint(err)
	}
	return dev, nil
}

// openEVE opens the EVE sink: a file (its directory created 0750), stdout
// for "-", none for "".
func openEVE(path string) (*eve.Writer, error) {
	switch path {
	case "":
		return nil, nil
	case "-":
		return eve.NewWriter(os.Stdout), nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, pathHint(fmt.Errorf("eve: %w", err), "eve.path", `"-" writes to stdout, "" turns EVE off`)
	}
	w, err := eve.OpenFile(path)
	if err != nil {
		return nil, pathHint(err, "eve.path", `"-" writes to stdout, "" turns EVE off`)
	}
	return w, nil
}

func registerTUNMetrics(reg prometheus.Registerer, dev *tun.Device, link string) error {
	counter := func(name, help string, f func(tun.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "interdict", Subsystem: "tun", Name: name, Help: help,
			ConstLabels: prometheus.Labels{"link": link, "device": dev.Name()},
		}, func() float64 { return float64(f(dev.Stats())) })
	}
	for _, c := range []prometheus.Collector{
		counter("rx_packets_total", "Packets read from the TUN; a kernel TSO super-packet counts once.", func(s tun.Stats) uint64 { return s.RxPackets }),
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

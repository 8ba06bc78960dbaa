package appliance

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/interdict/interdict/netstack"
)

// runWireGuard is Run for link.mode wireguard: the hub's device is the
// client link and upstream legs leave through host sockets, so nothing
// needs a privilege (no TUN, no SO_MARK: nothing is routed back into the
// appliance).
func (a *Appliance) runWireGuard(ctx context.Context) (err error) {
	s := a.s
	dev, err := a.OpenWireGuard()
	if err != nil {
		return err
	}
	d := s.Host
	st, err := netstack.New(append([]netstack.Option{
		netstack.WithLink(dev),
		netstack.WithNICName("wg"),
		netstack.WithLimits(s.Limits),
		netstack.WithDialer(&d),
	}, a.StackOptions()...)...)
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
	a.log.Info("running", "link", "wireguard", "port", dev.ListenPort(), "mtu", dev.MTU(), "peers", len(a.hub.peers),
		"handler", s.Handler.Mode, "mode", s.Mode, "state", s.StateDir, "eve", s.EVEPath, "admin", s.AdminSocket)
	a.printBanner(os.Stderr, selfCommand(os.Args[0]))
	return a.Serve(ctx)
}

// printBanner tells a person what is running and what to do next: the
// hub's public key, where it listens, where its state and events are, and
// the command that adds the first peer, spelt self (how this binary is run
// again).
func (a *Appliance) printBanner(w io.Writer, self string) {
	s, h := a.s, a.hub
	hubView, _ := a.Hub()
	var b strings.Builder
	fmt.Fprintf(&b, "\ninterdict: WireGuard hub running (no privileges needed)\n")
	fmt.Fprintf(&b, "  public key    %s\n", hubView.PublicKey)
	fmt.Fprintf(&b, "  listening     UDP port %d, IPv4 and IPv6 (overlay MTU %d)\n", hubView.ListenPort, hubView.MTU)
	if len(h.cfg.Addresses) > 0 {
		fmt.Fprintf(&b, "  overlay       %s, new peers from %s\n", joinPrefixes(h.cfg.Addresses), joinPrefixes(h.cfg.Pool))
	}
	fmt.Fprintf(&b, "  peers         %d\n", len(h.peers))
	fmt.Fprintf(&b, "  state         %s (hub key, peers added at runtime)\n", s.StateDir)
	if s.EVEPath != "" {
		fmt.Fprintf(&b, "  events (EVE)  %s\n", s.EVEPath)
	}
	if s.AdminSocket != "" {
		fmt.Fprintf(&b, "  admin socket  %s\n", s.AdminSocket)
	}
	if s.Metrics != "" {
		fmt.Fprintf(&b, "  metrics       http://%s/metrics\n", s.Metrics)
	}
	sock := ""
	if s.AdminSocket != "" && s.AdminSocket != DefaultAdminSocketPath() {
		sock = " --socket " + s.AdminSocket
	}
	fmt.Fprintf(&b, "\nConnect a first runner: on this host run\n")
	fmt.Fprintf(&b, "  %s peer add%s runner-1 --endpoint HOST:%d > runner-1.conf\n", self, sock, hubView.ListenPort)
	fmt.Fprintf(&b, "(HOST: this machine's address as the runner reaches it), copy runner-1.conf to the runner and run\n")
	fmt.Fprintf(&b, "  wg-quick up ./runner-1.conf\n")
	fmt.Fprintf(&b, "Every flow of the runner is then inspected; `%s ctl%s flows` shows them with its identity.\n", self, sock)
	// wg-quick needs root and, on this very host, would route the hub's
	// own upstream sockets into the tunnel: a first user with one
	// machine needs another way in.
	fmt.Fprintf(&b, "One machine, no root: `%s demo`; a runner in a network namespace: docs/operations.md#trying-it-on-one-machine\n\n", self)
	_, _ = io.WriteString(w, b.String())
}

// selfCommand is how a person runs this binary again from the same
// directory: its bare name when started through PATH (or when PATH finds
// this very file), else the path it was started with. `make run` starts
// bin/interdict, which no PATH holds, and a banner that said "interdict
// peer add" sent a first-time user to "command not found".
func selfCommand(arg0 string) string {
	if !strings.ContainsRune(arg0, filepath.Separator) {
		return arg0
	}
	name := filepath.Base(arg0)
	if p, err := exec.LookPath(name); err == nil {
		if a, err1 := os.Stat(p); err1 == nil {
			if b, err2 := os.Stat(arg0); err2 == nil && os.SameFile(a, b) {
				return name
			}
		}
	}
	return arg0
}

func joinPrefixes(ps []netip.Prefix) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return strings.Join(out, ", ")
}

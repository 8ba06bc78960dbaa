package appliance

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
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
	a.printBanner(os.Stderr)
	return a.Serve(ctx)
}

// printBanner tells a person what is running and what to do next: the
// hub's public key, where it listens, where its state and events are, and
// the command that adds the first peer.
func (a *Appliance) printBanner(w io.Writer) {
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
	self := commandName(os.Args[0])
	fmt.Fprintf(&b, "\nConnect a first runner: on this host run\n")
	fmt.Fprintf(&b, "  %s peer add%s runner-1 --endpoint HOST:%d > runner-1.conf\n", self, sock, hubView.ListenPort)
	fmt.Fprintf(&b, "(HOST: this machine's address as the runner reaches it), copy runner-1.conf to the runner and run\n")
	fmt.Fprintf(&b, "  wg-quick up ./runner-1.conf\n")
	fmt.Fprintf(&b, "Every flow of the runner is then inspected; `%s ctl%s flows` shows them with its identity.\n\n", self, sock)
	_, _ = io.WriteString(w, b.String())
}

// commandName is how the person who started the appliance runs its other
// commands: the name the shell found on PATH, or, for a binary started by
// its path (bin/interdict after `make run`), that path, unless PATH's
// interdict is this very file. A bare "interdict" after `make run` would
// find nothing, or an older installed binary.
func commandName(arg0 string) string {
	if !strings.ContainsAny(arg0, "/"+string(os.PathSeparator)) {
		return arg0
	}
	if p, err := exec.LookPath("interdict"); err == nil {
		onPath, err1 := os.Stat(p)
		self, err2 := os.Stat(arg0)
		if err1 == nil && err2 == nil && os.SameFile(onPath, self) {
			return "interdict"
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

package appliance

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"syscall"
)

// The errors a first run meets most (a path this user may not write, a
// port another process holds, a TUN without the capability) carry a hint
// line saying what to change, in config keys the user can set.

// hinted is an error with a line of advice; errors.Is and As see through it.
type hinted struct {
	err  error
	hint string
}

func (h *hinted) Error() string { return h.err.Error() + "\n  hint: " + h.hint }
func (h *hinted) Unwrap() error { return h.err }

// pathHint explains a permission error on a path the config chose:
// which key moves it, and what value turns it off or redirects it.
func pathHint(err error, key, alternative string) error {
	if !errors.Is(err, fs.ErrPermission) {
		return err
	}
	return &hinted{err, fmt.Sprintf("this user may not write there: run as root or as the packaged service "+
		"(systemctl start interdict), or set %s in a config file (--config FILE) to a path this user can write; %s",
		key, alternative)}
}

// listenHint explains an address another process holds.
func listenHint(err error, key string) error {
	if !errors.Is(err, syscall.EADDRINUSE) {
		return err
	}
	return &hinted{err, fmt.Sprintf("another process (another interdict?) listens there: stop it, or set %s to another address", key)}
}

// tunHint explains a TUN the process may not or cannot create.
func tunHint(err error) error {
	switch {
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EPERM):
		// The binary's own path: a first run is bin/interdict of a
		// checkout, which `command -v interdict` does not find.
		exe, xerr := os.Executable()
		if xerr != nil {
			exe = "$(command -v interdict)"
		}
		setcap := "sudo setcap cap_net_admin+ep " + exe
		if errors.Is(err, syscall.EACCES) {
			// The device node's mode refused the open, before any
			// capability is asked for: some hosts make it 0600, and
			// then setcap alone does not help.
			return &hinted{err, "this user may not open /dev/net/tun (Debian makes it 0666; here it is not): run as root, " +
				"or open the node (sudo chmod 0666 /dev/net/tun) and grant CAP_NET_ADMIN to the binary (" + setcap + ")"}
		}
		return &hinted{err, "creating a TUN needs CAP_NET_ADMIN: run as root, or grant it to the binary (" + setcap + ")"}
	case errors.Is(err, fs.ErrNotExist):
		return &hinted{err, "no TUN device node: load the module (modprobe tun) or, in a container, " +
			"pass the device in (--device /dev/net/tun)"}
	}
	return err
}

// logRoutingHint says, once the TUN is up, what the operator must do next:
// nothing is routed into the TUN until a route sends traffic there, and
// the marked upstream sockets must bypass it.
func logRoutingHint(log *slog.Logger, s *Settings) {
	if s.Upstream != "host" {
		log.Info("next: route the clients' traffic into the client TUN and the upstream TUN towards the servers",
			"tun", s.Link.Name, "upstream_tun", s.Transparent.Name, "docs", "docs/operations.md#routing")
		return
	}
	steps := ""
	if s.Host.Mark != 0 {
		steps = fmt.Sprintf("ip rule add pref 100 fwmark %#x lookup main; ", s.Host.Mark)
	}
	steps += fmt.Sprintf("ip rule add pref 200 from CLIENT_PREFIX lookup 100; ip route add default dev %s table 100", s.Link.Name)
	log.Info("next: nothing is inspected until traffic is routed into the TUN", "tun", s.Link.Name,
		"example", steps, "docs", "docs/operations.md#routing")
}

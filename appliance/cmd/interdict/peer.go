package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/interdict/interdict/appliance"
	"github.com/interdict/interdict/appliance/admin"
	"github.com/interdict/interdict/tunnel/wg"
)

// keygenCommand is `interdict keygen`: wg genkey.
func keygenCommand() *cli.Command {
	return &cli.Command{
		Name:  "keygen",
		Usage: "print a new WireGuard private key (base64, as wg genkey)",
		Action: func(c *cli.Context) error {
			k, err := wg.GenerateKey()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(c.App.Writer, k.String())
			return err
		},
	}
}

// pubkeyCommand is `interdict pubkey`: wg pubkey.
func pubkeyCommand() *cli.Command {
	return &cli.Command{
		Name:        "pubkey",
		Usage:       "read a private key on stdin, print its public key (as wg pubkey)",
		Description: "interdict keygen | tee private.key | interdict pubkey",
		Action: func(c *cli.Context) error {
			line, err := bufio.NewReader(io.LimitReader(os.Stdin, 1024)).ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			k, err := wg.ParseKey(line)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(c.App.Writer, k.PublicKey().String())
			return err
		},
	}
}

// peerCommand is `interdict peer`: WireGuard peers of a running hub.
func peerCommand() *cli.Command {
	// Each subcommand takes --socket (not the parent): urfave/cli would
	// let a subcommand's default shadow a value given to the parent.
	socket := &cli.StringFlag{Name: "socket", Value: appliance.DefaultAdminSocketPath(), EnvVars: []string{"INTERDICT_ADMIN_SOCKET"}, Usage: "admin unix socket `PATH` of the hub"}
	return &cli.Command{
		Name:  "peer",
		Usage: "add, list and remove the WireGuard peers of a running hub",
		Subcommands: []*cli.Command{
			{
				Name:      "add",
				Usage:     "add a peer to the running hub and print its wg-quick config",
				ArgsUsage: "NAME",
				Description: "Adds the peer live (it can connect at once) and to the hub's state (it survives a restart).\n" +
					"Without --allowed-ip the peer gets the next free address of the hub's pool; without\n" +
					"--public-key a key pair is generated here and the private key appears only in the\n" +
					"printed config (the hub never sees it). Save the output and run wg-quick up on it.",
				Flags: []cli.Flag{
					socket,
					&cli.StringSliceFlag{Name: "allowed-ip", Usage: "source `PREFIX` the peer may send from (repeatable); default: the next pool address"},
					&cli.StringSliceFlag{Name: "tag", Usage: "identity `TAG` for policy (repeatable)"},
					&cli.StringFlag{Name: "public-key", Usage: "the peer's public `KEY` (base64) when it made its own key pair"},
					&cli.StringFlag{Name: "endpoint", Usage: "`HOST:PORT` the peer reaches the hub at (default: this host's name and the hub's port)"},
					&cli.StringSliceFlag{Name: "route", Usage: "`PREFIX` the peer sends through the hub (repeatable; default: everything, 0.0.0.0/0 and ::/0)"},
					&cli.IntFlag{Name: "keepalive", Value: 25, Usage: "PersistentKeepalive `SECONDS` (0: off); keeps NAT mappings open so the hub can reach the peer"},
					&cli.BoolFlag{Name: "qr", Usage: "print the config as a QR code for the terminal (WireGuard's mobile apps import it)"},
				},
				Action: peerAdd,
			},
			{Name: "list", Usage: "the hub's peers: key, allowed IPs, endpoint, last handshake, traffic, flows", Flags: []cli.Flag{socket, &cli.BoolFlag{Name: "json", Usage: "print the API's JSON"}}, Action: peerList},
			{Name: "remove", Usage: "remove a peer: its flows are reset and its packets no longer decrypt", ArgsUsage: "NAME", Flags: []cli.Flag{socket}, Action: peerRemove},
		},
	}
}

func peerClient(c *cli.Context) *admin.Client {
	return admin.NewUnixClient(c.String("socket"))
}

func peerAdd(c *cli.Context) error {
	name := c.Args().First()
	if name == "" || c.NArg() > 1 {
		return errors.New("peer add: want exactly one NAME (e.g. runner-1)")
	}
	var priv wg.Key
	pub := c.String("public-key")
	if pub == "" {
		var err error
		if priv, err = wg.GenerateKey(); err != nil {
			return err
		}
		pub = priv.PublicKey().String()
	} else if _, err := wg.ParseKey(pub); err != nil {
		return fmt.Errorf("--public-key: %w", err)
	}
	added, err := peerClient(c).AddPeer(c.Context, admin.PeerRequest{Name: name, PublicKey: pub, AllowedIPs: c.StringSlice("allowed-ip"), Tags: c.StringSlice("tag")})
	if err != nil {
		return fmt.Errorf("peer add: %w", ctlDialHint(c, err))
	}
	endpoint := c.String("endpoint")
	if endpoint == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "HOST"
		}
		endpoint = net.JoinHostPort(host, strconv.Itoa(added.Hub.ListenPort))
	}
	routes := c.StringSlice("route")
	if len(routes) == 0 {
		routes = []string{"0.0.0.0/0", "::/0"}
	}
	cc := clientConfig{
		Name: name, PrivateKey: priv, Addresses: added.Peer.Prefixes, MTU: added.Hub.MTU,
		HubKey: added.Hub.PublicKey, Endpoint: endpoint, Routes: routes, Keepalive: c.Int("keepalive"),
	}
	if !priv.IsZero() {
		if err := keepPrivate(c.App.Writer); err != nil {
			return err
		}
	}
	if c.Bool("qr") {
		var b strings.Builder
		if err := writeClientConfig(&b, cc); err != nil {
			return err
		}
		return writeQR(c.App.Writer, b.String())
	}
	return writeClientConfig(c.App.Writer, cc)
}

// keepPrivate narrows the file the config is written to when others may
// read it: `peer add NAME > runner-1.conf` has the shell create it with
// the umask (often 0644), and it is about to receive the peer's private
// key. If the file cannot be narrowed, nothing is written.
func keepPrivate(w io.Writer) error {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 == 0 {
		return nil
	}
	if err := f.Chmod(fi.Mode().Perm() &^ 0o077); err != nil {
		return fmt.Errorf("peer add: the output file is readable by others and will hold the peer's private key, and it cannot be made private (%w); write to a file only you can read", err)
	}
	return nil
}

// clientConfig is what a wg-quick config of a peer says.
type clientConfig struct {
	Name       string
	PrivateKey wg.Key // zero when the peer brought its own key
	Addresses  []string
	MTU        int
	HubKey     string
	Endpoint   string
	Routes     []string
	Keepalive  int
}

// writeClientConfig writes a wg-quick(8) config: wg-quick reads
// [Interface] Address and MTU itself, `wg setconf` reads the rest (the
// interop test applies it that way).
func writeClientConfig(w io.Writer, cc clientConfig) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# interdict peer %q, written %s. Keep it private: it holds the peer's key.\n", cc.Name, time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "[Interface]\n")
	if cc.PrivateKey.IsZero() {
		fmt.Fprintf(&b, "# PrivateKey = (the private key whose public key was given with --public-key)\n")
	} else {
		fmt.Fprintf(&b, "PrivateKey = %s\n", cc.PrivateKey.String())
	}
	fmt.Fprintf(&b, "Address = %s\n", strings.Join(cc.Addresses, ", "))
	if cc.MTU > 0 {
		fmt.Fprintf(&b, "MTU = %d\n", cc.MTU)
	}
	fmt.Fprintf(&b, "\n[Peer]\n")
	fmt.Fprintf(&b, "PublicKey = %s\n", cc.HubKey)
	fmt.Fprintf(&b, "Endpoint = %s\n", cc.Endpoint)
	fmt.Fprintf(&b, "AllowedIPs = %s\n", strings.Join(cc.Routes, ", "))
	if cc.Keepalive > 0 {
		fmt.Fprintf(&b, "PersistentKeepalive = %d\n", cc.Keepalive)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func peerList(c *cli.Context) error {
	ids, err := peerClient(c).Identities(c.Context)
	if err != nil {
		return fmt.Errorf("peer list: %w", ctlDialHint(c, err))
	}
	var peers []admin.IdentityState
	for _, id := range ids {
		if id.Key != "" {
			peers = append(peers, id)
		}
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, peers)
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKEY\tALLOWED IPS\tTAGS\tENDPOINT\tLAST HANDSHAKE\tRX\tTX\tFLOWS\tSOURCE\tSTATE")
	now := time.Now()
	for _, p := range peers {
		hs := "never"
		if p.LastHandshake != nil {
			hs = now.Sub(*p.LastHandshake).Round(time.Second).String() + " ago"
		}
		ep := p.Endpoint
		if ep == "" {
			ep = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", p.Name, shortKey(p.Key), strings.Join(p.Prefixes, ","),
			strings.Join(p.Tags, ","), ep, hs, p.RxBytes, p.TxBytes, p.Flows, p.Source, p.State)
	}
	return tw.Flush()
}

// shortKey is a public key's first 8 characters, as tables show it.
func shortKey(k string) string {
	if len(k) > 8 {
		return k[:8] + "…"
	}
	return k
}

func peerRemove(c *cli.Context) error {
	name := c.Args().First()
	if name == "" || c.NArg() > 1 {
		return errors.New("peer remove: want exactly one NAME")
	}
	rm, err := peerClient(c).RemovePeer(c.Context, name)
	if err != nil {
		return fmt.Errorf("peer remove: %w", ctlDialHint(c, err))
	}
	_, err = fmt.Fprintf(c.App.Writer, "removed peer %s (%d live flows reset)\n", rm.Name, rm.FlowsReset)
	return err
}

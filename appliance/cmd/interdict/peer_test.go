package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/interdict/interdict/appliance"
	"github.com/interdict/interdict/netstack"
	"github.com/interdict/interdict/tunnel/wg"
)

// peerHub starts a WireGuard hub on 127.0.0.1 whose flows all go to a
// local line-echo server, with its admin API on a unix socket. It
// returns the socket and the hub's UDP port.
func peerHub(t *testing.T) (string, uint16) {
	t.Helper()
	dir := t.TempDir()
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { echo.Close() })
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	path := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte("state_dir: state\nlink:\n  mode: wireguard\n  wireguard:\n    listen_port: 0\n    listen_address: 127.0.0.1\n"+
		"handler:\n  mode: pass\neve:\n  path: \"\"\nadmin:\n  socket: \"\"\nmetrics:\n  listen: \"\"\n"), 0o600))
	s, err := appliance.LoadConfig(path)
	require.NoError(t, err)
	a, err := appliance.New(s, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	dev, err := a.OpenWireGuard()
	require.NoError(t, err)
	st, err := netstack.New(append([]netstack.Option{netstack.WithLink(dev), netstack.WithNICName("wg"),
		netstack.WithDialer(toOne{netip.MustParseAddrPort(echo.Addr().String())})}, a.StackOptions()...)...)
	require.NoError(t, err)
	require.NoError(t, a.Attach(st))
	t.Cleanup(func() {
		require.NoError(t, st.Close())
		require.NoError(t, a.Close())
	})
	return serveAdmin(t, a, filepath.Join(dir, "a.sock")), dev.ListenPort()
}

// runPeer runs the command line as main does (names after flags too).
func runPeer(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	app := newApp()
	app.Writer, app.ErrWriter = &out, &errOut
	app.ExitErrHandler = func(*cli.Context, error) {}
	err := app.Run(flagsFirst(app.Commands, append([]string{"interdict"}, args...)))
	return out.String(), err
}

// confValue is one field of a wg-quick config.
func confValue(conf, key string) string {
	for _, line := range strings.Split(conf, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// `peer add` prints a wg-quick config a client connects with at once;
// `peer list` shows the peer with its handshake; `peer remove NAME
// --socket S` (the name first, as the docs write it) cuts it off.
func TestPeerCommands(t *testing.T) {
	sock, port := peerHub(t)
	conf, err := runPeer(t, "peer", "add", "runner-1", "--tag", "ci", "--endpoint", fmt.Sprintf("127.0.0.1:%d", port), "--socket", sock)
	require.NoError(t, err)
	assert.Equal(t, "100.96.0.2/32, fd00:96::2/128", confValue(conf, "Address"), "the first free pool addresses")
	assert.Equal(t, "1420", confValue(conf, "MTU"))
	assert.Equal(t, "0.0.0.0/0, ::/0", confValue(conf, "AllowedIPs"))
	assert.Equal(t, "25", confValue(conf, "PersistentKeepalive"))

	priv, err := wg.ParseKey(confValue(conf, "PrivateKey"))
	require.NoError(t, err)
	hubKey, err := wg.ParseKey(confValue(conf, "PublicKey"))
	require.NoError(t, err)
	c, err := wg.NewClient(wg.ClientConfig{PrivateKey: priv, Addresses: []netip.Addr{netip.MustParseAddr("100.96.0.2")}, HubKey: hubKey,
		HubEndpoint: netip.MustParseAddrPort(confValue(conf, "Endpoint"))})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := c.DialTCP(ctx, netip.MustParseAddrPort("198.18.0.1:80"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("hello\n"))
	require.NoError(t, err)
	line, err := bufio.NewReader(conn).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "hello\n", line)

	list, err := runPeer(t, "peer", "list", "--socket", sock)
	require.NoError(t, err)
	rows := strings.Split(strings.TrimSpace(list), "\n")
	require.Len(t, rows, 2, list)
	f := strings.Fields(rows[1])
	assert.Equal(t, "runner-1", f[0])
	assert.Equal(t, priv.PublicKey().String()[:8]+"…", f[1])
	assert.Equal(t, "ci", f[3])
	assert.Contains(t, f[4], "127.0.0.1:", "the endpoint the hub learnt from the handshake")
	assert.NotContains(t, list, "never", "a handshake happened")

	out, err := runPeer(t, "peer", "remove", "runner-1", "--socket", sock)
	require.NoError(t, err)
	assert.Equal(t, "removed peer runner-1 (1 live flows reset)\n", out)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = conn.Read(make([]byte, 1))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "reset", "the open flow was reset, not timed out")
	list, err = runPeer(t, "peer", "list", "--socket", sock)
	require.NoError(t, err)
	assert.NotContains(t, list, "runner-1")
}

// `peer add NAME > runner-1.conf`, as README and the hub's banner say:
// the shell creates the file with the umask (0644 here), and it receives
// the peer's private key. peer add narrows it to 0600 before writing, so
// no other user can read the key (and wg-quick does not warn). A config
// without a private key (--public-key) keeps its mode.
func TestPeerAddKeepsKeyFilePrivate(t *testing.T) {
	sock, _ := peerHub(t)
	dir := t.TempDir()
	add := func(name string, args ...string) os.FileMode {
		t.Helper()
		path := filepath.Join(dir, name+".conf")
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		require.NoError(t, err)
		require.NoError(t, f.Chmod(0o644), "the umask may have narrowed it already")
		app := newApp()
		app.Writer, app.ErrWriter = f, io.Discard
		app.ExitErrHandler = func(*cli.Context, error) {}
		err = app.Run(append([]string{"interdict", "peer", "add", "--socket", sock}, append(args, name)...))
		require.NoError(t, f.Close())
		require.NoError(t, err)
		fi, err := os.Stat(path)
		require.NoError(t, err)
		return fi.Mode().Perm()
	}
	assert.Equal(t, os.FileMode(0o600), add("runner-1"), "the file holds a private key")
	b, err := os.ReadFile(filepath.Join(dir, "runner-1.conf"))
	require.NoError(t, err)
	assert.Contains(t, string(b), "PrivateKey = ")
	pub, err := wg.GenerateKey()
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), add("runner-2", "--public-key", pub.PublicKey().String()),
		"no private key, nothing to hide")
}

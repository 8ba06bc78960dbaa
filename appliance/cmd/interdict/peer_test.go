//go:build !windows

package main

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/interdict/interdict/appliance/admin"
)

// peerBackend is a hub that accepts every peer.
type peerBackend struct{ *ctlBackend }

func (peerBackend) Hub() (admin.Hub, error) {
	return admin.Hub{PublicKey: "2msob2aBO5pye8YrVfKKVjrqjwgyAMOxM2OoktezAR0=", ListenPort: 51820, MTU: 1420}, nil
}
func (b peerBackend) AddPeer(_ context.Context, req admin.PeerRequest) (admin.PeerAdded, error) {
	h, _ := b.Hub()
	return admin.PeerAdded{Peer: admin.IdentityState{Name: req.Name, Key: req.PublicKey, Prefixes: []string{"100.96.0.2/32"}}, Hub: h}, nil
}
func (peerBackend) RemovePeer(context.Context, string) (admin.PeerRemoved, error) {
	return admin.PeerRemoved{}, nil
}

// `peer add NAME > runner-1.conf`, as README and the hub's banner say:
// the shell creates the file with the umask (0644 here), and it receives
// the peer's private key. peer add narrows it to 0600 before writing, so
// no other user can read the key (and wg-quick does not warn). A config
// without a private key (--public-key) keeps its mode.
func TestPeerAddKeepsKeyFilePrivate(t *testing.T) {
	dir, err := os.MkdirTemp("", "peer")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := serveAdmin(t, peerBackend{&ctlBackend{blocks: map[netip.Prefix]admin.Block{}}}, filepath.Join(dir, "a.sock"))

	add := func(name string, args ...string) os.FileMode {
		t.Helper()
		path := filepath.Join(dir, name+".conf")
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		require.NoError(t, err)
		require.NoError(t, f.Chmod(0o644), "the umask may have narrowed it already")
		app := &cli.App{Name: "interdict", Commands: []*cli.Command{peerCommand()}, Writer: f, ErrWriter: os.Stderr,
			ExitErrHandler: func(*cli.Context, error) {}}
		err = app.Run(append(append([]string{"interdict", "peer", "add", "--socket", sock}, args...), name))
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
	assert.Equal(t, os.FileMode(0o644), add("runner-2", "--public-key", "7oPpNpFWw24nt/SGryuehXVGve8xQC2/Q7bWZJhio1Y="),
		"no private key, nothing to hide")
}

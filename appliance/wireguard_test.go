package appliance

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/appliance/admin"
	"github.com/interdict/interdict/tunnel/wg"
)

func newHubAppliance(t *testing.T) *Appliance {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte("state_dir: state\nlink:\n  mode: wireguard\n  wireguard:\n    listen_port: 0\n    listen_address: 127.0.0.1\n"+
		"    pool: [100.96.0.0/30]\nhandler:\n  mode: pass\neve:\n  path: \"\"\nadmin:\n  socket: \"\"\nmetrics:\n  listen: \"\"\n"), 0o600))
	s, err := LoadConfig(path)
	require.NoError(t, err)
	a, err := New(s, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	_, err = a.OpenWireGuard()
	require.NoError(t, err)
	return a
}

func pubKey(t *testing.T) string {
	k, err := wg.GenerateKey()
	require.NoError(t, err)
	return k.PublicKey().String()
}

// Bad requests are refused with the error the API maps to 400 or 409,
// and a refused peer leaves nothing behind.
func TestAddPeerRefusals(t *testing.T) {
	a := newHubAppliance(t)
	ctx := context.Background()
	first, err := a.AddPeer(ctx, admin.PeerRequest{Name: "r1", PublicKey: pubKey(t)})
	require.NoError(t, err)
	assert.Equal(t, []string{"100.96.0.2/32"}, first.Peer.Prefixes, "the hub holds .1")

	for name, tc := range map[string]struct {
		req  admin.PeerRequest
		want error
	}{
		"bad name":      {admin.PeerRequest{Name: "../x", PublicKey: pubKey(t)}, admin.ErrInvalid},
		"bad key":       {admin.PeerRequest{Name: "r2", PublicKey: "abc"}, admin.ErrInvalid},
		"bad tag":       {admin.PeerRequest{Name: "r2", PublicKey: pubKey(t), Tags: []string{"a b"}}, admin.ErrInvalid},
		"hub address":   {admin.PeerRequest{Name: "r2", PublicKey: pubKey(t), AllowedIPs: []string{"100.96.0.0/24"}}, admin.ErrInvalid},
		"name taken":    {admin.PeerRequest{Name: "r1", PublicKey: pubKey(t)}, admin.ErrConflict},
		"key taken":     {admin.PeerRequest{Name: "r2", PublicKey: first.Peer.Key}, admin.ErrConflict},
		"address taken": {admin.PeerRequest{Name: "r2", PublicKey: pubKey(t), AllowedIPs: []string{"100.96.0.2"}}, admin.ErrConflict},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := a.AddPeer(ctx, tc.req)
			require.Error(t, err)
			assert.True(t, errors.Is(err, tc.want), "%v", err)
		})
	}
	// The /30 pool is full now: .1 is the hub's, .2 r1's, .3 its broadcast.
	_, err = a.AddPeer(ctx, admin.PeerRequest{Name: "r3", PublicKey: pubKey(t)})
	require.Error(t, err)
	assert.True(t, errors.Is(err, admin.ErrConflict), "pool exhausted: %v", err)
	assert.Len(t, a.IdentityStates(), 1, "refused peers left nothing behind")
	keys, err := a.hub.store.Keys(peersBucket)
	require.NoError(t, err)
	assert.Equal(t, []string{"r1"}, keys)
}

// The state directory is private even when the EVE file is the first
// thing that lives in it.
func TestStateDirIsPrivate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte("state_dir: state\nlink:\n  mode: wireguard\n  wireguard:\n    listen_port: 0\n    listen_address: 127.0.0.1\n"+
		"handler:\n  mode: pass\neve:\n  path: state/eve.json\nadmin:\n  socket: \"\"\nmetrics:\n  listen: \"\"\n"), 0o600))
	s, err := LoadConfig(path)
	require.NoError(t, err)
	a, err := New(s, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	defer a.Close()
	fi, err := os.Stat(filepath.Join(dir, "state"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
}

// The hub's key can come from the environment (a Kubernetes Secret as an
// env var): the hub then answers with that key and writes no key file;
// errors never echo the value.
func TestPrivateKeyFromEnv(t *testing.T) {
	k, err := wg.GenerateKey()
	require.NoError(t, err)
	dir := t.TempDir()
	cfg := func(extra string) string {
		path := filepath.Join(dir, "c.yaml")
		require.NoError(t, os.WriteFile(path, []byte("state_dir: state\nlink:\n  mode: wireguard\n  wireguard:\n    listen_port: 0\n    listen_address: 127.0.0.1\n"+
			extra+"handler:\n  mode: pass\neve:\n  path: \"\"\nadmin:\n  socket: \"\"\nmetrics:\n  listen: \"\"\n"), 0o600))
		return path
	}

	t.Setenv("INTERDICT_TEST_WG_KEY", k.String())
	s, err := LoadConfig(cfg("    private_key_env: INTERDICT_TEST_WG_KEY\n"))
	require.NoError(t, err)
	a, err := New(s, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	defer a.Close()
	_, err = a.OpenWireGuard()
	require.NoError(t, err)
	assert.Equal(t, k.PublicKey().String(), a.hub.pub.String())
	_, err = os.Stat(filepath.Join(dir, "state", "wireguard.key"))
	assert.True(t, os.IsNotExist(err), "no key file is generated when the key comes from the environment")

	t.Setenv("INTERDICT_TEST_WG_KEY", "not-a-key-but-secret")
	_, err = LoadConfig(cfg("    private_key_env: INTERDICT_TEST_WG_KEY\n"))
	require.ErrorContains(t, err, "link.wireguard.private_key_env: INTERDICT_TEST_WG_KEY does not hold a WireGuard key")
	assert.NotContains(t, err.Error(), "not-a-key-but-secret")

	_, err = LoadConfig(cfg("    private_key_env: INTERDICT_TEST_UNSET_VAR\n"))
	assert.ErrorContains(t, err, "environment variable INTERDICT_TEST_UNSET_VAR is not set")
	_, err = LoadConfig(cfg("    private_key_env: INTERDICT_TEST_WG_KEY\n    private_key_file: k\n"))
	assert.ErrorContains(t, err, "not both")
}

// The banner's next step is a command the person can paste: the binary
// as it was started (bin/interdict under make run), its bare name when
// PATH finds that same file.
func TestBannerNamesTheCommand(t *testing.T) {
	a := newHubAppliance(t)
	var b strings.Builder
	a.printBanner(&b, selfCommand("bin/interdict"))
	assert.Contains(t, b.String(), "\n  bin/interdict peer add runner-1 --endpoint HOST:")
	assert.Contains(t, b.String(), "`bin/interdict ctl flows`")
	assert.Contains(t, b.String(), "One machine, no root: `bin/interdict demo`; a runner in a network namespace: docs/operations.md#trying-it-on-one-machine")
	assert.Contains(t, b.String(), "public key    "+mustHub(t, a).PublicKey)

	bin := filepath.Join(t.TempDir(), "interdict")
	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o700))
	t.Setenv("PATH", filepath.Dir(bin))
	assert.Equal(t, "interdict", selfCommand(bin), "PATH finds this very file")
	assert.Equal(t, "./other/interdict", selfCommand("./other/interdict"), "PATH finds another file, or none")
	assert.Equal(t, "interdict", selfCommand("interdict"))
}

func mustHub(t *testing.T, a *Appliance) admin.Hub {
	h, err := a.Hub()
	require.NoError(t, err)
	return h
}

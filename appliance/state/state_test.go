package state

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDirRoundTripAndPersistence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	d, err := Open(path)
	require.NoError(t, err)
	_, err = d.Get("peers", "runner-a")
	assert.True(t, errors.Is(err, ErrNotFound))

	require.NoError(t, d.Put("peers", "runner-a", []byte(`{"a":1}`)))
	require.NoError(t, d.Put("peers", "../escape/x", []byte(`{"b":2}`)))
	require.NoError(t, d.Put("peers", "runner-a", []byte(`{"a":2}`)))

	// A second Dir on the same path, as after a restart.
	d2, err := Open(path)
	require.NoError(t, err)
	v, err := d2.Get("peers", "runner-a")
	require.NoError(t, err)
	assert.Equal(t, `{"a":2}`, string(v))
	keys, err := d2.Keys("peers")
	require.NoError(t, err)
	assert.Equal(t, []string{"../escape/x", "runner-a"}, keys)
	_, err = os.Stat(filepath.Join(path, "escape"))
	assert.True(t, os.IsNotExist(err), "a key never escapes its bucket")

	require.NoError(t, d2.Delete("peers", "runner-a"))
	require.NoError(t, d2.Delete("peers", "runner-a"))
	keys, _ = d2.Keys("peers")
	assert.Equal(t, []string{"../escape/x"}, keys)
	keys, err = d2.Keys("nothing-yet")
	require.NoError(t, err)
	assert.Empty(t, keys)

	_, err = d.Keys("../x")
	assert.ErrorContains(t, err, "invalid bucket")

	if runtime.GOOS != "windows" {
		fi, err := os.Stat(filepath.Join(path, "peers"))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
		ents, _ := os.ReadDir(filepath.Join(path, "peers"))
		for _, e := range ents {
			fi, _ := e.Info()
			assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), e.Name())
		}
	}
}

func TestCheckPrivate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("POSIX modes")
	}
	f := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(f, []byte("k"), 0o600))
	assert.NoError(t, CheckPrivate(f))
	require.NoError(t, os.Chmod(f, 0o640))
	assert.ErrorContains(t, CheckPrivate(f), "chmod 600")
}

func TestDefaultDir(t *testing.T) {
	if os.Geteuid() == 0 {
		assert.Equal(t, RootDir, DefaultDir())
		return
	}
	t.Setenv("XDG_STATE_HOME", "/x/state")
	assert.Equal(t, "/x/state/interdict", DefaultDir())
}

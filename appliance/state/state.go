package state

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// ErrNotFound is returned by Get for a key that is not stored.
var ErrNotFound = errors.New("state: not found")

// Store keeps small values by bucket and key.
type Store interface {
	// Get returns the value of key, or an error wrapping ErrNotFound.
	Get(bucket, key string) ([]byte, error)
	// Put stores value under key, replacing any previous value.
	Put(bucket, key string, value []byte) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(bucket, key string) error
	// Keys lists the keys of a bucket, sorted.
	Keys(bucket string) ([]string, error)
}

// Dir is a Store in a local directory: one subdirectory per bucket, one
// file per key.
type Dir struct {
	path string
	mu   sync.Mutex // one writer at a time per process
}

var _ Store = (*Dir)(nil)

var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// suffix marks value files, so temp files and strangers are ignored.
const suffix = ".v"

// Open creates (0700) or opens the state directory at path.
func Open(path string) (*Dir, error) {
	if path == "" {
		return nil, errors.New("state: no state directory (set state_dir)")
	}
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("state: %w (set state_dir to a directory this user can write)", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("state: %s is not a directory", path)
	}
	return &Dir{path: path}, nil
}

// Path is the directory.
func (d *Dir) Path() string { return d.path }

func (d *Dir) file(bucket, key string) (string, error) {
	if !bucketName.MatchString(bucket) {
		return "", fmt.Errorf("state: invalid bucket name %q", bucket)
	}
	if key == "" {
		return "", fmt.Errorf("state: %s: empty key", bucket)
	}
	// PathEscape leaves no '/', and a leading dot cannot make "." or "..".
	return filepath.Join(d.path, bucket, url.PathEscape(key)+suffix), nil
}

// Get implements Store.
func (d *Dir) Get(bucket, key string) ([]byte, error) {
	f, err := d.file(bucket, key)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(f)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s/%s", ErrNotFound, bucket, key)
	}
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	return b, nil
}

// Put implements Store.
func (d *Dir) Put(bucket, key string, value []byte) error {
	f, err := d.file(bucket, key)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return WriteFileAtomic(f, value, 0o600)
}

// Delete implements Store.
func (d *Dir) Delete(bucket, key string) error {
	f, err := d.file(bucket, key)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("state: %w", err)
	}
	return nil
}

// Keys implements Store.
func (d *Dir) Keys(bucket string) ([]string, error) {
	if !bucketName.MatchString(bucket) {
		return nil, fmt.Errorf("state: invalid bucket name %q", bucket)
	}
	ents, err := os.ReadDir(filepath.Join(d.path, bucket))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	var out []string
	for _, e := range ents {
		n, ok := strings.CutSuffix(e.Name(), suffix)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		if k, err := url.PathUnescape(n); err == nil {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out, nil
}

// WriteFileAtomic writes data to path through a temp file in the same
// directory, fsynced and renamed over path, then fsyncs the directory: a
// reader (or a crash) sees the old content or the new, never a mix.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	ok = true
	if df, err := os.Open(dir); err == nil {
		_ = df.Sync() // best effort: not every platform syncs directories
		df.Close()
	}
	return nil
}

// CheckPrivate refuses a secret file (a private key, a token) that group
// or others may read or write, as ssh and wg do.
func CheckPrivate(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s: mode %04o lets others read a secret; run: chmod 600 %s", path, perm, path)
	}
	return nil
}

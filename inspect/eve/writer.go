package eve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
)

// Writer writes events as JSON lines. It is safe for concurrent use: each
// event is encoded outside the lock into a pooled buffer and written with
// one Write call under the lock, so lines never interleave.
type Writer struct {
	mu   sync.Mutex
	w    io.Writer
	f    *os.File // set when the Writer owns a file
	path string
	err  error // first write error, kept until Reopen
	// The options (SetOptions).
	xffAlert, xffHTTP *XFF
	httpBasic         bool
	dnsV2             bool // Options.DNSVersion2
	dnsFilter         dnsFilter
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuf keeps a rare huge event from pinning memory in the pool.
const maxPooledBuf = 64 << 10

// NewWriter writes events to w (os.Stdout, a buffer in tests).
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// OpenFile appends events to the file at path, creating it with mode 0640.
func OpenFile(path string) (*Writer, error) {
	f, err := openAppend(path)
	if err != nil {
		return nil, err
	}
	return &Writer{w: f, f: f, path: path}, nil
}

func openAppend(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		// The *PathError already names the operation and the path.
		return nil, fmt.Errorf("eve: %w", err)
	}
	return f, nil
}

// Reopen closes and reopens the file by its path, for logrotate: after the
// old file was renamed, new events go to a new file at the same path. It
// does nothing for a Writer that does not own a file.
func (w *Writer) Reopen() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	f, err := openAppend(w.path)
	if err != nil {
		return err // keep writing to the old file rather than losing events
	}
	old := w.f
	w.f, w.w, w.err = f, f, nil
	if err := old.Close(); err != nil {
		return fmt.Errorf("eve: close old %s: %w", w.path, err)
	}
	return nil
}

// Close closes the file the Writer owns.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f, w.w = nil, io.Discard
	if err != nil {
		return fmt.Errorf("eve: close %s: %w", w.path, err)
	}
	return nil
}

// Write encodes ev as one line.
func (w *Writer) Write(ev *Event) error {
	if ev.EventType == TypeDNS && ev.DNS != nil && ev.DNS.v2 == nil && !w.dnsFilter.keep(ev.DNS) {
		return nil
	}
	if w.dnsV2 && ev.EventType == TypeDNS && ev.DNS != nil && ev.DNS.v2 == nil {
		for _, e := range dnsEventsV2(ev, &w.dnsFilter) {
			if err := w.Write(e); err != nil {
				return err
			}
		}
		return nil
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= maxPooledBuf {
			bufPool.Put(buf)
		}
	}()
	// Encoder.Encode appends the newline; HTML escaping is off because
	// Suricata writes '<', '>' and '&' in URLs and signatures verbatim.
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	ev = w.outputOptions(ev)
	if err := enc.Encode(ev); err != nil {
		return fmt.Errorf("eve: encode %s event: %w", ev.EventType, err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.w.Write(buf.Bytes()); err != nil {
		if w.err == nil {
			w.err = err
		}
		return fmt.Errorf("eve: write: %w", err)
	}
	return nil
}

// Err returns the first write error since the Writer was opened or last
// reopened.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

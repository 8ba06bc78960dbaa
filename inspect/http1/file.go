package http1

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"net/http"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// file follows a message body as a file for EVE fileinfo: its decoded
// size, SHA-256 and first bytes for MIME sniffing.
type file struct {
	on   bool
	h    hash.Hash // made at the first body byte
	size int64
	head []byte
}

// sniffLen is what MIME sniffing looks at (WHATWG: 512 bytes).
const sniffLen = 512

func (f *file) write(b []byte) {
	if !f.on || len(b) == 0 {
		return
	}
	if f.h == nil {
		f.h = sha256.New()
	}
	f.h.Write(b)
	f.size += int64(len(b))
	if n := sniffLen - len(f.head); n > 0 {
		f.head = append(f.head, b[:min(n, len(b))]...)
	}
}

// startFile begins tracking m's body when fileinfo is on.
func (p *Parser) startFile(m *msg) {
	m.file = file{on: p.cfg.FileInfo}
}

// emitFile hands detection the fileinfo record of m's body, once.
func (p *Parser) emitFile(dir inspect.Direction, t *tx, m *msg, state string, emit func(*applayer.Unit)) {
	f := &m.file
	if f.h == nil {
		return
	}
	info := &inspect.FileInfo{Filename: filename(t, m), Size: f.size, SHA256: hex.EncodeToString(f.h.Sum(nil)), State: state}
	if len(f.head) > 0 {
		info.Magic = http.DetectContentType(f.head)
	}
	*f = file{}
	u := getUnit()
	defer putUnit(u)
	u.Dir, u.TxID = dir, t.id
	u.Event = &inspect.Event{Dir: dir, TxID: t.id, File: info}
	emit(u)
}

// filename is Content-Disposition's filename, else the last segment of
// the request's path.
func filename(t *tx, m *msg) string {
	for _, h := range m.hdrs {
		if h.dup || !equalFoldString(m.get(h.name), "Content-Disposition") {
			continue
		}
		v := m.get(h.value)
		i := bytes.Index(bytes.ToLower(v), []byte("filename="))
		if i < 0 {
			break
		}
		name := v[i+len("filename="):]
		if j := bytes.IndexByte(name, ';'); j >= 0 {
			name = name[:j]
		}
		return string(bytes.Trim(trimSpace(name), `"`))
	}
	uri := t.req.get(t.req.bufs[applayer.HTTPURI])
	if i := bytes.IndexAny(uri, "?#"); i >= 0 {
		uri = uri[:i]
	}
	if i := bytes.LastIndexByte(uri, '/'); i >= 0 {
		uri = uri[i+1:]
	}
	return string(uri)
}

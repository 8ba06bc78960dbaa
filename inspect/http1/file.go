package http1

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
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
	all  bool      // also MD5 and SHA-1, for the file keywords
	h    hash.Hash // SHA-256, made at the first body byte
	md5  hash.Hash
	sha1 hash.Hash
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
		if f.all {
			f.md5, f.sha1 = md5.New(), sha1.New()
		}
	}
	f.h.Write(b)
	if f.all {
		f.md5.Write(b)
		f.sha1.Write(b)
	}
	f.size += int64(len(b))
	if n := sniffLen - len(f.head); n > 0 {
		f.head = append(f.head, b[:min(n, len(b))]...)
	}
}

// startFile begins tracking m's body when fileinfo or the file keywords
// are on.
func (p *Parser) startFile(m *msg) {
	m.file = file{on: p.cfg.FileInfo || p.cfg.FileMatch, all: p.cfg.FileMatch}
}

// emitFile hands detection the fileinfo record of m's body, once, and,
// for the file keywords, a complete file's name, size and digests.
// Suricata's filesize and hashes match a closed file; a truncated one
// has no digest here.
func (p *Parser) emitFile(dir inspect.Direction, t *tx, m *msg, state string, emit func(*applayer.Unit)) {
	f := &m.file
	if f.h == nil {
		return
	}
	u := getUnit()
	defer putUnit(u)
	u.Dir, u.TxID = dir, t.id
	sum := f.h.Sum(nil)
	if p.cfg.FileInfo {
		info := &inspect.FileInfo{Filename: filename(t, m), Size: f.size, SHA256: hex.EncodeToString(sum), State: state}
		if len(f.head) > 0 {
			info.Magic = http.DetectContentType(f.head)
		}
		u.Event = &inspect.Event{Dir: dir, TxID: t.id, File: info}
	}
	if name := fileName(t, dir); f.all && state == "CLOSED" && name != nil {
		var size [8]byte
		binary.BigEndian.PutUint64(size[:], uint64(f.size))
		u.Multi[applayer.FileName] = append(u.Multi[applayer.FileName][:0], name)
		u.Buffers[applayer.FileSize] = size[:]
		u.Buffers[applayer.FileMD5] = f.md5.Sum(nil)
		u.Buffers[applayer.FileSHA1] = f.sha1.Sum(nil)
		u.Buffers[applayer.FileSHA256] = sum
	}
	*f = file{}
	if u.Event == nil && len(u.Multi[applayer.FileName]) == 0 {
		return
	}
	emit(u)
}

// filename is Content-Disposition's filename, else the last segment of
// the request's path (the EVE fileinfo name). A multipart upload's files
// are named by their parts (multipart.go).
func filename(t *tx, m *msg) string {
	if name, ok := dispositionName(m); ok {
		return string(name)
	}
	uri := uriPath(t)
	if i := bytes.LastIndexByte(uri, '/'); i >= 0 {
		uri = uri[i+1:]
	}
	return string(uri)
}

// dispositionName is the filename parameter of m's Content-Disposition.
func dispositionName(m *msg) ([]byte, bool) {
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
		return bytes.Trim(trimSpace(name), `"`), true
	}
	return nil, false
}

// uriPath is the request's normalised path, without query or fragment.
func uriPath(t *tx) []byte {
	uri := t.req.get(t.req.bufs[applayer.HTTPURI])
	if i := bytes.IndexAny(uri, "?#"); i >= 0 {
		uri = uri[:i]
	}
	return uri
}

// fileName is the file.name buffer of the message dir carries, nil when
// that message carries no file. Suricata (app-layer-htp.c) opens a file
// at a response's first body byte, named by its Content-Disposition
// filename or else by the request's path; a request body is a file when
// the method is PUT (a multipart upload's files are its parts, see
// Parser.setFiles).
func fileName(t *tx, dir inspect.Direction) []byte {
	m := &t.req
	if dir == inspect.ToClient {
		m = &t.resp
	}
	if m.bodyLen == 0 {
		return nil
	}
	if dir == inspect.ToServer && !bytes.Equal(t.req.get(t.req.bufs[applayer.HTTPMethod]), []byte("PUT")) {
		return nil
	}
	if name, ok := dispositionName(m); ok {
		return name
	}
	return uriPath(t)
}

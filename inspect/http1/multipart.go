package http1

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// A multipart/form-data request body carries its uploads as parts; as in
// Suricata (app-layer-htp.c, HtpRequestBodyHandleMultipart) each part with
// a filename is a file of its own, with its own file.data, file.name and
// fileinfo record. The parts are read from the request body buffer the
// parser already keeps (bounded by the body limit), as slices of it: the
// splitter adds file buffers and never changes what http.request_body or
// the raw stream hold. It reads parts as a server would: the boundary
// from the Content-Type parameter, quoted or not; delimiters at the start
// of a line, with CRLF or bare LF line ends; part headers folded or not;
// a last part without a closing delimiter runs to the end of the body.
// A line that starts with the delimiter ends a part even when more
// follows on it ("--B-x"), as PHP reads it; parsers that want the exact
// delimiter read such a line as content, which http.request_body still
// holds for rules either way.

// mpFile is a file of a multipart body: its filename and content.
type mpFile struct {
	name, data []byte
	closed     bool // a delimiter ended it (else the body did)
}

// multipartBoundary is the boundary parameter of a multipart/form-data
// Content-Type value; ok is false for any other media type. A
// multipart/form-data type without a usable boundary gives ok with an
// empty boundary, which the caller reports as a body it cannot split.
func multipartBoundary(ct []byte) (boundary []byte, ok bool) {
	typ, params, _ := bytes.Cut(ct, []byte(";"))
	if !bytes.EqualFold(trimSpace(typ), []byte("multipart/form-data")) {
		return nil, false
	}
	b, _ := param(params, "boundary")
	// RFC 2046 5.1.1: 1 to 70 characters.
	if len(b) > 70 {
		return nil, true
	}
	return b, true
}

// param is the value of parameter key (case-insensitive) in a header
// value's ";"-separated parameter list, unquoted; a ";" inside quotes does
// not end a value.
func param(params []byte, key string) ([]byte, bool) {
	for len(params) > 0 {
		params = bytes.TrimLeft(params, " \t;")
		eq := bytes.IndexByte(params, '=')
		semi := bytes.IndexByte(params, ';')
		if eq < 0 || semi >= 0 && semi < eq {
			if semi < 0 {
				return nil, false
			}
			params = params[semi+1:]
			continue
		}
		name := trimSpace(params[:eq])
		rest := bytes.TrimLeft(params[eq+1:], " \t")
		var val []byte
		if len(rest) > 0 && rest[0] == '"' {
			end := 1
			for end < len(rest) && rest[end] != '"' {
				if rest[end] == '\\' && end+1 < len(rest) {
					end++
				}
				end++
			}
			val = rest[1:min(end, len(rest))]
			params = rest[min(end+1, len(rest)):]
		} else {
			end := bytes.IndexByte(rest, ';')
			if end < 0 {
				end = len(rest)
			}
			val = trimSpace(rest[:end])
			params = rest[end:]
		}
		if equalFoldString(name, key) {
			return val, true
		}
		if i := bytes.IndexByte(params, ';'); i >= 0 {
			params = params[i:]
		} else {
			params = nil
		}
	}
	return nil, false
}

// splitMultipart appends the files of body (parts whose
// Content-Disposition has a filename) to files. ok is false when body
// holds no delimiter line of boundary at all, or a part's header section
// has a line that is not a header: a body the caller cannot read as a
// server would, which it reports.
func splitMultipart(boundary, body []byte, files []mpFile) (_ []mpFile, ok bool) {
	if len(boundary) == 0 {
		return files, false
	}
	delim := make([]byte, 0, len(boundary)+3)
	delim = append(append(append(delim, '\n'), "--"...), boundary...)
	// The first delimiter may open the body without a line end before it.
	i := -1
	if bytes.HasPrefix(body, delim[1:]) {
		i = 0
	} else if j := bytes.Index(body, delim); j >= 0 {
		i = j + 1
	}
	if i < 0 {
		return files, false
	}
	ok = true
	rest := body[i+len(delim)-1:]
	for {
		if bytes.HasPrefix(rest, []byte("--")) {
			return files, ok // the closing delimiter
		}
		// Transport padding, then the delimiter line's end.
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			return files, ok // the body ends inside a delimiter line
		}
		rest = rest[nl+1:]
		name, data, hok := partHeaders(rest)
		if !hok {
			ok = false
		}
		if data == nil {
			return files, ok // the body ends inside the part's headers
		}
		next := bytes.Index(data, delim)
		content, closed := data, false
		if next >= 0 {
			content, closed = data[:next], true
			content = bytes.TrimSuffix(content, []byte("\r"))
		}
		if name != nil {
			files = append(files, mpFile{name: name, data: content[:len(content):len(content)], closed: closed})
		}
		if next < 0 {
			return files, ok
		}
		rest = data[next+len(delim):]
	}
}

// partHeaders reads a part's header section from b: the filename of its
// Content-Disposition (nil when it has none) and what follows the blank
// line; data is nil when b ends before the blank line. A folded header
// (a line starting with a space or tab) continues the one before. ok is
// false when a line is not a header.
func partHeaders(b []byte) (name, data []byte, ok bool) {
	ok = true
	var disp []byte
	inDisp := false
	for {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			return name, nil, ok
		}
		line := bytes.TrimSuffix(b[:nl], []byte("\r"))
		b = b[nl+1:]
		if len(line) == 0 {
			if disp != nil {
				if v, has := param(dispParams(disp), "filename"); has {
					name = v
					if name == nil {
						name = []byte{}
					}
				}
			}
			return name, b, ok
		}
		if line[0] == ' ' || line[0] == '\t' {
			if inDisp {
				// Folded: the value goes on. Header values are short
				// and few, so the join copies.
				disp = append(append(disp, ' '), trimSpace(line)...)
			}
			continue
		}
		hname, value, found := bytes.Cut(line, []byte(":"))
		if !found {
			ok = false
			inDisp = false
			continue
		}
		inDisp = equalFoldString(trimSpace(hname), "Content-Disposition")
		if inDisp {
			disp = append([]byte(nil), trimSpace(value)...)
		}
	}
}

// dispParams is the parameter list of a Content-Disposition value ("form-data; name=...").
func dispParams(v []byte) []byte {
	if _, ps, found := bytes.Cut(v, []byte(";")); found {
		return ps
	}
	return nil
}

// multipartBody reports whether t's request body is split into files: a
// multipart/form-data body of a method other than PUT (a PUT body is one
// file, as in Suricata), and its boundary.
func multipartBody(t *tx) (boundary []byte, ok bool) {
	if bytes.Equal(t.req.get(t.req.bufs[applayer.HTTPMethod]), []byte("PUT")) {
		return nil, false
	}
	return multipartBoundary(t.req.get(t.req.bufs[applayer.HTTPContentType]))
}

// setFiles sets u's file.data and file.name instances: the files of t
// seen from dir. To the client that is the response body; to the server
// a PUT body or the files of a multipart body.
func (p *Parser) setFiles(u *applayer.Unit, t *tx, dir inspect.Direction) {
	data, names := u.Multi[applayer.FileData][:0], u.Multi[applayer.FileName][:0]
	if boundary, ok := multipartBody(t); ok && dir == inspect.ToServer {
		if len(t.req.body) > 0 {
			p.mpFiles, _ = splitMultipart(boundary, t.req.body, p.mpFiles[:0])
			for _, f := range p.mpFiles {
				data, names = append(data, f.data), append(names, f.name)
			}
		}
	} else {
		b := t.resp.body
		if dir == inspect.ToServer {
			b = nil
			if bytes.Equal(t.req.get(t.req.bufs[applayer.HTTPMethod]), []byte("PUT")) {
				b = t.req.body
			}
		}
		if len(b) > 0 {
			data = append(data, b[:len(b):len(b)])
		}
		if name := fileName(t, dir); name != nil {
			names = append(names, name)
		}
	}
	u.Multi[applayer.FileData], u.Multi[applayer.FileName] = data, names
}

// finishMultipart, at the end of a request (ended) or of the flow, hands
// detection one fileinfo record per file of a multipart body, in place of
// the whole body's, and reports a complete body its splitter could not
// read (a body cut short may yet have had its delimiter). A body whose window slid past its start is read
// from the window: a part cut by the slide has no name and is left out.
func (p *Parser) finishMultipart(s *side, t *tx, ended bool, emit func(*applayer.Unit)) {
	boundary, isMP := multipartBody(t)
	if !isMP || t.req.bodyLen == 0 {
		return
	}
	var ok bool
	p.mpFiles, ok = splitMultipart(boundary, t.req.body, p.mpFiles[:0])
	if !ok && ended && t.req.bodyOff == 0 {
		p.anomaly(&t.req, s.dir, anomMultipartInvalid)
		p.emit(s.dir, t, false, emit) // a Unit carries the event
	}
	t.req.file = file{}
	if !p.cfg.FileInfo {
		return
	}
	whole := t.req.bodyOff == 0 && t.req.bodyLen == int64(len(t.req.body))
	for _, f := range p.mpFiles {
		state := "CLOSED"
		if !f.closed || !whole {
			state = "TRUNCATED"
		}
		sum := sha256.Sum256(f.data)
		info := &inspect.FileInfo{Filename: string(f.name), Size: int64(len(f.data)), SHA256: hex.EncodeToString(sum[:]), State: state}
		if len(f.data) > 0 {
			info.Magic = http.DetectContentType(f.data[:min(len(f.data), sniffLen)])
		}
		u := getUnit()
		u.Dir, u.TxID = s.dir, t.id
		u.Event = &inspect.Event{Dir: s.dir, TxID: t.id, File: info}
		emit(u)
		putUnit(u)
	}
}

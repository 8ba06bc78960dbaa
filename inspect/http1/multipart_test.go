package http1

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

func TestMultipartBoundary(t *testing.T) {
	for _, tc := range []struct {
		ct       string
		boundary string
		ok       bool
	}{
		{"multipart/form-data; boundary=abc", "abc", true},
		{`multipart/form-data; boundary="a;b c"`, "a;b c", true},
		{"Multipart/Form-Data;charset=utf-8;BOUNDARY=x-1", "x-1", true},
		{"multipart/form-data", "", true},
		{"multipart/form-data; boundary=" + strings.Repeat("b", 71), "", true},
		{"multipart/mixed; boundary=abc", "", false},
		{"application/x-www-form-urlencoded", "", false},
	} {
		b, ok := multipartBoundary([]byte(tc.ct))
		assert.Equal(t, tc.ok, ok, tc.ct)
		assert.Equal(t, tc.boundary, string(b), tc.ct)
	}
}

func TestSplitMultipart(t *testing.T) {
	type file struct {
		name, data string
		closed     bool
	}
	for _, tc := range []struct {
		name  string
		body  string
		files []file
		ok    bool
	}{
		{
			name: "CRLF, two files and a field",
			body: "--B\r\nContent-Disposition: form-data; name=\"a\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nbateau\r\n" +
				"--B\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nfield\r\n" +
				"--B\r\nContent-Disposition: form-data; name=\"b\"; filename=b.txt\r\n\r\nminet\r\n--B--\r\n",
			files: []file{{"a.txt", "bateau", true}, {"b.txt", "minet", true}},
			ok:    true,
		},
		{
			name:  "bare LF, preamble",
			body:  "preamble\n--B\nContent-Disposition: form-data; name=\"a\"; filename=\"x\"\n\nline1\nline2\n--B--\n",
			files: []file{{"x", "line1\nline2", true}},
			ok:    true,
		},
		{
			name:  "folded disposition header",
			body:  "--B\r\nContent-Disposition: form-data;\r\n name=\"a\";\r\n\tfilename=\"folded.bin\"\r\n\r\nzz\r\n--B--",
			files: []file{{"folded.bin", "zz", true}},
			ok:    true,
		},
		{
			name:  "no closing delimiter: a file up to the end",
			body:  "--B\r\nContent-Disposition: form-data; name=\"a\"; filename=\"cut\"\r\n\r\nall the rest\r\n-",
			files: []file{{"cut", "all the rest\r\n-", false}},
			ok:    true,
		},
		{
			name:  "a delimiter-like line inside data is data",
			body:  "--B\r\nContent-Disposition: form-data; filename=\"d\"\r\n\r\nx --B y\r\n--B--",
			files: []file{{"d", "x --B y", true}},
			ok:    true,
		},
		{
			name: "no delimiter at all",
			body: "just some bytes",
			ok:   false,
		},
		{
			name:  "a part header line without a colon",
			body:  "--B\r\nContent-Disposition: form-data; filename=\"h\"\r\ngarbage\r\n\r\nd\r\n--B--",
			files: []file{{"h", "d", true}},
			ok:    false,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := splitMultipart([]byte("B"), []byte(tc.body), nil)
			assert.Equal(t, tc.ok, ok)
			var files []file
			for _, f := range got {
				files = append(files, file{string(f.name), string(f.data), f.closed})
			}
			assert.Equal(t, tc.files, files)
		})
	}
	_, ok := splitMultipart(nil, []byte("--\r\n\r\n"), nil)
	assert.False(t, ok, "no boundary, nothing to split by")
}

// A multipart upload reaches detection as one file.data and file.name
// instance per file, and EVE as one fileinfo record per file; the request
// body buffer stays the whole body.
func TestMultipartUpload(t *testing.T) {
	body := "--XyZ\r\nContent-Disposition: form-data; name=\"u1\"; filename=\"toto.txt\"\r\nContent-Type: text/plain\r\n\r\ntoto est dans un bateau\n\r\n" +
		"--XyZ\r\nContent-Disposition: form-data; name=\"u2\"; filename=\"titi.txt\"\r\n\r\nTiti a vu un gros minet.\n\r\n--XyZ--\r\n"
	req := "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Type: multipart/form-data; boundary=\"XyZ\"\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	for _, split := range []func([]byte) [][]byte{nil, byteAtATime} {
		var data, names []string
		var reqBody string
		var files []inspect.FileInfo
		emit := func(u *applayer.Unit) {
			if u.Event != nil && u.Event.File != nil {
				files = append(files, *u.Event.File)
			}
			if u.Dir != inspect.ToServer || u.Event != nil {
				return
			}
			data, names = data[:0], names[:0]
			for _, d := range u.Multi[applayer.FileData] {
				data = append(data, string(d))
			}
			for _, n := range u.Multi[applayer.FileName] {
				names = append(names, string(n))
			}
			reqBody = string(u.Buffers[applayer.HTTPRequestBody])
		}
		p := New(WithLimits(Limits{FileInfo: true}))
		chunks := [][]byte{[]byte(req)}
		if split != nil {
			chunks = split([]byte(req))
		}
		for _, c := range chunks {
			p.Feed(inspect.ToServer, c, emit)
		}
		p.Feed(inspect.ToClient, []byte("HTTP/1.1 204 No Content\r\n\r\n"), emit)
		p.Close(emit)
		assert.Equal(t, []string{"toto est dans un bateau\n", "Titi a vu un gros minet.\n"}, data)
		assert.Equal(t, []string{"toto.txt", "titi.txt"}, names)
		assert.Equal(t, body, reqBody, "http.request_body is the whole body")
		require.Len(t, files, 2, "one fileinfo per file, none for the whole body")
		assert.Equal(t, inspect.FileInfo{Filename: "toto.txt", Size: 24, SHA256: sum("toto est dans un bateau\n"), Magic: "text/plain; charset=utf-8", State: "CLOSED"}, files[0])
		assert.Equal(t, "titi.txt", files[1].Filename)
		assert.Equal(t, sum("Titi a vu un gros minet.\n"), files[1].SHA256)
	}
}

// A multipart body the splitter cannot read raises an event.
func TestMultipartInvalidEvent(t *testing.T) {
	for _, tc := range []struct {
		name, ct, body string
		want           bool
	}{
		{"no boundary parameter", "multipart/form-data", "--x\r\n\r\nd", true},
		{"no delimiter", "multipart/form-data; boundary=x", "plain bytes", true},
		{"readable", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=a\r\n\r\nd\r\n--x--", false},
		{"not multipart", "text/plain", "plain bytes", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run([]step{cs("POST / HTTP/1.1\r\nHost: h\r\nContent-Type: " + tc.ct + "\r\nContent-Length: " + strconv.Itoa(len(tc.body)) + "\r\n\r\n" + tc.body)})
			if tc.want {
				assert.Contains(t, r.anomalies(), "MULTIPART_GENERIC_ERROR")
			} else {
				assert.NotContains(t, r.anomalies(), "MULTIPART_GENERIC_ERROR")
			}
		})
	}
}

func FuzzSplitMultipart(f *testing.F) {
	f.Add([]byte("B"), []byte("--B\r\nContent-Disposition: form-data; filename=\"a\"\r\n\r\nx\r\n--B--"))
	f.Add([]byte("B"), []byte("--B\nContent-Disposition: form-data;\n filename=a\n\n--B\n\n\n--B"))
	f.Add([]byte(`"q"`), []byte("\n--\"q\"--"))
	f.Fuzz(func(t *testing.T, boundary, body []byte) {
		files, _ := splitMultipart(boundary, body, nil)
		for _, fl := range files {
			if len(fl.data) > len(body) {
				t.Fatalf("file of %d bytes from a body of %d", len(fl.data), len(body))
			}
		}
		multipartBoundary(append([]byte("multipart/form-data; boundary="), boundary...))
	})
}

// A multipart upload cut short by the end of the flow still logs its
// files: a part its delimiter closed as CLOSED, the last as TRUNCATED,
// and no event (its delimiter may have been yet to come).
func TestMultipartCutShort(t *testing.T) {
	body := "--b\r\nContent-Disposition: form-data; filename=\"one\"\r\n\r\n1\r\n--b\r\nContent-Disposition: form-data; filename=\"two\"\r\n\r\n2"
	r := run([]step{cs("POST / HTTP/1.1\r\nHost: h\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000\r\n\r\n" + body)},
		WithLimits(Limits{FileInfo: true}))
	require.Len(t, r.files, 2)
	assert.Equal(t, "one", r.files[0].Filename)
	assert.Equal(t, "CLOSED", r.files[0].State)
	assert.Equal(t, "two", r.files[1].Filename)
	assert.Equal(t, "TRUNCATED", r.files[1].State)
	assert.NotContains(t, r.anomalies(), "MULTIPART_GENERIC_ERROR")
}

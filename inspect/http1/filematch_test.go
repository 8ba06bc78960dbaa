package http1

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect/applayer"
)

// With FileMatch on, a complete file reaches detection with its name,
// size and digests; without it, only file.name (from the first body
// byte). A POST body is no file (Suricata: PUT or multipart), a truncated
// one has no digest.
func TestFileMatch(t *testing.T) {
	body := "hello file"
	md, s1, s2 := md5.Sum([]byte(body)), sha1.Sum([]byte(body)), sha256.Sum256([]byte(body))
	var size [8]byte
	binary.BigEndian.PutUint64(size[:], uint64(len(body)))
	opts := WithLimits(Limits{FileMatch: true})

	find := func(r *recorder, b applayer.Buffer) (string, bool) {
		for _, u := range r.units {
			if v, ok := u.bufs[b.String()]; ok {
				return v, true
			}
		}
		return "", false
	}
	for _, split := range []func([]byte) [][]byte{nil, byteAtATime} {
		r := runSplit([]step{cs("GET /a/b.pdf?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"), sc("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n" + body)}, split, opts)
		name, ok := find(r, applayer.FileName)
		require.True(t, ok)
		assert.Equal(t, "/a/b.pdf", name)
		got, ok := find(r, applayer.FileMD5)
		require.True(t, ok)
		assert.Equal(t, string(md[:]), got)
		got, _ = find(r, applayer.FileSHA1)
		assert.Equal(t, string(s1[:]), got)
		got, _ = find(r, applayer.FileSHA256)
		assert.Equal(t, string(s2[:]), got)
		got, _ = find(r, applayer.FileSize)
		assert.Equal(t, string(size[:]), got)
		assert.Empty(t, r.files, "no fileinfo records unless FileInfo is on")
	}

	r := run([]step{cs("GET /f HTTP/1.1\r\nHost: h\r\n\r\n"), sc("HTTP/1.1 200 OK\r\nContent-Disposition: attachment; filename=\"r.pdf\"\r\nContent-Length: 10\r\n\r\n" + body)})
	name, _ := find(r, applayer.FileName)
	assert.Equal(t, "r.pdf", name)
	_, ok := find(r, applayer.FileMD5)
	assert.False(t, ok, "no digests unless FileMatch is on")

	r = run([]step{cs("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n" + body), sc("HTTP/1.1 204 No Content\r\n\r\n")}, opts)
	_, ok = find(r, applayer.FileName)
	assert.False(t, ok, "a POST body is not a file")
	r = run([]step{cs("PUT /up/x.txt HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n" + body), sc("HTTP/1.1 204 No Content\r\n\r\n")}, opts)
	name, _ = find(r, applayer.FileName)
	assert.Equal(t, "/up/x.txt", name)
	_, ok = find(r, applayer.FileMD5)
	assert.True(t, ok)

	r = run([]step{cs("GET /f HTTP/1.1\r\nHost: h\r\n\r\n"), sc("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + body)}, opts)
	_, ok = find(r, applayer.FileMD5)
	assert.False(t, ok, "a truncated file has no digest")
}

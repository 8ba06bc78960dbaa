package identity

import (
	"crypto/tls"
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clientHello returns the bytes crypto/tls sends first for serverName.
func clientHello(t testing.TB, serverName string) []byte {
	c, s := net.Pipe()
	go func() {
		tls.Client(c, &tls.Config{ServerName: serverName, InsecureSkipVerify: true}).Handshake()
		c.Close()
	}()
	hdr := make([]byte, 5)
	_, err := io.ReadFull(s, hdr)
	require.NoError(t, err)
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	_, err = io.ReadFull(s, body)
	require.NoError(t, err)
	s.Close()
	return append(hdr, body...)
}

// TestHelloSNIAnyCut: a ClientHello cut anywhere either needs more bytes
// or yields its server name, never a wrong answer; Go's hello (with the
// large post-quantum key share) names its server in the first 1,400
// bytes, so one TCP segment decides.
func TestHelloSNIAnyCut(t *testing.T) {
	hello := clientHello(t, "api.example.test")
	require.Greater(t, len(hello), 1000, "a hello with a post-quantum key share spans two segments")
	decidedAt := -1
	for n := 0; n <= len(hello); n++ {
		sni, done := helloSNI(hello[:n])
		if !done {
			assert.Equal(t, -1, decidedAt, "once decided, more bytes cannot undecide (cut %d)", n)
			continue
		}
		assert.Equal(t, "api.example.test", sni, "cut %d", n)
		if decidedAt < 0 {
			decidedAt = n
		}
	}
	assert.Positive(t, decidedAt)
	assert.Less(t, decidedAt, 1400)

	sni, done := helloSNI(clientHello(t, ""))
	assert.True(t, done)
	assert.Empty(t, sni, "a hello without server_name")
	sni, done = helloSNI([]byte{0x16, 3, 1, 0, 5, 2, 0, 0, 0, 0})
	assert.True(t, done, "not a ClientHello")
	assert.Empty(t, sni)
}

func FuzzHelloSNI(f *testing.F) {
	f.Add(clientHello(f, "a.example.test"))
	f.Add([]byte{0x16, 3, 1, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		helloSNI(b)
	})
}

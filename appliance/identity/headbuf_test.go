package identity

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/interdict/interdict/netstack"
)

// TestHeadBufHoldsUntilABodyWasAnnounced: split heads are held (Hold)
// and released whole to the inner handler; once a request announced a
// body, later split heads go on piecewise, since a body's first bytes
// could look like the start of a head and wait forever.
func TestHeadBufHoldsUntilABodyWasAnnounced(t *testing.T) {
	var h headBuf
	head := h.add([]byte("GET /a HT"))
	v, ok := h.wait(head, []byte("GET /a HT"))
	assert.True(t, ok)
	assert.Equal(t, netstack.Hold, v)
	head = h.add([]byte("TP/1.1\r\n\r\n"))
	assert.Equal(t, "GET /a HTTP/1.1\r\n\r\n", string(h.release(head, []byte("TP/1.1\r\n\r\n"))),
		"the inner handler gets the held bytes with the new ones")
	h.sawHead(head)
	assert.False(t, h.bodies, "a GET announces no body")

	_, ok = h.wait([]byte("POST"), nil)
	assert.False(t, ok, "the end of the stream decides on what was seen")

	h.sawHead([]byte("POST /u HTTP/1.1\r\nContent-Length: 12\r\n"))
	assert.True(t, h.bodies)
	b := []byte("HELLO ")
	v, ok = h.wait(h.add(b), b)
	assert.True(t, ok)
	assert.Equal(t, netstack.Continue, v, "after a body, a head-like start is not held")
	assert.Equal(t, "world", string(h.release(h.add([]byte("world")), []byte("world"))),
		"bytes not held were forwarded already: the inner handler gets only the new ones")

	assert.False(t, announcesBody([]byte("GET / HTTP/1.1\r\nContent-Length: 0\r\n")))
	assert.True(t, announcesBody([]byte("POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n")))
}

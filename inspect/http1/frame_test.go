package http1

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/interdict/interdict/inspect"
)

// TestHTTP1Frames: with Limits.Frames, each Unit carries its own
// direction's message as frame:http1.request or frame:http1.response
// (head as received, then the decoded body); without it, neither.
func TestHTTP1Frames(t *testing.T) {
	conv := []step{
		cs("POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
		sc("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
	}
	r := run(conv, WithLimits(Limits{Frames: true}))
	got := r.final()
	req := got[key{inspect.ToServer, 0}]
	assert.Equal(t, "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nhello", req["frame:http1.request"])
	assert.NotContains(t, req, "frame:http1.response")
	resp := got[key{inspect.ToClient, 0}]
	assert.Equal(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", resp["frame:http1.response"])
	assert.NotContains(t, resp, "frame:http1.request", "a frame is its own direction's")

	for _, u := range run(conv).units {
		assert.NotContains(t, u.bufs, "frame:http1.request")
		assert.NotContains(t, u.bufs, "frame:http1.response")
	}
}

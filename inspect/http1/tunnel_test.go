package http1

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// TestConnectTunnel: a CONNECT answered 2xx hands detection the
// tunnel's first bytes (what the client sent before the answer, what
// followed the answer), once; a refused CONNECT and a 101 to something
// else than h2c open no tunnel.
func TestConnectTunnel(t *testing.T) {
	nop := func(*applayer.Unit) {}
	p := New()
	p.Feed(inspect.ToServer, []byte("CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\nEARLY"), nop)
	_, ok := p.Tunnel()
	assert.False(t, ok, "no tunnel before the answer")
	p.Feed(inspect.ToClient, []byte("HTTP/1.1 200 Connection established\r\n\r\nSERVER"), nop)
	first, ok := p.Tunnel()
	assert.True(t, ok)
	assert.Equal(t, "EARLY", string(first[inspect.ToServer]))
	assert.Equal(t, "SERVER", string(first[inspect.ToClient]))
	_, ok = p.Tunnel()
	assert.False(t, ok, "reported once")

	p = New()
	p.Feed(inspect.ToServer, []byte("CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n"), nop)
	p.Feed(inspect.ToClient, []byte("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"), nop)
	_, ok = p.Tunnel()
	assert.False(t, ok, "a refused CONNECT is no tunnel")

	p = New()
	p.Feed(inspect.ToServer, []byte("GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"), nop)
	p.Feed(inspect.ToClient, []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"), nop)
	_, ok = p.Tunnel()
	assert.False(t, ok, "an upgrade is not a CONNECT tunnel")
}

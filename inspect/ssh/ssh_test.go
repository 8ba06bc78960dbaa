package ssh

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

type got struct {
	bufs  map[inspect.Direction][2]string
	tx    []inspect.SSHTx
	anoms []string
}

func feed(t *testing.T, client, server string, chunk int) got {
	t.Helper()
	g := got{bufs: map[inspect.Direction][2]string{}}
	p := New()
	emit := func(u *applayer.Unit) {
		if u.Buffers[applayer.SSHProto] != nil {
			g.bufs[u.Dir] = [2]string{string(u.Buffers[applayer.SSHProto]), string(u.Buffers[applayer.SSHSoftware])}
		}
		if u.Event != nil {
			g.tx = append(g.tx, *u.Event.SSH)
		}
		for _, a := range u.Anomalies {
			g.anoms = append(g.anoms, a.Event)
		}
	}
	for dir, s := range []string{client, server} {
		for len(s) > 0 {
			n := min(chunk, len(s))
			p.Feed(inspect.Direction(dir), []byte(s[:n]), emit)
			s = s[n:]
		}
	}
	p.Close(emit)
	return g
}

func TestBanners(t *testing.T) {
	for _, chunk := range []int{1, 5, 1 << 10} {
		g := feed(t, "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n\x00\x00\x01", "SSH-1.99-Cisco-1.25\n", chunk)
		assert.Equal(t, [2]string{"2.0", "OpenSSH_9.6p1"}, g.bufs[inspect.ToServer], "chunk %d", chunk)
		assert.Equal(t, [2]string{"1.99", "Cisco-1.25"}, g.bufs[inspect.ToClient])
		require.Len(t, g.tx, 1, "one ssh record per flow")
		assert.Equal(t, inspect.SSHTx{Client: inspect.SSHSide{ProtoVersion: "2.0", SoftwareVersion: "OpenSSH_9.6p1"},
			Server: inspect.SSHSide{ProtoVersion: "1.99", SoftwareVersion: "Cisco-1.25"}}, g.tx[0])
		assert.Empty(t, g.anoms)
	}
}

func TestBadBanners(t *testing.T) {
	g := feed(t, "SSH-2.0\r\n", "SSH-2.0-"+strings.Repeat("x", 300)+"\r\n", 1<<10)
	assert.Equal(t, []string{EvInvalidBanner, EvLongBanner}, g.anoms)
	assert.Empty(t, g.tx)
	g = feed(t, "SSH-2.0-PuTTY\r\n", "", 7)
	require.Len(t, g.tx, 1, "a flow with one banner is logged at its end")
	assert.Equal(t, "PuTTY", g.tx[0].Client.SoftwareVersion)
}

func TestProbe(t *testing.T) {
	assert.Equal(t, applayer.ProbeYes, Probe(inspect.ToClient, []byte("SSH-2.0-x")))
	assert.Equal(t, applayer.ProbeMore, Probe(inspect.ToServer, []byte("SS")))
	assert.Equal(t, applayer.ProbeNo, Probe(inspect.ToServer, []byte("GET / HTTP/1.1")))
}

func FuzzParser(f *testing.F) {
	f.Add([]byte("SSH-2.0-OpenSSH_9.6\r\n"), []byte("SSH-2.0-x y\n"))
	f.Fuzz(func(t *testing.T, c, s []byte) {
		p := New()
		emit := func(u *applayer.Unit) {
			if b := u.Buffers[applayer.SSHSoftware]; len(b) > maxBanner {
				t.Fatalf("software version longer than a banner: %d", len(b))
			}
		}
		p.Feed(inspect.ToServer, c, emit)
		p.Feed(inspect.ToClient, s, emit)
		p.Close(emit)
	})
}

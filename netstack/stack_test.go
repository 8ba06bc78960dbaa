package netstack

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// blockingLink behaves like a TUN device towards the stack: its Wait
// returns only after Close, as its readers block in read until the
// device is closed.
type blockingLink struct {
	*channel.Endpoint
	once   sync.Once
	closed chan struct{}
}

func newBlockingLink() *blockingLink {
	return &blockingLink{Endpoint: channel.New(16, 1500, ""), closed: make(chan struct{})}
}

func (l *blockingLink) Close() {
	l.once.Do(func() { close(l.closed) })
	l.Endpoint.Close()
}

func (l *blockingLink) Wait() { <-l.closed }

var _ stack.LinkEndpoint = (*blockingLink)(nil)

func TestCloseClosesLinks(t *testing.T) {
	cases := []struct {
		name     string
		upstream bool
	}{
		{"client link", false},
		{"client and upstream links", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client, up := newBlockingLink(), newBlockingLink()
			opts := []Option{WithLink(client)}
			if tc.upstream {
				opts = append(opts, WithUpstreamLink(up))
			}
			s, err := New(opts...)
			require.NoError(t, err)
			done := make(chan error, 1)
			go func() { done <- s.Close() }()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(10 * time.Second):
				// Unblock the stack so the test binary can go on.
				client.Close()
				up.Close()
				t.Fatal("Stack.Close hung waiting for a link nobody closed")
			}
			assert.True(t, isClosed(client.closed), "client link closed")
			assert.Equal(t, tc.upstream, isClosed(up.closed), "upstream link closed")
			require.NoError(t, s.Close(), "second Close")
		})
	}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

package netstack

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIsReset(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"ECONNRESET from read", &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, true},
		{"ECONNABORTED", &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNABORTED)}, true},
		{"wrapped further", fmt.Errorf("flow 7: %w", &net.OpError{Op: "read", Err: syscall.ECONNRESET}), true},
		{"EOF", io.EOF, false},
		{"closed locally", net.ErrClosed, false},
		{"timeout", &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, false},
		{"text alone is not a reset", errors.New("connection reset by peer"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, isReset(tc.err)) })
	}
}

// TestConnLegSeesReset checks the error a real kernel socket returns when
// its peer resets, as the relay sees it.
func TestConnLegSeesReset(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	peer, err := ln.Accept()
	require.NoError(t, err)
	require.NoError(t, peer.(*net.TCPConn).SetLinger(0))
	require.NoError(t, peer.Close()) // RST
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = connLeg{c}.read(make([]byte, 16))
	assert.ErrorIs(t, err, errReset)
}

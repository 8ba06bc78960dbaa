package harness

import (
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/netstack"
)

// ResetAll (a quarantine's reset pass) ends a batch of flows as Reset
// does each: every client and every server sees a RST, the servers got
// exactly what was sent before and nothing after, and the relays, woken
// only after the whole batch, tear down.
func TestResetAllResetsBothLegsOfEveryFlow(t *testing.T) {
	leakCheck(t)
	const flows = 20
	n := New(t)
	srv := &reqServer{}
	serve(t, n, rawAP, srv.serve)
	var sent []string
	conns := make([]net.Conn, 0, flows)
	for i := range flows {
		c := dial(t, n, rawAP)
		msg := fmt.Sprintf("flow %02d before the reset", i)
		_, err := c.Write([]byte(msg))
		require.NoError(t, err)
		conns, sent = append(conns, c), append(sent, msg)
	}
	require.Eventually(t, func() bool {
		var got []string
		for i := range flows {
			s, _ := srv.got(i)
			got = append(got, s)
		}
		slices.Sort(got)
		return slices.Equal(got, sent)
	}, 10*time.Second, 5*time.Millisecond, "every server conn got its bytes")

	var all []*netstack.Flow
	n.Appliance.Flows().Range(func(f *netstack.Flow) bool { all = append(all, f); return true })
	require.Len(t, all, flows)
	require.Error(t, netstack.ResetAll(all, netstack.Hold), "not a terminal verdict")
	require.NoError(t, netstack.ResetAll(all, netstack.RejectBoth))

	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := c.Read(make([]byte, 1))
		require.ErrorContains(t, err, "reset", "client %d sees the RST", i)
		_, err = c.Write([]byte("after"))
		assert.Error(t, err, "client %d cannot send after the reset", i)
	}
	var got []string
	for i := range flows {
		require.ErrorContains(t, srv.waitEnd(t, i), "reset", "server conn %d sees the RST", i)
		s, _ := srv.got(i)
		got = append(got, s)
	}
	slices.Sort(got)
	assert.Equal(t, sent, got, "the servers got what was sent before the reset, and nothing after")
	require.Eventually(t, func() bool { return n.Appliance.Flows().Len() == 0 },
		10*time.Second, 5*time.Millisecond, "the relays tore the flows down")
	// Resetting ended flows again is a no-op.
	require.NoError(t, netstack.ResetAll(all, netstack.RejectBoth))
}

package appliance

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/netstack"
)

// The errors of a first run as a normal user name the path once and say
// which key to change; the underlying error stays inspectable.
func TestFirstRunHints(t *testing.T) {
	denied := &fs.PathError{Op: "open", Path: "/var/log/interdict/eve.json", Err: syscall.EACCES}
	err := pathHint(denied, "eve.path", `"-" writes to stdout`)
	assert.Equal(t, "open /var/log/interdict/eve.json: permission denied\n  hint: this user may not write there: "+
		"run as root or as the packaged service (systemctl start interdict), or set eve.path in a config file "+
		`(--config FILE) to a path this user can write; "-" writes to stdout`, err.Error())
	assert.ErrorIs(t, err, fs.ErrPermission)
	notExist := &fs.PathError{Op: "open", Path: "/x", Err: syscall.ENOENT}
	assert.Same(t, error(notExist), pathHint(notExist, "eve.path", ""), "only permission errors get the hint")

	exe, err := os.Executable()
	require.NoError(t, err)
	assert.Contains(t, tunHint(fmt.Errorf("tun interdict0: TUNSETIFF: %w", syscall.EPERM)).Error(),
		"CAP_NET_ADMIN: run as root, or grant it to the binary (sudo setcap cap_net_admin+ep "+exe+")", "the command names this binary")
	// A device node this user may not open (mode 0600): the capability
	// alone would not do.
	assert.Contains(t, tunHint(fmt.Errorf("open /dev/net/tun: %w", syscall.EACCES)).Error(),
		"this user may not open /dev/net/tun (Debian makes it 0666; here it is not): run as root, or open the node "+
			"(sudo chmod 0666 /dev/net/tun) and grant CAP_NET_ADMIN to the binary (sudo setcap cap_net_admin+ep "+exe+")")
	assert.Contains(t, tunHint(&fs.PathError{Op: "open", Path: "/dev/net/tun", Err: syscall.ENOENT}).Error(), "--device /dev/net/tun")
}

// A metrics port another process holds fails the start with the key to
// change; a real second listener on the port provokes it.
func TestMetricsPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	fx := newFixture(t, "metrics:\n  listen: "+ln.Addr().String()+"\n")
	err = fx.a.Serve(t.Context())
	require.Error(t, err)
	assert.True(t, errors.Is(err, syscall.EADDRINUSE), "%v", err)
	assert.Contains(t, err.Error(), "hint: another process (another interdict?) listens there: stop it, or set metrics.listen")
}

// After the TUN is up the log says what to route next, with the
// configured device and mark.
func TestRoutingHint(t *testing.T) {
	var buf bytes.Buffer
	s := &Settings{Link: TUNSettings{Name: "interdict0"}, Upstream: "host", Host: netstack.HostDialer{Mark: 0x1d1c}}
	logRoutingHint(slog.New(slog.NewTextHandler(&buf, nil)), s)
	assert.Contains(t, buf.String(), "nothing is inspected until traffic is routed into the TUN")
	assert.Contains(t, buf.String(), "ip rule add pref 100 fwmark 0x1d1c lookup main")
	assert.Contains(t, buf.String(), "ip route add default dev interdict0 table 100")
}

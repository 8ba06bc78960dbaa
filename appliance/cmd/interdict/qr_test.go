package main

import (
	"strings"
	"testing"

	goqr "github.com/piglig/go-qr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The terminal drawing holds exactly the code's modules (read back from
// the half blocks), and the code decodes to the config it was made from.
func TestQRRoundTrip(t *testing.T) {
	conf := "[Interface]\nPrivateKey = QFGQjwSpLw80SmbRQ1ndxVDCJx4CakaDd4O6YX6chk0=\nAddress = 100.96.0.2/32, fd00:96::2/128\nMTU = 1420\n\n" +
		"[Peer]\nPublicKey = mpMkjz0HFDAqIrgL/U7spmEf/zJ4o8ptjYafW3UNcUk=\nEndpoint = hub.example:51820\nAllowedIPs = 0.0.0.0/0, ::/0\nPersistentKeepalive = 25\n"
	q, err := goqr.EncodeText(conf, goqr.Low)
	require.NoError(t, err)
	img, err := q.ToImage(goqr.NewQrCodeImgConfig(4, 4))
	require.NoError(t, err)
	got, err := goqr.Decode(img)
	require.NoError(t, err)
	assert.Equal(t, conf, got)

	var b strings.Builder
	require.NoError(t, writeQR(&b, conf))
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	n := q.Size() + 2*qrQuiet
	require.Len(t, lines, (n+1)/2)
	assert.LessOrEqual(t, n, 80, "fits an 80-column terminal")
	for row, line := range lines {
		cells := []rune(strings.TrimSuffix(strings.TrimPrefix(line, "\x1b[30;47m"), "\x1b[0m"))
		require.Len(t, cells, n)
		for x, c := range cells {
			for half, y := range []int{2 * row, 2*row + 1} {
				mx, my := x-qrQuiet, y-qrQuiet
				want := mx >= 0 && my >= 0 && mx < q.Size() && my < q.Size() && q.Module(mx, my)
				dark := c == '█' || (half == 0 && c == '▀') || (half == 1 && c == '▄')
				assert.Equal(t, want, dark, "module %d,%d", mx, my)
			}
		}
	}
}

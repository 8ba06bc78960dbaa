package replay

import (
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, data, 0o644))
	return p
}

// httpCapture is one HTTP/1.1 exchange whose response body ends with
// NEEDLE after bodyLen filler bytes, in 1,000-byte segments.
func httpCapture(t *testing.T, bodyLen int) []byte {
	c := newCapture(t, layers.LinkTypeEthernet).handshake(cli, srv)
	req := "GET /file HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0\r\n\r\n"
	c.tcp(tcpSeg{src: cli, dst: srv, seq: 1001, ack: 5001, flags: "PA", data: req})
	body := strings.Repeat("x", bodyLen) + "NEEDLE"
	resp := "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	seq := uint32(5001)
	for len(resp) > 0 {
		n := min(1000, len(resp))
		c.tcp(tcpSeg{src: srv, dst: cli, seq: seq, ack: 1001 + uint32(len(req)), flags: "PA", data: resp[:n]})
		seq += uint32(n)
		resp = resp[n:]
	}
	return c.pcap()
}

func TestSetupWithDetectEngine(t *testing.T) {
	dir := t.TempDir()
	rules := writeFile(t, dir, "test.rules", []byte(strings.Join([]string{
		`alert http any any -> any any (msg:"needle in body"; file_data; content:"NEEDLE"; sid:1; rev:1;)`,
		`alert http any any -> any any (msg:"ua"; http.user_agent; content:"Mozilla"; startswith; flowbits:set,traffic/id/mozilla; sid:2; rev:1;)`,
		`alert tcp any any -> any any (msg:"unsupported"; no_such_keyword; sid:3;)`,
	}, "\n")))
	pcap := writeFile(t, dir, "in.pcap", httpCapture(t, 100<<10))

	for _, tt := range []struct {
		name   string
		limit  int
		needle uint64
	}{
		// The body is inspected window by window past the bound (issue 11).
		{"default body window finds a needle past 64 KiB", 0, 1},
		{"raised body bound finds it", 1 << 20, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			evs := &events{}
			s := Setup{Pcap: pcap, Rules: []string{rules}, HTTPBodyLimit: tt.limit, Config: Config{Events: evs}}
			sum, ld, err := s.Run()
			require.NoError(t, err)
			assert.Equal(t, 2, ld.Rules)
			require.Len(t, ld.Rejected, 1)
			assert.Equal(t, 3, ld.Rejected[0].SID)
			assert.Equal(t, tt.needle, sum.AlertsBySID[1])
			assert.EqualValues(t, 1, sum.AlertsBySID[2])

			var ua map[string]any
			for _, a := range evs.ofType("alert") {
				if a["alert"].(map[string]any)["signature_id"] == 2.0 {
					ua = a
				}
			}
			require.NotNil(t, ua)
			assert.Equal(t, "http", ua["app_proto"])
			assert.Equal(t, map[string]any{"id": []any{"mozilla"}}, ua["traffic"], "traffic/id flowbit tags the alert")
			assert.Equal(t, map[string]any{"id": []any{"mozilla"}}, evs.ofType("flow")[0]["traffic"], "and the flow")
			http := evs.ofType("http")
			require.Len(t, http, 1)
			assert.Equal(t, "example.com", http[0]["http"].(map[string]any)["hostname"])
		})
	}
}

// TestThresholdsUseCaptureTime: two matches 10 s apart in the capture
// must not satisfy a "2 within 1 s" threshold, however fast the replay.
func TestThresholdsUseCaptureTime(t *testing.T) {
	dir := t.TempDir()
	rules := writeFile(t, dir, "test.rules", []byte(
		`alert udp any any -> any any (msg:"burst"; content:"ping"; threshold:type threshold, track by_src, count 2, seconds 1; sid:1;)`+"\n"))
	c := newCapture(t, layers.LinkTypeEthernet)
	c.udp(cli, srv, "ping")
	c.ts = c.ts.Add(10 * time.Second)
	c.udp(netip.AddrPortFrom(cli.Addr(), 40001), srv, "ping")
	c.ts = c.ts.Add(100 * time.Millisecond)
	c.udp(netip.AddrPortFrom(cli.Addr(), 40002), srv, "ping")
	pcap := writeFile(t, dir, "in.pcap", c.pcap())

	sum, _, err := (&Setup{Pcap: pcap, Rules: []string{rules}}).Run()
	require.NoError(t, err)
	assert.EqualValues(t, 1, sum.AlertsBySID[1], "only the pair 100 ms apart crosses the threshold")
}

func TestSetupErrors(t *testing.T) {
	dir := t.TempDir()
	rules := writeFile(t, dir, "r.rules", []byte(`alert tcp any any -> any any (content:"x"; sid:1;)`+"\n"))
	pcap := writeFile(t, dir, "in.pcap", newCapture(t, layers.LinkTypeEthernet).udp(cli, srv, "x").pcap())
	bad := writeFile(t, dir, "bad.config", []byte("threshold gen_id 1, sig_id 1, type nonsense\n"))
	for _, tt := range []struct {
		name string
		s    Setup
		want string
	}{
		{"no rules", Setup{Pcap: pcap}, "no rule files"},
		{"missing pcap", Setup{Pcap: filepath.Join(dir, "none.pcap"), Rules: []string{rules}}, "none.pcap"},
		{"missing rules", Setup{Pcap: pcap, Rules: []string{filepath.Join(dir, "none.rules")}}, "none.rules"},
		{"missing classification", Setup{Pcap: pcap, Rules: []string{rules}, Classification: filepath.Join(dir, "c.config")}, "c.config"},
		{"bad threshold config", Setup{Pcap: pcap, Rules: []string{rules}, ThresholdConfig: bad}, "bad.config"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := tt.s.Run()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

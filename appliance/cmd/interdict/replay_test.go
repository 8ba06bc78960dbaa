package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"
)

// writePcap writes a capture of one TCP connection: handshake, a client
// chunk with "EVIL", a server reply, in that order.
func writePcap(t *testing.T, path string) {
	t.Helper()
	writeConn(t, path, "hello EVIL world", "reply")
}

// writeConn writes a capture of one TCP connection to port 80: handshake,
// one client chunk, one server chunk.
func writeConn(t *testing.T, path, client, server string) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	w := pcapgo.NewWriter(f)
	require.NoError(t, w.WriteFileHeader(65535, layers.LinkTypeEthernet))
	cl, sv := net.IPv4(10, 0, 0, 1).To4(), net.IPv4(10, 0, 0, 2).To4()
	ts := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	pkt := func(fromClient bool, seq, ack uint32, syn, ackf bool, data string) {
		src, dst, sp, dp := cl, sv, layers.TCPPort(40000), layers.TCPPort(80)
		if !fromClient {
			src, dst, sp, dp = sv, cl, dp, sp
		}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: dst}
		tcp := &layers.TCP{SrcPort: sp, DstPort: dp, Seq: seq, Ack: ack, SYN: syn, ACK: ackf, PSH: data != "", Window: 65535}
		require.NoError(t, tcp.SetNetworkLayerForChecksum(ip))
		buf := gopacket.NewSerializeBuffer()
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		require.NoError(t, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp, gopacket.Payload(data)))
		ts = ts.Add(time.Millisecond)
		require.NoError(t, w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}, buf.Bytes()))
	}
	pkt(true, 100, 0, true, false, "")
	pkt(false, 500, 101, true, true, "")
	pkt(true, 101, 501, false, true, "")
	pkt(true, 101, 501, false, true, client)
	pkt(false, 501, 101+uint32(len(client)), false, true, server)
}

func runApp(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	app := &cli.App{Name: "interdict", Commands: []*cli.Command{replayCommand()}, Writer: &out, ErrWriter: &errOut}
	err = app.Run(append([]string{"interdict", "replay"}, args...))
	return out.String(), errOut.String(), err
}

func TestReplayCommand(t *testing.T) {
	dir := t.TempDir()
	pcap := filepath.Join(dir, "in.pcap")
	writePcap(t, pcap)
	rules := filepath.Join(dir, "test.rules")
	require.NoError(t, os.WriteFile(rules, []byte(
		"drop tcp $HOME_NET any -> any 80 (msg:\"evil\"; flow:established,to_server; content:\"EVIL\"; classtype:bad-unknown; sid:7; rev:2;)\n"+
			"alert tcp any any -> any any (msg:\"reply\"; content:\"reply\"; sid:8;)\n"+
			"alert tcp any any -> any any (msg:\"broken\"; nosuchkeyword; sid:9;)\n"), 0o644))
	classification := filepath.Join(dir, "classification.config")
	require.NoError(t, os.WriteFile(classification, []byte("config classification: bad-unknown,Potentially Bad Traffic,2\n"), 0o644))

	t.Run("ips to file", func(t *testing.T) {
		evePath := filepath.Join(dir, "eve.json")
		out, errOut, err := runApp(t, "--pcap", pcap, "--rules", rules, "--classification", classification,
			"--var", "HOME_NET=[10.0.0.0/8]", "--mode", "ips", "--eve", evePath)
		require.NoError(t, err, errOut)
		assert.Contains(t, out, "rules: 2 loaded, 1 rejected")
		assert.Contains(t, out, "mode: ips")
		assert.Contains(t, out, "packets: 5")
		assert.Contains(t, out, "flows: 1")
		assert.Contains(t, out, "alerts: 1\n  sid 7: 1\n", "the reply was never inspected after the drop")
		assert.Contains(t, out, "drops: 2")
		assert.Contains(t, errOut, "sid 9")

		f, err := os.Open(evePath)
		require.NoError(t, err)
		defer f.Close()
		types := map[string]int{}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var ev map[string]any
			require.NoError(t, json.Unmarshal(sc.Bytes(), &ev))
			types[ev["event_type"].(string)]++
			if ev["event_type"] == "alert" {
				al := ev["alert"].(map[string]any)
				assert.Equal(t, "blocked", al["action"])
				assert.EqualValues(t, 7, al["signature_id"])
				assert.EqualValues(t, 2, al["rev"])
				assert.Equal(t, "Potentially Bad Traffic", al["category"])
				assert.EqualValues(t, 2, al["severity"])
				assert.Equal(t, "2026-11-22T10:00:00.004000+0000", ev["timestamp"], "the packet's time")
			}
		}
		assert.Equal(t, map[string]int{"alert": 1, "drop": 2, "flow": 1, "stats": 1}, types)
	})

	t.Run("ids to stdout", func(t *testing.T) {
		out, errOut, err := runApp(t, "--pcap", pcap, "--rules", rules, "--var", "HOME_NET=10.0.0.0/8", "--eve", "-")
		require.NoError(t, err, errOut)
		assert.Contains(t, errOut, "alerts: 2", "summary on stderr when events go to stdout")
		assert.Contains(t, errOut, "sid 8: 1")
		sc := bufio.NewScanner(bytes.NewReader([]byte(out)))
		n := 0
		for sc.Scan() {
			var ev map[string]any
			require.NoError(t, json.Unmarshal(sc.Bytes(), &ev), "stdout holds only EVE lines")
			if ev["event_type"] == "alert" {
				assert.Equal(t, "allowed", ev["alert"].(map[string]any)["action"])
			}
			n++
		}
		assert.Equal(t, 4, n)
	})

	corrupt := filepath.Join(dir, "corrupt.pcap")
	require.NoError(t, os.WriteFile(corrupt, []byte("not a capture"), 0o644))
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"missing pcap", []string{"--pcap", filepath.Join(dir, "nope.pcap"), "--rules", rules}, "nope.pcap"},
		{"corrupt pcap", []string{"--pcap", corrupt, "--rules", rules}, "corrupt.pcap"},
		{"missing rules", []string{"--pcap", pcap, "--rules", filepath.Join(dir, "none.rules")}, "none.rules"},
		{"missing threshold config", []string{"--pcap", pcap, "--rules", rules, "--threshold-config", filepath.Join(dir, "th.config")}, "th.config"},
		{"bad var", []string{"--pcap", pcap, "--rules", rules, "--var", "HOME_NET"}, "NAME=VALUE"},
		{"bad mode", []string{"--pcap", pcap, "--rules", rules, "--mode", "inline"}, "inline"},
		{"no rules flag", []string{"--pcap", pcap}, "rules"},
		{"stray argument", []string{"--pcap", pcap, "--rules", rules, "extra"}, "extra"},
		{"eve in missing dir", []string{"--pcap", pcap, "--rules", rules, "--eve", filepath.Join(dir, "no", "eve.json")}, "eve.json"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runApp(t, tt.args...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// With --config, replay applies the appliance's protocol policy: the
// embedded default rejects request smuggling framing, so in ips mode (the
// config's) the request is a drop event naming the anomaly, as live.
func TestReplayConfigProtocolPolicy(t *testing.T) {
	dir := t.TempDir()
	pcap := filepath.Join(dir, "smuggle.pcap")
	writeConn(t, pcap, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	rules := filepath.Join(dir, "test.rules")
	require.NoError(t, os.WriteFile(rules, []byte("alert http any any -> any any (msg:\"any http\"; http.method; content:\"POST\"; sid:1;)\n"), 0o644))
	cfg := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("mode: ips\n"), 0o644))
	for _, tc := range []struct {
		name  string
		args  []string
		drops []string
	}{
		// The server's answer is then a "flow drop", as after a rule drop.
		{"config", []string{"--config", cfg}, []string{"protocol REQUEST_CONTENT_LENGTH_AND_TRANSFER_ENCODING", "flow drop"}},
		{"config in ids mode", []string{"--config", cfg, "--mode", "ids"}, nil},
		{"no config", []string{"--mode", "ips"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, err := runApp(t, append([]string{"--pcap", pcap, "--rules", rules, "--eve", "-"}, tc.args...)...)
			require.NoError(t, err, errOut)
			var drops []string
			sc := bufio.NewScanner(bytes.NewReader([]byte(out)))
			for sc.Scan() {
				var ev map[string]any
				require.NoError(t, json.Unmarshal(sc.Bytes(), &ev))
				if ev["event_type"] == "drop" {
					reason := ev["drop"].(map[string]any)["reason"].(string)
					drops = append(drops, reason)
					if strings.HasPrefix(reason, "protocol ") {
						assert.Equal(t, "http", ev["app_proto"])
					}
				}
			}
			assert.Equal(t, tc.drops, drops)
		})
	}
}

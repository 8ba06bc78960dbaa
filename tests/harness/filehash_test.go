package harness

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/appliance/enforce"
	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/inspect/http1"
	"github.com/interdict/interdict/inspect/ruleset"
	"github.com/interdict/interdict/netstack"
)

// A known-bad download is blocked by its SHA-256 (filesha256 with a hash
// list, the rule set loaded as the appliance loads it): the client never
// gets the whole file, even gzip-encoded (the hash is the decoded
// file's), and the EVE fileinfo names the hash; another file passes
// byte-exact.
func TestKnownBadDownloadBlockedByHash(t *testing.T) {
	bad := []byte(strings.Repeat("a known-bad payload, ", 5000))
	good := []byte(strings.Repeat("an ordinary report, ", 5000))
	sum := sha256.Sum256(bad)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.sha256"), []byte("# known bad\n"+hex.EncodeToString(sum[:])+"\n"), 0o600))
	rulesPath := filepath.Join(dir, "hash.rules")
	require.NoError(t, os.WriteFile(rulesPath, []byte(`reject http any any -> any any (msg:"known-bad file"; filesha256:bad.sha256; sid:7;)`+"\n"), 0o600))
	// FileInfo as rules.http.fileinfo (on by default) sets it.
	res, err := ruleset.Load(ruleset.Spec{Rules: []ruleset.File{{Path: rulesPath}}, HTTPLimits: http1.Limits{FileInfo: true}})
	require.NoError(t, err)
	require.Empty(t, res.Rejected)

	events := &eveBuf{}
	w := eve.NewWriter(events)
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := enforce.New(res.Engine, enforce.Config{Events: w, Registerer: prometheus.NewRegistry(), Logger: discard})
	require.NoError(t, err)
	n := New(t, netstack.WithHandler(h))

	gz := func(b []byte) []byte {
		var o bytes.Buffer
		zw := gzip.NewWriter(&o)
		zw.Write(b)
		zw.Close()
		return o.Bytes()
	}
	responses := map[string]string{}
	for name, body := range map[string][]byte{"bad.bin": bad, "good.bin": good} {
		responses["/"+name] = fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		enc := gz(body)
		responses["/gz/"+name] = fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s", len(enc), enc)
	}
	serve(t, n, httpAP, func(c net.Conn) {
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		_, _ = io.WriteString(c, responses[req.URL.Path])
	})
	get := func(path string) []byte {
		c, err := n.Dial(t.Context(), httpAP)
		require.NoError(t, err)
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", path)
		require.NoError(t, err)
		got, _ := io.ReadAll(c)
		return got
	}
	for _, path := range []string{"/bad.bin", "/gz/bad.bin"} {
		got := get(path)
		assert.Less(t, len(got), len(responses[path]), "%s: the client never gets the whole file", path)
	}
	for _, path := range []string{"/good.bin", "/gz/good.bin"} {
		// The server closes after one response; the client reads to EOF.
		assert.Equal(t, responses[path], string(get(path)), "%s arrives byte-exact", path)
	}
	// Both blocked downloads are logged: the alert, and the fileinfo
	// record with the decoded file's hash.
	require.Eventually(t, func() bool {
		alerts, files := 0, 0
		for _, ev := range events.of(t, eve.TypeAlert, 0) {
			if ev.Alert.SignatureID == 7 {
				alerts++
			}
		}
		for _, ev := range events.of(t, eve.TypeFileInfo, 0) {
			if ev.FileInfo.SHA256 == hex.EncodeToString(sum[:]) {
				files++
			}
		}
		return alerts == 2 && files >= 2
	}, 10*time.Second, 10*time.Millisecond, "two sid 7 alerts and two fileinfo records with the bad hash")
}

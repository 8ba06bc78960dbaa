package rules

import (
	"fmt"
	"strings"
	"testing"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/detect"
)

// BenchmarkPackBenignHTTP measures the pack on a keep-alive flow of benign
// JSON API calls, fed in 1460-byte reads as the relay would, with answers.
func BenchmarkPackBenignHTTP(b *testing.B) {
	p := loadPack(b)
	var reqs, resps strings.Builder
	body := `{"job":"build-4711","status":"ok","artifacts":["app.tar.gz","sbom.json"],"duration_ms":81234}`
	for i := range 50 {
		reqs.WriteString(post(fmt.Sprintf("/api/v4/jobs/%d/status?ref=main", i), body, "Content-Type: application/json", "Authorization: Bearer opaque-session-token-value"))
		resps.WriteString(okResponse)
	}
	benchEngines(b, p, reqs.String(), resps.String())
}

// BenchmarkPackBenignStream measures the raw-stream rules on a non-HTTP
// flow of log-like text; "prefix-hits" has a credential prefix (ASIA) on
// every line that is never followed by a key, the worst case for a rule
// whose fast pattern matches but whose chain does not.
func BenchmarkPackBenignStream(b *testing.B) {
	p := loadPack(b)
	line := "2026-11-22T10:00:00Z INFO runner step=test pkg=./inspect/... result=ok elapsed=1.234s region=eu-west-1\n"
	b.Run("plain", func(b *testing.B) { benchEngines(b, p, strings.Repeat(line, 600), "") })
	hits := strings.ReplaceAll(line, "eu-west-1", "ASIA-PACIFIC")
	b.Run("prefix-hits", func(b *testing.B) { benchEngines(b, p, strings.Repeat(hits, 600), "") })
}

// benchEngines runs the flow through an engine with no rules (the parser
// and stream bookkeeping alone) and through the pack, so the pack's own
// cost is the difference.
func benchEngines(b *testing.B, p *pack, toServer, toClient string) {
	empty, err := detect.New(nil, detect.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("no-rules", func(b *testing.B) { benchFlow(b, empty, toServer, toClient) })
	b.Run("pack", func(b *testing.B) { benchFlow(b, p.engine, toServer, toClient) })
}

func benchFlow(b *testing.B, e *detect.Engine, toServer, toClient string) {
	const mss = 1460
	up, down := []byte(toServer), []byte(toClient)
	b.SetBytes(int64(len(up) + len(down)))
	b.ReportAllocs()
	for b.Loop() {
		fl := e.NewFlow(inspect.FlowMeta{Proto: inspect.ProtoTCP, Src: srcAddr, Dst: extAddr})
		for off := 0; off < len(up) || off < len(down); off += mss {
			if off < len(up) {
				if r := fl.Inspect(inspect.ToServer, up[off:min(off+mss, len(up))]); len(r.Alerts) > 0 {
					b.Fatalf("benign traffic alerted: sid %d", r.Alerts[0].Rule.SID)
				}
			}
			if off < len(down) {
				fl.Inspect(inspect.ToClient, down[off:min(off+mss, len(down))])
			}
		}
		fl.Close()
	}
}

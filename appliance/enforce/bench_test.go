package enforce

import (
	"io"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/netstack"
)

// BenchmarkChunk measures what the handler adds around Inspect (lock,
// clock reads, histogram and counter updates, result mapping) with an
// inspector that finds nothing, and the cost of one logged alert (EVE
// encoding to io.Discard).
//
//	go test -run '^$' -bench Chunk -benchmem ./appliance/enforce/
func BenchmarkChunk(b *testing.B) {
	r := &inspect.RuleInfo{GID: 1, SID: 1000001, Rev: 2, Msg: "WEB path traversal", Action: inspect.ActionAlert, Category: "Web Application Attack", Severity: 1}
	alert := inspect.Result{Action: inspect.ActionAlert, Alerts: []inspect.Alert{{Rule: r, AppProto: "http"}}}
	for _, bc := range []struct {
		name string
		res  inspect.Result
	}{{"clean", inspect.Result{}}, {"alert", alert}} {
		b.Run(bc.name, func(b *testing.B) {
			ff := &constFactory{res: bc.res}
			h, err := New(ff, Config{Events: eve.NewWriter(io.Discard), Registerer: prometheus.NewRegistry(),
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				b.Fatal(err)
			}
			fh, _ := h.NewFlow(info(1, "peer"))
			chunk := make([]byte, 1460)
			b.SetBytes(int64(len(chunk)))
			b.ReportAllocs()
			for b.Loop() {
				if v := fh.Chunk(netstack.ToServer, chunk); v != netstack.Continue {
					b.Fatal(v)
				}
			}
		})
	}
}

type constFactory struct{ res inspect.Result }

func (f *constFactory) NewFlow(inspect.FlowMeta) inspect.FlowInspector { return f }
func (f *constFactory) Inspect(inspect.Direction, []byte) inspect.Result {
	return f.res
}
func (f *constFactory) Close() inspect.Result { return inspect.Result{} }

package http1

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/decode"
)

// brBody is plain in br with the largest window (16 MiB), its first KiB
// flushed in a meta-block of its own, so that its decoder may fill the
// window (as an attacker asking every decoder to hold as much as it can
// would send it).
func brBody(t testing.TB, plain []byte) []byte {
	var o bytes.Buffer
	w := brotli.NewWriterOptions(&o, brotli.WriterOptions{Quality: 5, LGWin: 24})
	_, err := w.Write(plain[:1<<10])
	require.NoError(t, err)
	require.NoError(t, w.Flush())
	_, err = w.Write(plain[1<<10:])
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return o.Bytes()
}

func brResponse(body []byte) string {
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: %d\r\n\r\n", len(body))
}

// Flows share the decoder memory budget: a body whose decoder would take
// it past the limit is RESPONSE_DECODER_MEMORY_EXHAUSTED (or the request
// form), none of its decoded bytes reach the body buffers, and the
// budget returns to 0 however the flows end: a body that completes, a
// flow closed mid-body (reset, timeout), an HTTP/2 stream reset, and a
// flow dropped without Close (its inspection panicked).
func TestDecoderMemoryBudget(t *testing.T) {
	secret := "forbidden-" + strings.Repeat("x", 100)
	plain := []byte(strings.Repeat("benign body ", 2000) + secret)
	body := brBody(t, plain)
	budget := decode.NewBudget(0)
	lim := Limits{Budget: budget}
	get := []byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n")

	// Learn what one flow reserves, then allow two and a half of them.
	start := func(rec *recorder) *Parser {
		p := New(WithLimits(lim))
		p.Feed(inspect.ToServer, get, rec.emit)
		p.Feed(inspect.ToClient, []byte(brResponse(body)), rec.emit)
		p.Feed(inspect.ToClient, body[:len(body)/2], rec.emit)
		return p
	}
	recs := make([]*recorder, 4)
	for i := range recs {
		recs[i] = &recorder{}
	}
	done := start(recs[0])
	one := budget.Used()
	require.Greater(t, one, int64(16<<20), "a 16 MiB window reserved")
	budget.SetLimit(2*one + one/2)
	reset := start(recs[1])
	refused := start(recs[2])
	assert.Equal(t, 2*one, budget.Used())
	assert.Equal(t, uint64(1), budget.Refused())
	assert.Equal(t, []string{"RESPONSE_DECODER_MEMORY_EXHAUSTED"}, recs[2].anomalies())
	for _, u := range recs[2].units {
		assert.NotContains(t, u.bufs["http.response_body"], "benign", "decoded bytes of a refused body")
	}
	assert.Empty(t, recs[0].anomalies())

	// A request body is refused the same way.
	post := &recorder{}
	pp := New(WithLimits(lim))
	pp.Feed(inspect.ToServer, []byte(fmt.Sprintf("POST / HTTP/1.1\r\nHost: h\r\nContent-Encoding: br\r\nContent-Length: %d\r\n\r\n", len(body))), post.emit)
	pp.Feed(inspect.ToServer, body, post.emit)
	assert.Equal(t, []string{"REQUEST_DECODER_MEMORY_EXHAUSTED"}, post.anomalies())
	pp.Close(post.emit)

	// Ends: the body completes (its transaction gives the decoder back
	// before the flow ends), a flow is torn down mid-body.
	done.Feed(inspect.ToClient, body[len(body)/2:], recs[0].emit)
	assert.Equal(t, one, budget.Used(), "a completed body released its window")
	assert.Contains(t, recs[0].final()[key{inspect.ToClient, 0}]["http.response_body"], secret)
	reset.Close(recs[1].emit)
	refused.Close(recs[2].emit)
	assert.Zero(t, budget.Used())
	done.Close(recs[0].emit)

	// A flow whose Close never runs: its account is returned once the
	// flow is garbage.
	lost := start(recs[3])
	require.Equal(t, one, budget.Used())
	runtime.KeepAlive(lost)
	lost = nil
	require.Eventually(t, func() bool {
		runtime.GC()
		return budget.Used() == 0
	}, 20*time.Second, 10*time.Millisecond)

	// HTTP/2: a stream reset mid-body and a flow ending with streams open
	// give their windows back.
	cli, srv := newH2W(), newH2W()
	cli.buf.WriteString(http2.ClientPreface)
	for _, id := range []uint32{1, 3} {
		cli.headers(id, true, ":method", "GET", ":scheme", "http", ":authority", "h", ":path", "/")
		srv.headers(id, false, ":status", "200", "content-encoding", "br")
		srv.data(id, false, body[:len(body)/2], 0)
	}
	h := New(WithLimits(lim), WithPriorKnowledge())
	rec := &recorder{}
	h.Feed(inspect.ToServer, cli.buf.Bytes(), rec.emit)
	h.Feed(inspect.ToClient, srv.buf.Bytes(), rec.emit)
	require.Equal(t, 2*one, budget.Used())
	rst := newH2W()
	rst.fr.WriteRSTStream(1, http2.ErrCodeCancel)
	h.Feed(inspect.ToServer, rst.buf.Bytes(), rec.emit)
	assert.Equal(t, one, budget.Used(), "a reset stream released its window")
	h.Close(rec.emit)
	assert.Zero(t, budget.Used())
	assert.Empty(t, rec.anomalies())
}

package detect

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// A pending rule whose chain failed for good waits for its fast pattern
// again instead of being re-verified on every chunk; one whose outcome
// depends on bytes not seen yet stays pending; and the next evaluation
// starts after the occurrences already ruled out.
func TestPendingDormant(t *testing.T) {
	e := mustEngine(t, `
alert tcp any any -> any any (msg:"key"; content:"ASIA"; pcre:"/^[A-Z0-9]{16}/R"; sid:1;)
`, Options{})
	f := e.newFlow(tcpMeta)
	ds := &f.dirs[inspect.ToServer]
	step := func(data string) pending {
		t.Helper()
		assert.Empty(t, f.Inspect(inspect.ToServer, []byte(data)).Alerts)
		require.Len(t, ds.pend, 1)
		return ds.pend[0]
	}
	first := "region=ASIA-PACIFIC and some more text after it\n"
	p := step(first)
	assert.True(t, p.dormant, "no later byte can make ASIA-PACIFIC a key")
	assert.Equal(t, uint64(len(first)-3), p.resume, "no occurrence can start before the last 3 bytes")

	p = step("no prefix here\n")
	assert.True(t, p.dormant)

	p = step("id=ASIAABCD")
	assert.False(t, p.dormant, "12 more characters could still complete the key")
	resume := p.resume
	assert.Less(t, resume, f.dirs[inspect.ToServer].off-7, "the undecided occurrence is not skipped")

	p = step("EFGH")
	assert.False(t, p.dormant)
	assert.Equal(t, resume, p.resume)
	r := f.Inspect(inspect.ToServer, []byte("IJKLMNOP rest"))
	require.Len(t, r.Alerts, 1)
	assert.Equal(t, uint32(1), r.Alerts[0].Rule.SID)
}

func TestRegexReach(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want int // -1: unbounded or unanchored
	}{
		{`^[A-Z0-9]{16}`, 16 + 4},
		{`(?i)^abc`, 3*4 + 4},
		{`^(-|[0-9]{2})?x`, 3 + 4},
		{`^a.b`, 2 + 4 + 4},
		{`^ab+`, -1},
		{`^a{2,}`, -1},
		{`[A-Z]{16}`, -1},
		{`(?m)^abc`, -1},
		{`(^a)|b`, -1},
		{`^(?:ab|cde)\b`, 3 + 4},
		{`^\x{e9}`, 4 + 4},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			assert.Equal(t, tc.want, regexReach(tc.expr))
		})
	}
}

// A response body delivered in random pieces gives the same alerts as
// the body in one piece, for body rules whose candidates are dropped
// when they failed in a way later bytes cannot change (and kept when
// they could still match). Uses the real HTTP/1 parser.
func TestBodyChunkingProperty(t *testing.T) {
	e := mustEngine(t, `
alert http any any -> any any (msg:"a"; flow:to_client; http.response_body; content:"ASIA"; pcre:"/^[A-Z0-9]{4}/R"; sid:1;)
alert http any any -> any any (msg:"b"; flow:to_client; http.response_body; content:"k="; content:"LONGFP"; distance:0; within:30; sid:2;)
alert http any any -> any any (msg:"c"; flow:to_client; http.response_body; content:"ASIA"; isdataat:6,relative; sid:3;)
alert http any any -> any any (msg:"d"; flow:to_client; http.response_body; content:"ASIA"; pcre:"/[0-9]{3}/R"; sid:4;)
alert http any any -> any any (msg:"e"; flow:to_client; http.response_body; content:"JMP"; byte_jump:1,0,relative; content:"END"; within:3; sid:5;)
alert http any any -> any any (msg:"f"; flow:to_client; http.response_body; content:"ABCDEF"; fast_pattern:0,3; sid:6;)
alert http any any -> any any (msg:"g"; flow:to_client; http.stat_code; content:"200"; http.response_body; content:"ASIA"; content:"Z"; distance:0; within:8; sid:7;)
alert http any any -> any any (msg:"h"; flow:to_client; http.response_body; content:"ASIA"; content:"END"; distance:0; within:12; sid:8;)
`, Options{Protos: applayer.Protos()})
	rng := rand.New(rand.NewSource(3))
	pieces := []string{"ASIA", "ASIA", "ASIA-", "AB12", "ZZ", "Z", "12", "k=", "LONGFP", "ABC", "DEF", "123", "END", "JMP", "\x02", "filler ", "\n"}
	req := chunk{inspect.ToServer, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"}
	for iter := 0; iter < 500; iter++ {
		var sb strings.Builder
		for n := rng.Intn(30); n > 0; n-- {
			sb.WriteString(pieces[rng.Intn(len(pieces))])
			if rng.Intn(4) == 0 {
				sb.WriteString(strings.Repeat("x", rng.Intn(60)))
			}
		}
		body := sb.String()
		head := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(body))
		whole := flat(run(e, tcpMeta, []chunk{req, {inspect.ToClient, head + body}}))
		chunks := []chunk{req, {inspect.ToClient, head}}
		for rest := body; len(rest) > 0; {
			n := 1 + rng.Intn(min(len(rest), 13))
			chunks, rest = append(chunks, chunk{inspect.ToClient, rest[:n]}), rest[n:]
		}
		require.Equal(t, whole, flat(run(e, tcpMeta, chunks)), "body %q", body)
	}
}

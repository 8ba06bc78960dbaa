package identity

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// frame feeds the reads to a new framer (the egress check's) and returns
// the results and the method and path of every head it found, "METHOD
// path host" each.
func frame(reads ...string) ([]frameResult, []string) {
	return frameWith(reqFramer{}, reads...)
}

func frameWith(r reqFramer, reads ...string) ([]frameResult, []string) {
	var res []frameResult
	var heads []string
	for _, b := range reads {
		res = append(res, r.feed([]byte(b), func(h *reqHead) bool {
			heads = append(heads, h.method+" "+h.path+" "+h.host)
			return true
		}))
	}
	return res, heads
}

func TestReqFramerFindsEveryRequest(t *testing.T) {
	get := "GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n"
	for name, tc := range map[string]struct {
		reads []string
		heads []string
	}{
		"pipelined":       {[]string{get + "GET /b HTTP/1.1\r\nHost: b.test\r\n\r\n"}, []string{"GET /a a.test", "GET /b b.test"}},
		"after a body":    {[]string{"POST /u HTTP/1.1\r\nContent-Length: 4\r\n\r\nGET " + get}, []string{"POST /u ", "GET /a a.test"}},
		"body over reads": {[]string{"POST /u HTTP/1.1\r\nContent-Length: 15\r\n\r\nGET /", "x HTTP/1.1", "\r\n" + get}, []string{"POST /u ", "GET /a a.test"}},
		"chunked": {[]string{"POST /u HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n4;x=y\r\nGET \r\n", "0\r\nT: v\r\n\r\n" + get},
			[]string{"POST /u ", "GET /a a.test"}},
		"bare LF and empty lines": {[]string{"GET /a HTTP/1.1\nHost: A.Test.\n\n\r\n\nget /b?q HTTP/1.0\r\nHost: b.test:80\r\n\r\n"},
			[]string{"GET /a a.test", "get /b b.test"}},
		"absolute form wins over Host": {[]string{"GET http://u@c.test:8080/p HTTP/1.1\r\nHost: a.test\r\n\r\n"}, []string{"GET /p c.test"}},
		"split head":                   {[]string{"GE", "T /a HTTP/1.1\r\nHost: a.test\r", "\n\r", "\n"}, []string{"GET /a a.test"}},
	} {
		res, heads := frame(tc.reads...)
		assert.Equal(t, tc.heads, heads, name)
		for i, r := range res {
			if r != frameOK && r != frameMore {
				t.Errorf("%s: read %d: %v", name, i, r)
			}
		}
	}
}

// The token check's framer passes a first read that is a bare token on
// and judges it with what follows: a server takes any token as a method,
// so an unknown one split before its space is framed (it used to turn
// the flow opaque, and a stolen token in the request behind it passed),
// and a protocol that sends a bare word and waits is not stalled.
func TestReqFramerPassesWords(t *testing.T) {
	get := "GET /b HTTP/1.1\r\nHost: b.test\r\nAuthorization: Bearer t\r\n\r\n"
	words := reqFramer{passWords: true}
	res, heads := frameWith(words, "Q", "UER", "Y /a HTTP/1.1\r\nHost: a.test\r\n\r\n"+get)
	assert.Equal(t, []frameResult{frameOK, frameOK, frameOK}, res)
	assert.Equal(t, []string{"QUERY /a a.test", "GET /b b.test"}, heads)
	res, _ = frameWith(words, "G", "ET /a HTTP/1.1\r\n\r\n")
	assert.Equal(t, []frameResult{frameMore, frameOK}, res, "a known method's start is held, as by the egress check")
	res, heads = frameWith(words, "ping", "")
	assert.Equal(t, []frameResult{frameOK, frameOK}, res, "a bare word is passed, and the flow may end after it")
	assert.Empty(t, heads)
	res, _ = frameWith(words, "ping", "\r\n")
	assert.Equal(t, []frameResult{frameOK, frameOpaque}, res, "a word that ends its line is no request")
	res, _ = frameWith(words, "PRI", " * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	assert.Equal(t, []frameResult{frameMore, frameOpaque}, res, "the HTTP/2 preface cut short is still held")
	res, _ = frame("Q", "UERY /a HTTP/1.1\r\n\r\n")
	assert.Equal(t, []frameResult{frameOpaque, frameOpaque}, res, "the egress check holds nothing unknown: it refuses it")
}

func TestReqFramerFailsClosed(t *testing.T) {
	get := "GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n"
	for name, reads := range map[string][]string{
		"garbage where a request must start": {get, "\x00\x01binary"},
		"HTTP/2 after HTTP/1":                {get + "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
		"obsolete folding":                   {"GET /a HTTP/1.1\r\nX-Api-Key:\r\n tok\r\n\r\n"},
		"CL and TE":                          {"POST /a HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"},
		"two lengths":                        {"POST /a HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"},
		"TE not ending in chunked":           {"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"},
		"two Hosts":                          {"GET /a HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n"},
		"space before the colon":             {"GET /a HTTP/1.1\r\nHost : b.test\r\n\r\n"},
		"bad chunk size":                     {"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"},
		"head cut by the end of the stream":  {"GET /a HTTP/1.1\r\n", ""},
		"head over the bound":                {"GET /a HTTP/1.1\r\nX: " + strings.Repeat("a", maxPending)},
	} {
		res, _ := frame(reads...)
		assert.Equal(t, frameBad, res[len(res)-1], name)
	}
	res, heads := frame("\x16\x03\x01")
	assert.Equal(t, []frameResult{frameOpaque}, res, "TLS is not HTTP/1")
	assert.Empty(t, heads)
	res, _ = frame("p", "ing")
	assert.Equal(t, []frameResult{frameMore, frameOpaque}, res, "a first word that is no method is not held")
	res, _ = frame("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	assert.Equal(t, []frameResult{frameOpaque}, res, "HTTP/2 with prior knowledge from the start is not HTTP/1")
}

func TestReqFramerSwitchesOnlyWhenTheServerAgrees(t *testing.T) {
	var r reqFramer
	ok := func(*reqHead) bool { return true }
	require.Equal(t, frameOK, r.feed([]byte("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"), ok))
	r.response([]byte("HTTP/1.1 200 OK\r\n\r\n"))
	assert.Equal(t, frameBad, r.feed([]byte("\x81\x85frame"), ok), "no 101: still HTTP/1")

	r = reqFramer{}
	require.Equal(t, frameOK, r.feed([]byte("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"), ok))
	r.response([]byte("HTTP/1.1 101 Switching Protocols\r\n\r\n"))
	assert.Equal(t, frameOpaque, r.feed([]byte("\x81\x85frame"), ok), "after 101 the connection is another protocol")

	r = reqFramer{}
	require.Equal(t, frameOK, r.feed([]byte("CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n"), ok))
	r.response([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
	assert.Equal(t, frameOpaque, r.feed([]byte("\x16\x03\x01"), ok))
}

func TestReqFramerFindsHTTP2(t *testing.T) {
	const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	ok := func(*reqHead) bool { return true }
	var r reqFramer
	for i := range 15 {
		require.Equal(t, frameMore, r.feed([]byte(preface[i:i+1]), ok), "the preface cut short at %d is held", i)
		r.hold([]byte(preface[i : i+1]))
	}
	assert.Equal(t, frameOpaque, r.feed([]byte(preface[15:]), ok))
	assert.True(t, r.h2, "prior knowledge, a byte at a time")
	assert.Equal(t, preface, string(r.release([]byte(preface[15:]))), "the held bytes are released whole")

	r = reqFramer{}
	assert.Equal(t, frameOpaque, r.feed([]byte("\x16\x03\x01"), ok))
	assert.False(t, r.h2, "TLS is no HTTP/2")

	upgrade := "GET / HTTP/1.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: websocket, H2C\r\nHTTP2-Settings: AAMAAABk\r\n\r\n"
	for answer, h2 := range map[string]bool{
		"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n\x00\x00\x00\x04": true,
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n":                                  false,
	} {
		r = reqFramer{}
		require.Equal(t, frameOK, r.feed([]byte(upgrade), ok))
		r.response([]byte(answer))
		assert.Equal(t, frOpaque, r.st)
		assert.Equal(t, h2, r.h2, "HTTP/2 only when the server chose h2c: %q", answer)
	}
}

// FuzzReqFramer feeds attacker bytes to the framer whole and split at two
// points, as the token check and as the egress check use it. It must not
// panic, and a check that sees other requests when the same bytes come in
// other segments could be steered by segmentation.
func FuzzReqFramer(f *testing.F) {
	for _, s := range []string{
		"GET /a HTTP/1.1\r\nHost: a.test\r\n\r\nGET /b HTTP/1.1\r\nHost: b.test\r\n\r\n",
		"POST /u HTTP/1.1\r\nContent-Length: 4\r\n\r\nGET GET /a HTTP/1.1\r\n\r\n",
		"POST /u HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4;x\r\nGET \r\n0\r\nT: v\r\n\r\nGET /b HTTP/1.1\n\n",
		"\r\n\nget /b?q HTTP/1.0\r\nHost: b.test:80\r\nAuthorization: Bearer x\r\n\r\n",
		"CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n\x16\x03\x01",
	} {
		f.Add([]byte(s), uint16(5), uint16(40))
	}
	f.Fuzz(func(t *testing.T, b []byte, i, j uint16) {
		if len(b) > 1<<14 {
			return
		}
		x, y := int(i)%(len(b)+1), int(j)%(len(b)+1)
		if x > y {
			x, y = y, x
		}
		run := func(words bool, reads ...[]byte) ([]string, bool) {
			r := reqFramer{passWords: words}
			var heads []string
			clean := true
			for _, rd := range append(reads, nil) {
				if len(rd) == 0 && rd != nil {
					continue // an empty read is not the end of the stream
				}
				switch r.feed(rd, func(h *reqHead) bool {
					heads = append(heads, h.method+" "+h.path+" "+h.host+" "+string(h.raw))
					return true
				}) {
				case frameBad, frameOpaque, frameStop:
					clean = false
				}
				if !clean {
					break
				}
			}
			return heads, clean
		}
		// The token check's framer: splitting bytes it reads whole must
		// not make it give up on them (an unknown method split before its
		// space once turned a flow opaque and let the requests behind it
		// pass unchecked).
		whole, okWhole := run(true, b)
		split, okSplit := run(true, b[:x], b[x:y], b[y:])
		if okWhole {
			require.True(t, okSplit, "whole framed %q, split at %d and %d failed", whole, x, y)
			require.Equal(t, whole, split, "split at %d and %d", x, y)
		}
		// The egress check's refuses what it cannot judge at once, so a
		// split may fail closed where the whole did not; where both framed
		// every byte they found the same requests.
		whole, okWhole = run(false, b)
		split, okSplit = run(false, b[:x], b[x:y], b[y:])
		if okWhole && okSplit {
			require.Equal(t, whole, split, "split at %d and %d", x, y)
		}
	})
}

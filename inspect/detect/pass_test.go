package detect

import (
	"testing"

	_ "github.com/interdict/interdict/inspect/http1" // the real parser keeps request buffers on the response

	"github.com/stretchr/testify/assert"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// loggingHTTP is fakeHTTP that also reports each request as an EVE
// record.
type loggingHTTP struct{ fakeHTTP }

func (p *loggingHTTP) Feed(dir inspect.Direction, data []byte, emit func(*applayer.Unit)) {
	p.fakeHTTP.Feed(dir, data, func(u *applayer.Unit) {
		if u.Dir == inspect.ToServer {
			u.Event = &inspect.Event{Dir: u.Dir, TxID: u.TxID, HTTP: &inspect.HTTPTx{URL: string(u.Buffers[applayer.HTTPURI])}}
		}
		emit(u)
	})
}

// TestPassKeepsLogging: a pass rule ends inspection of the flow (no rule
// fires after it) but not logging: later transactions' records are
// still reported, as Suricata logs http records of passed flows.
func TestPassKeepsLogging(t *testing.T) {
	proto := fakeProto
	proto.New = func() applayer.Parser { return &loggingHTTP{} }
	e := mustEngine(t, `pass http any any -> any any (msg:"trusted"; http.uri; content:"/trusted"; sid:1;)
alert http any any -> any any (msg:"evil"; http.uri; content:"/evil"; sid:2;)
`, Options{Protos: []applayer.Proto{proto}})
	f := e.NewFlow(tcpMeta)
	var urls []string
	var sids []uint32
	for _, c := range []string{"GET /trusted\n", "GET /evil\n", "GET /other\n"} {
		r := f.Inspect(inspect.ToServer, []byte(c))
		for _, ev := range r.Events {
			if ev.HTTP != nil {
				urls = append(urls, ev.HTTP.URL)
			}
		}
		for _, a := range r.Alerts {
			sids = append(sids, a.Rule.SID)
		}
		if len(urls) > 1 {
			assert.Equal(t, inspect.ActionNone, r.Action, "nothing decides a passed flow")
		}
	}
	assert.Equal(t, []uint32{1}, sids, "the pass rule matched; nothing after it")
	assert.Equal(t, []string{"/trusted", "/evil", "/other"}, urls, "records after pass are still logged")
}

// TestTransactionalRule: a "=>" rule matches a transaction whose request
// and response both satisfy it, once, on the response.
func TestTransactionalRule(t *testing.T) {
	e := mustEngine(t, `alert http any any => any any (msg:"tx"; http.uri; content:"/admin"; http.stat_code; content:"200"; sid:1;)
`, Options{Protos: applayer.Protos()})
	req := "GET /admin HTTP/1.1\r\nHost: a\r\n\r\n"
	got := run(e, tcpMeta, []chunk{{inspect.ToServer, req}, {inspect.ToClient, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
		{inspect.ToServer, req}, {inspect.ToClient, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"}})
	assert.Equal(t, [][]uint32{nil, {1}, nil, nil}, got)
}

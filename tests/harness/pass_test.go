package harness

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/appliance/enforce"
	"github.com/interdict/interdict/inspect/detect"
	"github.com/interdict/interdict/inspect/eve"
	"github.com/interdict/interdict/inspect/rules"
)

const passRule = `pass http any any -> any any (msg:"trusted client"; flow:to_server,established; http.header; content:"X-Trusted: yes"; sid:1000010; rev:1;)
`

// TestPassedFlowKeepsHTTPRecords: a pass rule exempts a flow from
// blocking, not from logging (issue 12). The flow's later request, which
// a reject rule would stop on any other flow, reaches the server whole,
// and both requests are in EVE as http records; nothing alerts or
// drops.
func TestPassedFlowKeepsHTTPRecords(t *testing.T) {
	leakCheck(t)
	classes, err := rules.LoadClassification(strings.NewReader(enforceClasses), "classification.config")
	require.NoError(t, err)
	set := &rules.Set{}
	require.NoError(t, set.Load(strings.NewReader(enforceRules+passRule), "enforce.rules", &rules.Options{Classification: classes}))
	require.Empty(t, set.Errors)
	eng, err := detect.New(set.Rules, detect.Options{})
	require.NoError(t, err)
	require.Empty(t, eng.Rejected())
	e := newEnforced(t, eng, enforce.Config{})

	first := "GET /trusted HTTP/1.1\r\nHost: example.test\r\nX-Trusted: yes\r\n\r\n"
	second := httpGet("/admin/console")
	c := dial(t, e.n, httpAP)
	defer c.Close()
	_, err = c.Write([]byte(first))
	require.NoError(t, err)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c) // the server answers once and closes its side
	require.NoError(t, err)
	assert.Equal(t, httpResponse, string(got))
	_, err = c.Write([]byte(second))
	require.NoError(t, err, "the passed flow is not reset")
	require.NoError(t, c.CloseWrite())
	require.ErrorIs(t, e.srv.waitEnd(t, 0), io.EOF, "the server's conn ends with the client's FIN, not a reset")
	srvGot, _ := e.srv.got(0)
	assert.Equal(t, first+second, srvGot, "the request a reject rule matches reached the server: the flow was passed")

	flows := e.eve.waitFlows(t, 1)
	var urls []string
	for _, ev := range e.eve.of(t, eve.TypeHTTP, flows[0].FlowID) {
		urls = append(urls, ev.HTTP.URL)
	}
	assert.Equal(t, []string{"/trusted", "/admin/console"}, urls, "the passed flow's later request is logged")
	assert.Empty(t, e.eve.of(t, eve.TypeAlert, 0))
	assert.Empty(t, e.eve.of(t, eve.TypeDrop, 0))
	assert.Equal(t, "pass", flows[0].Flow.Action)
}

package http1

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
	"github.com/interdict/interdict/inspect/applayer"
)

// Suricata's http.request_header and http.response_header are
// multi-buffers with one "Name: value" instance per header; repeated
// names are merged as in libhtp's header table, and Cookie is kept
// (unlike http.header).
func TestHeaderLineInstances(t *testing.T) {
	type view struct {
		dir       inspect.Direction
		req, resp []string
	}
	tests := []struct {
		name  string
		steps []step
		want  []view // the last Unit per direction (Close emits one to_client)
	}{
		{
			name: "request and response",
			steps: []step{
				cs("GET / HTTP/1.1\r\nHost: a.example\r\nCookie: s=1\r\nX-Qlik-User: u\r\n\r\n"),
				sc("HTTP/1.1 200 OK\r\nServer: t\r\nContent-Length: 2\r\n\r\nok"),
			},
			want: []view{
				{inspect.ToServer, []string{"Host: a.example", "Cookie: s=1", "X-Qlik-User: u"}, nil},
				{inspect.ToClient, []string{"Host: a.example", "Cookie: s=1", "X-Qlik-User: u"}, []string{"Server: t", "Content-Length: 2"}},
			},
		},
		{
			name: "repeated names merged, folded value joined",
			steps: []step{
				cs("GET / HTTP/1.1\r\nHost: h\r\nAccept: a\r\nX-F: one\r\n two\r\naccept: b\r\n\r\n"),
			},
			want: []view{
				{inspect.ToServer, []string{"Host: h", "Accept: a, b", "X-F: one two"}, nil},
			},
		},
		{
			name: "no headers",
			steps: []step{
				cs("GET / HTTP/1.0\r\n\r\n"),
			},
			want: []view{{inspect.ToServer, nil, nil}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			last := map[inspect.Direction]view{}
			emit := func(u *applayer.Unit) {
				v := view{dir: u.Dir}
				for _, l := range u.Multi[applayer.HTTPRequestHeader] {
					v.req = append(v.req, string(l))
				}
				for _, l := range u.Multi[applayer.HTTPResponseHeader] {
					v.resp = append(v.resp, string(l))
				}
				assert.Nil(t, u.Buffers[applayer.HTTPRequestHeader], "multi-buffers are not in Buffers")
				last[u.Dir] = v
			}
			p := New()
			for _, s := range tc.steps {
				p.Feed(s.dir, []byte(s.data), emit)
			}
			p.Close(emit)
			for _, w := range tc.want {
				require.Contains(t, last, w.dir)
				assert.Equal(t, w, last[w.dir])
			}
		})
	}
}

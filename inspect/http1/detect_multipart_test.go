package http1_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/interdict/interdict/inspect"
)

// file.data without a direction covers a multipart upload's files, each
// one a buffer of its own: one file.data list must match within one
// file, and each repeated file.data (and file.name) list may match a
// different file, transformed or not. flow:to_client keeps file.data on
// the response body and http.request_body keeps the whole body.
func TestMultipartFileRules(t *testing.T) {
	text := strings.Join([]string{
		`alert http any any -> any any (msg:"crossed name"; file.data; content:"bateau"; file.name; content:"titi.txt"; sid:1;)`,
		`alert http any any -> any any (msg:"one file"; file.data; content:"minet"; sid:2;)`,
		`alert http any any -> any any (msg:"two lists"; file.data; content:"bateau"; file.data; content:"minet"; sid:3;)`,
		`alert http any any -> any any (msg:"one list, two files"; file.data; content:"bateau"; content:"minet"; sid:4;)`,
		`alert http any any -> any any (msg:"response only"; flow:to_client; file.data; content:"minet"; sid:5;)`,
		`alert http any any -> any any (msg:"whole body"; http.request_body; content:"bateau"; content:"minet"; distance:0; sid:6;)`,
		`alert http any any -> any any (msg:"part headers are no file data"; file.data; content:"Content-Disposition"; sid:7;)`,
		`alert http any any -> any any (msg:"response body"; file.data; content:"served"; sid:8;)`,
		`alert http any any -> any any (msg:"transformed file"; file.data; to_lowercase; content:"titi a vu"; startswith; sid:9;)`,
	}, "\n")
	eng := engineFor(t, text)

	body := "--b0\r\nContent-Disposition: form-data; name=\"u1\"; filename=\"toto.txt\"\r\n\r\ntoto est dans un bateau\r\n" +
		"--b0\r\nContent-Disposition: form-data; name=\"u2\"; filename=\"titi.txt\"\r\n\r\nTiti a vu un gros minet.\r\n--b0--\r\n"
	req := "POST / HTTP/1.1\r\nHost: h\r\nContent-Type: multipart/form-data; boundary=b0\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	f := eng.NewFlow(tunnelMeta)
	var got []uint32
	for _, r := range []inspect.Result{
		f.Inspect(inspect.ToServer, []byte(req)),
		// The response body in two pieces, its pattern split over them:
		// to the client file.data rules share the body's prefilter
		// stream.
		f.Inspect(inspect.ToClient, []byte("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nser")),
		f.Inspect(inspect.ToClient, []byte("ved")),
		f.Close(),
	} {
		for _, a := range r.Alerts {
			got = append(got, a.Rule.SID)
		}
	}
	assert.ElementsMatch(t, []uint32{1, 2, 3, 6, 8, 9}, got)
}

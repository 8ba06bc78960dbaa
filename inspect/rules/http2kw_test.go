package rules

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect/applayer"
)

func TestHTTP2Keywords(t *testing.T) {
	for _, tc := range []struct {
		rule string
		buf  applayer.Buffer
		app  string
	}{
		{`alert tcp any any -> any any (msg:"t"; http2.frametype:goaway; sid:1;)`, applayer.HTTP2FrameType, "http2"},
		{`alert http any any -> any any (msg:"t"; http2.errorcode:HTTP_1_1_REQUIRED; sid:1;)`, applayer.HTTP2ErrorCode, "http"},
		{`alert http2 any any -> any any (msg:"t"; http2.window:100-200; sid:1;)`, applayer.HTTP2Window, "http2"},
		{`alert http2 any any -> any any (msg:"t"; http2.settings:SETTINGS_ENABLE_PUSH 0; sid:1;)`, applayer.HTTP2Settings, "http2"},
		{`alert http2 any any -> any any (msg:"t"; http2.header_name; content:"x"; sid:1;)`, applayer.HTTP2HeaderName, "http2"},
		{`alert http2 any any -> any any (msg:"t"; frame:http2.hdr; content:"x"; sid:1;)`, applayer.HTTP2FrameHdr, "http2"},
	} {
		r, err := ParseRule(tc.rule, nil)
		require.NoError(t, err, tc.rule)
		require.Len(t, r.Lists, 1)
		assert.Equal(t, tc.buf, r.Lists[0].Buffer, tc.rule)
		assert.Equal(t, tc.app, r.AppProto, tc.rule)
	}
	for _, tc := range []struct{ rule, reason string }{
		{`alert http1 any any -> any any (msg:"t"; http2.frametype:DATA; sid:1;)`, "conflicts with protocol http1"},
		{`alert http2 any any -> any any (msg:"t"; http2.frametype:NOPE; sid:1;)`, "unknown value"},
		{`alert http2 any any -> any any (msg:"t"; http2.settings:SETTINGS_NOPE; sid:1;)`, "unknown setting"},
		{`alert http2 any any -> any any (msg:"t"; http2.window:>abc; sid:1;)`, "is not a number"},
		{`alert tls any any -> any any (msg:"t"; frame:tls.pdu; content:"x"; sid:1;)`, "unsupported frame tls.pdu"},
	} {
		_, err := ParseRule(tc.rule, nil)
		require.Error(t, err, tc.rule)
		assert.Contains(t, err.Error(), tc.reason)
	}
}

package rules

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect/applayer"
)

// entropy's options and float comparisons read as Suricata's
// entropy.rs and float.rs do; bad ones are refused with the reason.
func TestEntropyParse(t *testing.T) {
	for _, tc := range []struct {
		opt  string
		want Entropy
	}{
		{"value 7.01", Entropy{Value: FloatCmp{"=", 7.01, 0}}},
		{"value <7.01", Entropy{Value: FloatCmp{"<", 7.01, 0}}},
		{"value >= 4", Entropy{Value: FloatCmp{">=", 4, 0}}},
		{"value != 4", Entropy{Value: FloatCmp{"!=", 4, 0}}},
		{"value = 4", Entropy{Value: FloatCmp{"=", 4, 0}}},
		{"value 4-5", Entropy{Value: FloatCmp{"range", 4, 5}}},
		{"value !4-5", Entropy{Value: FloatCmp{"!range", 4, 5}}},
		{"value 1.5<>2.5", Entropy{Value: FloatCmp{"range", 1.5, 2.5}}},
		{"offset 10, value > 4.14", Entropy{Offset: 10, Value: FloatCmp{">", 4.14, 0}}},
		{"value .5, bytes 4, offset -2", Entropy{Offset: -2, Bytes: 4, Value: FloatCmp{"=", 0.5, 0}}},
	} {
		t.Run(tc.opt, func(t *testing.T) {
			e, err := parseEntropy(tc.opt)
			require.NoError(t, err)
			assert.Equal(t, tc.want, *e)
		})
	}
	for _, bad := range []string{"", "offset 3", "value", "value 5-4", "value !4", "value 4, value 5",
		"bytes x, value 1", "offset 70000, value 1", "size 3, value 1", "value 0x10"} {
		_, err := parseEntropy(bad)
		assert.Error(t, err, bad)
	}
}

func TestFloatCmpMatch(t *testing.T) {
	v := 4.137370175000773
	for _, tc := range []struct {
		c    FloatCmp
		want bool
	}{
		{FloatCmp{">", 4, 0}, true}, {FloatCmp{">=", 5, 0}, false}, {FloatCmp{"range", 4, 5}, true},
		{FloatCmp{"!range", 4, 5}, false}, {FloatCmp{"<", 4, 0}, false}, {FloatCmp{"!=", 4, 0}, true},
		{FloatCmp{"=", 4, 0}, false}, {FloatCmp{"<=", v, 0}, true}, {FloatCmp{"!range", 4.2, 5}, true},
	} {
		assert.Equal(t, tc.want, tc.c.Match(v), "%+v", tc.c)
	}
}

// In a rule, entropy stays in its buffer's list, in place, and names the
// variable its value is kept in as Suricata names the buffer.
func TestEntropyInRule(t *testing.T) {
	for _, tc := range []struct {
		rule string
		buf  applayer.Buffer
		name string
	}{
		{`alert http any any -> any any (msg:"t"; file.data; entropy: value > 4; sid:1;)`, applayer.FileData, "file_data"},
		{`alert http any any -> any any (msg:"t"; flow:to_client; file.data; entropy: value > 4; sid:1;)`, applayer.HTTPResponseBody, "file_data"},
		{`alert http any any -> any any (msg:"t"; flow:to_server; file_data; content:"a"; entropy: value > 4; sid:1;)`, applayer.HTTPRequestBody, "file_data"},
		{`alert http any any -> any any (msg:"t"; http.uri; content:"/a"; entropy: bytes 2, value < 1; sid:1;)`, applayer.HTTPURI, "http_uri"},
		{`alert http any any -> any any (msg:"t"; http.response_body; entropy: value > 1; sid:1;)`, applayer.HTTPResponseBody, "http_server_body"},
		{`alert tcp any any -> any any (msg:"t"; content:"a"; entropy: value > 1; sid:1;)`, applayer.BufNone, "content"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			r, err := ParseRule(tc.rule, nil)
			require.NoError(t, err)
			var got *Entropy
			for _, l := range r.Lists {
				for _, op := range l.Ops {
					if e, ok := op.(*Entropy); ok {
						assert.Equal(t, tc.buf, l.Buffer)
						got = e
					}
					_, isPCRE := op.(*PCRE)
					assert.False(t, isPCRE, "the loader's stand-in pcre is gone")
				}
			}
			require.NotNil(t, got)
			assert.Equal(t, tc.name, got.Name)
		})
	}
}

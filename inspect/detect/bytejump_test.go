package detect

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// byte_jump edge cases from Suricata's byte_jump documentation and its
// redmine #4624: 0 bytes read nothing and jump by post_offset alone; a
// jump before the buffer is clamped to its start, one past its end fails.
func TestByteJumpEdges(t *testing.T) {
	cases := []struct {
		name, opts, data string
		want             bool
	}{
		{"zero bytes post_offset back to start", `content:"HDR"; byte_jump:0,0,relative,post_offset -3; content:"HDR"; within:3;`, "HDR-x", true},
		{"zero bytes post_offset forward", `content:"A"; byte_jump:0,0,relative,post_offset 2; content:"Z"; within:1;`, "A..Z", true},
		{"zero bytes post_offset forward wrong", `content:"A"; byte_jump:0,0,relative,post_offset 1; content:"Z"; within:1;`, "A..Z", false},
		{"negative post_offset clamps to start", `content:"MID"; byte_jump:0,0,relative,post_offset -100; content:"ab"; within:2;`, "abMID", true},
		{"clamped start does not reach later data", `content:"MID"; byte_jump:0,0,relative,post_offset -100; content:"MID"; within:4;`, "abMID", false},
		{"jump to exact end allowed", `content:"A"; byte_jump:1,0,relative; isdataat:!1,relative;`, "A\x01x", true},
		{"jump past end fails", `content:"A"; byte_jump:1,0,relative;`, "A\x05x", false},
		{"from_beginning", `content:"A"; byte_jump:1,0,relative,from_beginning; content:"Q"; within:1;`, "..A\x01Q", false},
		{"from_beginning lands", `content:"A"; byte_jump:1,0,relative,from_beginning; content:"Q"; within:1;`, "QA\x00", true},
		{"from_end with negative post_offset", `content:"A"; byte_jump:0,0,relative,from_end,post_offset -2; content:"YZ"; within:2;`, "A..YZ", true},
		{"zero bytes relative past end", `content:"A"; byte_jump:0,5,relative; isdataat:!1,relative;`, "A", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := mustEngine(t, `alert tcp any any -> any any (msg:"t"; `+tc.opts+` sid:1;)`, Options{})
			got := flat(run(e, tcpMeta, cs(tc.data)))
			if tc.want {
				assert.Equal(t, []uint32{1}, got)
			} else {
				assert.Empty(t, got)
			}
		})
	}
}

// A relative byte_jump with a negative post_offset moves the cursor
// back; relative content, pcre and byte_test after it start there.
func TestByteJumpNegativePostOffsetRelative(t *testing.T) {
	for _, opts := range []string{
		`content:"LEN"; byte_jump:1,0,relative,post_offset -2; content:"XY"; within:2;`,
		`content:"LEN"; byte_jump:1,0,relative,post_offset -2; pcre:"/^XY/R";`,
		`content:"LEN"; byte_jump:1,0,relative,post_offset -2; content:"XY"; distance:0; within:2;`,
		`content:"LEN"; byte_jump:1,0,relative,post_offset -2; byte_test:1,=,0x58,0,relative;`,
	} {
		e := mustEngine(t, `alert tcp any any -> any any (msg:"t"; `+opts+` sid:1;)`, Options{})
		assert.Equal(t, []uint32{1}, flat(run(e, tcpMeta, cs("LEN\x04abXYcd"))), opts)
	}
}

// nbytes taken from a byte_extract variable (Suricata 7).
func TestByteNbytesVariable(t *testing.T) {
	for _, tc := range []struct {
		opts, data string
		want       bool
	}{
		{`content:"H"; byte_extract:1,0,n,relative; byte_test:n,=,0x0102,0,relative;`, "H\x02\x01\x02", true},
		{`content:"H"; byte_extract:1,0,n,relative; byte_test:n,=,0x01,0,relative;`, "H\x02\x01\x02", false},
		{`content:"H"; byte_extract:1,0,n,relative; byte_jump:n,0,relative; content:"Z"; within:1;`, "H\x01\x02.Z", false},
		{`content:"H"; byte_extract:1,0,n,relative; byte_jump:n,0,relative; content:"Z"; within:1;`, "H\x01\x02..Z", true},
		{`content:"H"; byte_extract:1,0,n,relative; byte_jump:n,1,relative; content:"Z"; within:1;`, "H\x01\x02.Z", false},
		{`content:"H"; byte_extract:1,0,n,relative; byte_jump:n,1,relative; content:"Z"; within:1;`, "H\x01.\x00Z", true},
		{`content:"H"; byte_extract:1,0,n,relative; byte_test:n,=,1,0,relative;`, "H\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01", false},
		// A variable holding 0: byte_jump reads nothing and stays put
		// (Suricata bounds only the maximum); byte_test reads nothing.
		{`content:"H"; byte_extract:1,0,n,relative; byte_jump:n,0,relative; content:"Z"; within:1;`, "H\x00Z", true},
		{`content:"H"; byte_extract:1,0,n,relative; byte_jump:n,0,relative; isdataat:1,relative;`, "H\x00", false},
		{`content:"H"; byte_extract:1,0,n,relative; byte_test:n,=,0,0,relative;`, "H\x00\x00", false},
	} {
		e := mustEngine(t, `alert tcp any any -> any any (msg:"t"; `+tc.opts+` sid:1;)`, Options{})
		got := flat(run(e, tcpMeta, cs(tc.data)))
		if tc.want {
			assert.Equal(t, []uint32{1}, got, tc.opts)
		} else {
			assert.Empty(t, got, tc.opts)
		}
	}
}

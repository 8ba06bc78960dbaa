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

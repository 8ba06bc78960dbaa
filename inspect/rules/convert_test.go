package rules

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// loadOne loads one rule and returns it, or the reason it was rejected.
func loadOne(t *testing.T, text string) (*Rule, string) {
	t.Helper()
	set := &Set{}
	require.NoError(t, set.Load(strings.NewReader(text), "t.rules", nil))
	if len(set.Errors) > 0 {
		return nil, set.Errors[0].Reason
	}
	require.Len(t, set.Rules, 1)
	return set.Rules[0], ""
}

func TestByteJumpBytes(t *testing.T) {
	cases := []struct {
		name, opts string
		reject     string // "" when accepted
	}{
		{"zero bytes with post_offset", `content:"A"; byte_jump:0,0,relative,post_offset -8;`, ""},
		{"eight bytes", `content:"A"; byte_jump:8,0,relative;`, ""},
		{"nine bytes without string", `content:"A"; byte_jump:9,0,relative;`, "byte_jump: 9 bytes without string"},
		{"zero bytes byte_test", `content:"A"; byte_test:0,=,0,0;`, "byte_test: bytes 0 out of range"},
		{"zero bytes byte_extract", `content:"A"; byte_extract:0,0,x;`, "byte_extract: bytes 0 out of range"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, why := loadOne(t, `alert tcp any any -> any any (msg:"t"; `+tc.opts+` sid:1;)`)
			assert.Equal(t, tc.reject, why)
			if tc.reject == "" {
				require.NotNil(t, r)
				require.Len(t, r.Lists, 1)
				j, ok := r.Lists[0].Ops[1].(*ByteJump)
				require.True(t, ok)
				assert.True(t, j.Relative)
			}
		})
	}
}

func TestICMPKeywords(t *testing.T) {
	cases := []struct {
		name, text string
		reject     string
		want       ICMP
		transport  uint8
	}{
		{"itype exact", `alert icmp any any -> any any (itype:8; sid:1;)`, "", ICMP{Type: &IntCmp{Op: "=", N: 8}}, 1},
		{"itype greater", `alert icmp any any -> any any (itype:>10; sid:1;)`, "", ICMP{Type: &IntCmp{Op: ">", N: 10}}, 1},
		{"icode range", `alert icmp any any -> any any (icode:1<>4; sid:1;)`, "", ICMP{Code: &IntCmp{Op: "<>", Min: 1, Max: 4}}, 1},
		{"id and seq", `alert icmp any any -> any any (icmp_id:512; icmp_seq:9; sid:1;)`, "", ICMP{ID: &IntCmp{Op: "=", N: 512}, Seq: &IntCmp{Op: "=", N: 9}}, 1},
		{"ip rule becomes icmp", `alert ip any any -> any any (itype:0; sid:1;)`, "", ICMP{Type: &IntCmp{Op: "=", N: 0}}, 1},
		{"tcp rule rejected", `alert tcp any any -> any any (itype:8; sid:1;)`, "itype on a tcp rule", ICMP{}, 0},
		{"itype out of range", `alert icmp any any -> any any (itype:300; sid:1;)`, "itype: 300 out of range 0..255", ICMP{}, 0},
		{"empty range", `alert icmp any any -> any any (itype:5<>5; sid:1;)`, "itype: bad range 5<>5", ICMP{}, 0},
		{"icmp_seq range rejected", `alert icmp any any -> any any (icmp_seq:>5; sid:1;)`, "icmp_seq takes a plain number", ICMP{}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, why := loadOne(t, tc.text)
			require.Equal(t, tc.reject, why)
			if tc.reject != "" {
				return
			}
			require.NotNil(t, r.ICMP)
			assert.Equal(t, tc.want, *r.ICMP)
			assert.EqualValues(t, tc.transport, r.Transport)
		})
	}
}

func TestHeaderMultiBufferNames(t *testing.T) {
	for _, tc := range []struct{ kw, buf string }{
		{"http.request_header", "http.request_header"},
		{"http.response_header", "http.response_header"},
	} {
		t.Run(tc.kw, func(t *testing.T) {
			r, why := loadOne(t, `alert http any any -> any any (msg:"t"; `+tc.kw+`; content:"Host"; sid:1;)`)
			require.Empty(t, why)
			require.Len(t, r.Lists, 1)
			assert.Equal(t, tc.buf, r.Lists[0].Buffer.String())
			assert.True(t, r.Lists[0].Buffer.IsMulti())
			assert.Equal(t, "http", r.AppProto)
		})
	}
}

func TestDsizeForms(t *testing.T) {
	cases := []struct {
		name, opts string
		want       IntCmp
		reject     string
	}{
		{"exact", `dsize:10;`, IntCmp{Op: "=", N: 10}, ""},
		{"less or equal", `dsize:<=10;`, IntCmp{Op: "<=", N: 10}, ""},
		{"not equal", `dsize:!9;`, IntCmp{Op: "!=", N: 9}, ""},
		{"not equal spaced", `dsize: ! 9;`, IntCmp{Op: "!=", N: 9}, ""},
		{"not a number", `dsize:!x;`, IntCmp{}, `dsize: "!x" is not !N with N in 0..65535`},
		{"twice", `dsize:>1; dsize:!9;`, IntCmp{}, "dsize given twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, why := loadOne(t, `alert tcp any any -> any any (msg:"t"; `+tc.opts+` sid:1;)`)
			require.Equal(t, tc.reject, why)
			if tc.reject != "" {
				return
			}
			require.NotNil(t, r.Dsize)
			assert.Equal(t, tc.want, *r.Dsize)
		})
	}
}

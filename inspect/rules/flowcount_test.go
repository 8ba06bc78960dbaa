package rules

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFlowCountKeywords(t *testing.T) {
	cases := []struct {
		opts   string
		want   []FlowCount
		reject string
	}{
		{`flow.pkts:either,=10;`, []FlowCount{{Dir: "either", Cmp: IntCmp{Op: "=", N: 10}}}, ""},
		{`flow.pkts:toserver,10; flow.bytes:toclient,>3000;`, []FlowCount{{Dir: "toserver", Cmp: IntCmp{Op: "=", N: 10}},
			{Bytes: true, Dir: "toclient", Cmp: IntCmp{Op: ">", N: 3000}}}, ""},
		{`flow.bytes:both,!5;`, []FlowCount{{Bytes: true, Dir: "both", Cmp: IntCmp{Op: "!=", N: 5}}}, ""},
		{`flow.pkts_toclient:<=3;`, []FlowCount{{Dir: "toclient", Cmp: IntCmp{Op: "<=", N: 3}}}, ""},
		{`flow.bytes_toserver:100-200;`, []FlowCount{{Bytes: true, Dir: "toserver", Cmp: IntCmp{Op: "<>", Min: 100, Max: 200}}}, ""},
		{`flow.pkts:5;`, nil, `flow.pkts: "5" needs a direction (toserver, toclient, either or both) and a number`},
		{`flow.pkts:sideways,5;`, nil, `flow.pkts: unknown direction "sideways"`},
		{`flow.pkts:toserver,-5;`, nil, `flow.pkts: "-5" is not an unsigned number`},
		{`flow.pkts:toserver,9<>3;`, nil, `flow.pkts: range "9<>3" is empty`},
	}
	for _, tc := range cases {
		t.Run(tc.opts, func(t *testing.T) {
			r, why := loadOne(t, `alert ip any any -> any any (msg:"t"; `+tc.opts+` sid:1;)`)
			assert.Equal(t, tc.reject, why)
			if tc.reject == "" {
				require.NotNil(t, r)
				assert.Equal(t, tc.want, r.FlowCounts)
			}
		})
	}
}

func TestFlowCountMatch(t *testing.T) {
	ten := IntCmp{Op: "=", N: 10}
	counts := [2]uint64{10, 3}
	assert.True(t, (&FlowCount{Dir: "toserver", Cmp: ten}).Match(counts))
	assert.False(t, (&FlowCount{Dir: "toclient", Cmp: ten}).Match(counts))
	assert.True(t, (&FlowCount{Dir: "either", Cmp: ten}).Match(counts))
	assert.False(t, (&FlowCount{Dir: "both", Cmp: ten}).Match(counts))
	assert.True(t, (&FlowCount{Dir: "both", Cmp: IntCmp{Op: ">", N: 2}}).Match(counts))
}

func TestThresholdBackoff(t *testing.T) {
	r, why := loadOne(t, `alert tcp any any -> any any (msg:"t"; content:"x"; threshold:type backoff, track by_flow, count 2, multiplier 10; sid:1;)`)
	require.Empty(t, why)
	assert.Equal(t, &Threshold{Type: "backoff", Track: "by_flow", Count: 2, Multiplier: 10}, r.Threshold)
	_, why = loadOne(t, `alert tcp any any -> any any (msg:"t"; content:"x"; threshold:type backoff, track by_src, count 2, multiplier 10; sid:1;)`)
	assert.Contains(t, why, "backoff can only be used with track by_flow")
	_, why = loadOne(t, `alert tcp any any -> any any (msg:"t"; content:"x"; threshold:type backoff, track by_flow, count 2, multiplier 0; sid:1;)`)
	assert.NotEmpty(t, why, "a multiplier of 0 is refused")
}

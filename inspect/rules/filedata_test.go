package rules

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect/applayer"
)

// file.data means the files of either direction unless the rule names
// one, and each file.data keyword starts a list of its own (Suricata's
// sticky buffer semantics), so two lists may match two different files.
func TestFileDataLists(t *testing.T) {
	for _, tc := range []struct {
		rule  string
		lists []applayer.Buffer
		ops   []int // contents per list
	}{
		{`alert http any any -> any any (msg:"t"; file.data; content:"a"; content:"b"; sid:1;)`,
			[]applayer.Buffer{applayer.FileData}, []int{2}},
		{`alert http any any -> any any (msg:"t"; file.data; content:"a"; file.data; content:"b"; sid:1;)`,
			[]applayer.Buffer{applayer.FileData, applayer.FileData}, []int{1, 1}},
		{`alert http any any -> any any (msg:"t"; file_data; content:"a"; file.data; content:"b"; file_data; content:"c"; content:"d"; sid:1;)`,
			[]applayer.Buffer{applayer.FileData, applayer.FileData, applayer.FileData}, []int{1, 1, 2}},
		{`alert http any any -> any any (msg:"t"; flow:to_server; file.data; content:"a"; file.data; content:"b"; sid:1;)`,
			[]applayer.Buffer{applayer.HTTPRequestBody, applayer.HTTPRequestBody}, []int{1, 1}},
		{`alert http any any -> any any (msg:"t"; flow:to_client; file.data; content:"a"; sid:1;)`,
			[]applayer.Buffer{applayer.HTTPResponseBody}, []int{1}},
		{`alert http any any -> any any (msg:"t"; file.data; content:"a"; file.name; content:"n"; sid:1;)`,
			[]applayer.Buffer{applayer.FileData, applayer.FileName}, []int{1, 1}},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			r, err := ParseRule(tc.rule, nil)
			require.NoError(t, err)
			var bufs []applayer.Buffer
			var ops []int
			for _, l := range r.Lists {
				bufs = append(bufs, l.Buffer)
				ops = append(ops, len(l.Ops))
			}
			assert.Equal(t, tc.lists, bufs)
			assert.Equal(t, tc.ops, ops)
		})
	}
}

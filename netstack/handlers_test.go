package netstack

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPatternHandler(t *testing.T) {
	tests := []struct {
		name   string
		chunks []string
		dirs   []Direction
		want   []Verdict
	}{
		{"whole in one chunk", []string{"abEVILcd"}, []Direction{ToServer}, []Verdict{Reject}},
		{"split over two chunks", []string{"xxEV", "ILyy"}, []Direction{ToServer, ToServer}, []Verdict{Continue, Reject}},
		{"split over three chunks", []string{"E", "V", "IL"}, []Direction{ToServer, ToServer, ToServer}, []Verdict{Continue, Continue, Reject}},
		{"halves in different directions do not match", []string{"EV", "IL"}, []Direction{ToServer, ToClient}, []Verdict{Continue, Continue}},
		{"no match", []string{"EVI", "XL"}, []Direction{ToClient, ToClient}, []Verdict{Continue, Continue}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &PatternHandler{Pattern: []byte("EVIL"), Verdict: Reject}
			fh, v := h.NewFlow(&FlowInfo{})
			assert.Equal(t, Continue, v)
			for i, c := range tc.chunks {
				assert.Equal(t, tc.want[i], fh.Chunk(tc.dirs[i], []byte(c)), "chunk %d %q", i, c)
			}
		})
	}
}

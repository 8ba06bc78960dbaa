package replay

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Setup.ActionOrder (`interdict replay --action-order`) reaches the
// engine: with drop before pass, a chunk matching both is dropped and the
// drop alert is logged; by default the pass wins and nothing is logged.
func TestSetupActionOrder(t *testing.T) {
	dir := t.TempDir()
	rules := writeFile(t, dir, "test.rules", []byte(strings.Join([]string{
		`pass http any any -> any any (msg:"pass get"; http.method; content:"GET"; sid:1;)`,
		`drop http any any -> any any (msg:"drop file"; http.uri; content:"/file"; sid:2;)`,
	}, "\n")))
	pcap := writeFile(t, dir, "in.pcap", httpCapture(t, 10))
	for _, tt := range []struct {
		name  string
		order []string
		drops uint64
		err   string
	}{
		{"default order: pass wins", nil, 0, ""},
		{"drop before pass", []string{"drop", "pass", "reject", "alert"}, 1, ""},
		{"incomplete order is an error", []string{"drop", "pass"}, 0, "action-order"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			evs := &events{}
			s := Setup{Pcap: pcap, Rules: []string{rules}, ActionOrder: tt.order, Config: Config{Mode: ModeIPS, Events: evs}}
			sum, _, err := s.Run()
			if tt.err != "" {
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.drops, sum.AlertsBySID[2])
			assert.Zero(t, sum.AlertsBySID[1], "pass rules log no alert")
		})
	}
}

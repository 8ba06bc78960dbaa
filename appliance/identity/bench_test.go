package identity

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/netstack"
)

// BenchmarkEgressDecision is the policy decision per new flow with 1,000
// identities (10 tags of 100) and 10,000 allow entries (one policy of
// 1,000 entries per tag: 500 prefixes, 250 names, 250 wildcards), run
// through the engine's NewFlow wrapper as the netstack calls it.
func BenchmarkEgressDecision(b *testing.B) {
	reg := NewRegistry()
	var ents []Entry
	for i := range 1000 {
		ents = append(ents, Entry{Identity: &Identity{Name: fmt.Sprintf("id-%d", i), Tags: []string{fmt.Sprintf("t%d", i%10)}},
			Prefixes: []netip.Prefix{netip.MustParsePrefix(fmt.Sprintf("100.64.%d.%d/32", i/250, i%250+1))}})
	}
	require.NoError(b, reg.Replace("config", ents))
	var pols []PolicyConfig
	for t := range 10 {
		pc := PolicyConfig{Name: fmt.Sprintf("p%d", t), Tags: []string{fmt.Sprintf("t%d", t)}}
		for j := range 1000 {
			var to string
			switch {
			case j < 500:
				to = fmt.Sprintf("10.%d.%d.0/24", t, j%250+j/250)
			case j < 750:
				to = fmt.Sprintf("host%d.t%d.example.com", j, t)
			default:
				to = fmt.Sprintf("*.svc%d.t%d.example.com", j, t)
			}
			pc.Allow = append(pc.Allow, AllowConfig{To: to, Ports: []int{443, 5432}, Proto: "tcp"})
		}
		pols = append(pols, pc)
	}
	e, err := NewEngine(reg, InterruptConfig{}, Options{SweepEvery: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(b, err)
	defer e.Close()
	require.NoError(b, e.SetPolicies(pols, nil))
	h := e.Wrap(netstack.PassAll{})
	id := reg.Lookup(netip.MustParseAddr("100.64.1.8"))
	require.NotNil(b, id)
	require.Equal(b, []string{"t7"}, id.Tags, "the cases below address tag t7's policy")

	cases := []struct {
		name string
		dst  string
		prep func()
	}{
		{"prefix-allowed", "10.7.99.7:443", nil},
		{"dns-name-allowed", "192.0.2.10:5432", func() {
			e.dns.add(id.Name, netip.MustParseAddr("192.0.2.10"), "a.svc900.t7.example.com", time.Now().Add(time.Hour), time.Now())
		}},
		{"denied-port", "10.7.99.7:22", nil},
	}
	b.Run("no-policy-baseline", func(b *testing.B) {
		bare, err := NewEngine(reg, InterruptConfig{}, Options{SweepEvery: -1})
		require.NoError(b, err)
		defer bare.Close()
		bh := bare.Wrap(netstack.PassAll{})
		info := &netstack.FlowInfo{ID: 1, Proto: netstack.TCP, Src: netip.MustParseAddrPort("100.64.1.8:40000"),
			Dst: netip.MustParseAddrPort("10.7.99.7:443"), Identity: id}
		b.ReportAllocs()
		for b.Loop() {
			bh.NewFlow(info)
		}
	})
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			if tc.prep != nil {
				tc.prep()
			}
			info := &netstack.FlowInfo{ID: 1, Proto: netstack.TCP, Src: netip.MustParseAddrPort("100.64.1.8:40000"),
				Dst: netip.MustParseAddrPort(tc.dst), Identity: id}
			_, v := h.NewFlow(info)
			if tc.name == "denied-port" {
				require.Equal(b, netstack.Reject, v)
			} else {
				require.Equal(b, netstack.Pass, v, "allowed at once: the inner handler's verdict")
			}
			b.ReportAllocs()
			for b.Loop() {
				h.NewFlow(info)
			}
		})
	}
}

package detect

import (
	"fmt"
	"math/rand"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/interdict/interdict/inspect"
)

// The address index picks exactly the always-evaluated rules that
// checking every rule's header picks, for reputation-style lists on
// either side, negated and nested lists, bidirectional rules, ports,
// both families, and rules of one transport or direction only (the index
// is shared by the raw groups).
func TestAlwaysIndexMatchesHeaders(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	addr := func() netip.Addr {
		if rng.Intn(5) == 0 {
			return netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", rng.Intn(16)))
		}
		return netip.AddrFrom4([4]byte{10, byte(rng.Intn(2)), byte(rng.Intn(4)), byte(rng.Intn(16))})
	}
	list := func() string {
		var parts []string
		for n := 1 + rng.Intn(8); n > 0; n-- {
			a := addr()
			if rng.Intn(4) == 0 {
				parts = append(parts, netip.PrefixFrom(a, a.BitLen()-rng.Intn(6)).Masked().String())
			} else {
				parts = append(parts, a.String())
			}
		}
		return strings.Join(parts, ",")
	}
	side := func() string {
		switch rng.Intn(6) {
		case 0:
			return "any"
		case 1:
			return "![" + list() + "]"
		case 2:
			return "[" + list() + ",!10.0.0.1]"
		case 3:
			return "[" + list() + ",[10.1.0.0/16,!10.1.1.1]]"
		}
		return "[" + list() + "]"
	}
	var text strings.Builder
	for sid := 1; sid <= 300; sid++ {
		dir, port := "->", "any"
		if rng.Intn(8) == 0 {
			dir = "<>"
		}
		if rng.Intn(6) == 0 {
			port = "[80,443]"
		}
		proto := []string{"ip", "ip", "tcp", "udp"}[rng.Intn(4)]
		flow := ""
		if proto == "tcp" && dir == "->" {
			flow = []string{"", "flow:to_server; ", "flow:to_client; "}[rng.Intn(3)]
		}
		fmt.Fprintf(&text, "alert %s %s any %s %s %s (msg:\"rep %d\"; %ssid:%d;)\n", proto, side(), dir, side(), port, sid, flow, sid)
	}
	e := mustEngine(t, text.String(), Options{})
	g := e.raw[trTCP][inspect.ToServer]
	require.NotNil(t, g.ai, "the index was built")
	for i := 0; i < 500; i++ {
		meta := inspect.FlowMeta{Proto: inspect.ProtoTCP, Src: netip.AddrPortFrom(addr(), 40000), Dst: netip.AddrPortFrom(addr(), uint16([]int{80, 22}[rng.Intn(2)]))}
		for d := inspect.ToServer; d <= inspect.ToClient; d++ {
			g := e.raw[trTCP][d]
			indexed := e.newFlow(meta).always(g, d)
			ai := g.ai
			g.ai = nil
			plain := e.newFlow(meta).always(g, d)
			g.ai = ai
			assert.Equal(t, plain, indexed, "flow %s -> %s, %s", meta.Src, meta.Dst, d)
		}
	}
}

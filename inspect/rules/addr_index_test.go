package rules

import (
	"fmt"
	"math/rand"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Groups searched by bisection answer exactly as member by member, for
// overlapping and adjacent prefixes of both families, negated members,
// nested groups and addresses at the ends of the address space.
func TestAddrSetIndexMatchesLinear(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	v4 := func() netip.Addr {
		return netip.AddrFrom4([4]byte{byte(rng.Intn(4) * 64), byte(rng.Intn(4)), byte(rng.Intn(256)), byte(rng.Intn(256))})
	}
	v6 := func() netip.Addr {
		var b [16]byte
		b[0], b[1], b[15] = 0x20, 0x01, byte(rng.Intn(256))
		b[7] = byte(rng.Intn(3))
		return netip.AddrFrom16(b)
	}
	elem := func() string {
		switch rng.Intn(10) {
		case 0:
			return "!" + v4().String()
		case 1:
			return fmt.Sprintf("[%s,%s]", v4(), v6())
		case 2:
			return netip.PrefixFrom(v6(), 56+rng.Intn(73)).Masked().String()
		case 3:
			return []string{"255.255.255.0/24", "255.255.255.255", "255.255.255.16/30", "0.0.0.0/8", "0.0.0.0"}[rng.Intn(5)]
		}
		return netip.PrefixFrom(v4(), 8+rng.Intn(25)).Masked().String()
	}
	for i := 0; i < 300; i++ {
		var parts []string
		for n := 1 + rng.Intn(30); n > 0; n-- {
			parts = append(parts, elem())
		}
		expr := "[" + strings.Join(parts, ",") + "]"
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			set, err := parseAddr(expr, func(string) (string, bool) { return "", false }, 0)
			require.NoError(t, err)
			linear := *set
			linear.ranges, linear.rest = nil, nil
			probes := []netip.Addr{netip.MustParseAddr("255.255.255.255"), netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("255.255.255.200")}
			for j := 0; j < 200; j++ {
				probes = append(probes, v4(), v6())
			}
			for _, ip := range probes {
				assert.Equal(t, linear.Contains(ip), set.Contains(ip), "%s in %s", ip, expr)
			}
		})
	}
}

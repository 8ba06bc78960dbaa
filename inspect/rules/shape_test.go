package rules

import (
	"math/rand"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// ruleShapeOK decides exactly as the ruleShape regexp, on real shapes,
// near misses and random texts built from the characters that matter.
func TestRuleShapeMatchesRegexp(t *testing.T) {
	cases := []string{
		`alert tcp any any -> any any (msg:"x"; sid:1;)`,
		`alert tcp any any <> any any (msg:"x"; sid:1;)  `,
		`alert tcp any any -> any any(msg:"x"; sid:1;)`,
		`alert tcp any any -> any (msg:"x"; sid:1;)`,
		`alert tcp any any -> any any (`,
		`alert tcp any any -> any any ()`,
		`alert tcp any any -> any a(b)`,
		`alert tcp any any -> any (a (b)`,
		`alert tcp any any => any any (msg:"x";)`,
		`drop `,
		"alert\ttcp\tany\tany\t->\tany\tany\t(\n)\n",
		"alert tcp any any -> any any \v(x)",
		`alert tcp any any -> any any x (y)`,
		`alert tcp any any -> any any ) (`,
	}
	rng := rand.New(rand.NewSource(4))
	alphabet := []string{"a", "b", "(", ")", " ", "\t", "\n", "->", "<>", "-", "\v", "any", "x(", ")("}
	for i := 0; i < 20000; i++ {
		var b strings.Builder
		for n := rng.Intn(24); n > 0; n-- {
			b.WriteString(alphabet[rng.Intn(len(alphabet))])
		}
		cases = append(cases, b.String())
		// And random tails on a valid head, where the interesting cases are.
		cases = append(cases, "alert tcp a b -> c d"+b.String())
	}
	for _, c := range cases {
		if !assert.Equal(t, ruleShape.MatchString(c), ruleShapeOK(c), "%q", c) {
			return
		}
	}
}

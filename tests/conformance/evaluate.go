package conformance

import (
	"fmt"
	"strings"
)

// Status of one test.
type Status uint8

const (
	Pass Status = iota
	Fail
	NotApplicable
)

// Outcome is the verdict on one test.
type Outcome struct {
	Status Status
	// Reason: for Fail, each failing check with expected and actual
	// counts; for NotApplicable, why; for Pass, the checks skipped as not
	// applicable, if any.
	Reason string
}

// Line formats the outcome as the runner prints it.
func (o Outcome) Line(name string) string {
	switch o.Status {
	case Pass:
		if o.Reason != "" {
			return "PASS " + name + " (" + o.Reason + ")"
		}
		return "PASS " + name
	case Fail:
		return "FAIL " + name + ": " + o.Reason
	}
	return "N/A " + name + ": " + o.Reason
}

// Evaluate runs the applicable checks of s over events. Call TestNA
// first: Evaluate assumes the test as a whole is applicable.
func (s *Spec) Evaluate(events []map[string]any, rules map[uint32]ruleFacts) Outcome {
	var fails []string
	skipped := 0
	for i := range s.Checks {
		c := &s.Checks[i]
		if c.Filter != nil {
			if ok, _ := c.Filter.Requires.Satisfied(); !ok {
				continue // as suricata-verify: a check for another version is not run
			}
		}
		if s.CheckNA(c, rules) != "" {
			skipped++
			continue
		}
		if ok, got := c.Filter.Eval(events); !ok {
			fails = append(fails, fmt.Sprintf("check %d {%s}: expected %s, got %d", i+1, c.Filter.Describe(), c.Filter.Expect(), got))
		}
	}
	if len(fails) > 0 {
		return Outcome{Status: Fail, Reason: strings.Join(fails, "; ")}
	}
	o := Outcome{Status: Pass}
	if skipped > 0 {
		o.Reason = fmt.Sprintf("%d of %d checks not applicable", skipped, len(s.Checks))
	}
	return o
}

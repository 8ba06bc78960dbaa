package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/urfave/cli/v2"
)

// oneWord is a flag as --help shows it: its name, one placeholder word,
// and the repetition of both for a repeatable flag.
var oneWord = regexp.MustCompile(`^--?[\w-]+ \S+( \[ --?[\w-]+ \S+ \])?$`)

// Every flag that takes a value names what it takes in --help (FILE,
// DURATION, ...), not urfave/cli's bare "value", and no usage text is cut
// into a placeholder by a stray pair of backquotes.
func TestFlagHelpNamesValues(t *testing.T) {
	var walk func(path string, cmds []*cli.Command)
	walk = func(path string, cmds []*cli.Command) {
		for _, c := range cmds {
			p := path + " " + c.Name
			for _, f := range c.Flags {
				d, ok := f.(cli.DocGenerationFlag)
				if !ok || !d.TakesValue() {
					continue
				}
				head, _, _ := strings.Cut(f.String(), "\t")
				assert.NotContains(t, head, " value", "%s: %s: the help shows a placeholder \"value\"", p, head)
				for _, alias := range strings.Split(head, ", ") {
					assert.Regexp(t, oneWord, alias, "%s: a placeholder of several words", p)
				}
			}
			walk(p, c.Subcommands)
		}
	}
	walk("interdict", newApp().Commands)
}

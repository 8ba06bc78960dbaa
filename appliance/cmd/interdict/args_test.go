package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// flagsFirst moves a leaf command's flags (with their values) before its
// arguments and leaves everything else where the user wrote it.
func TestFlagsFirst(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []string
		want []string
	}{
		{"ctl block prefix first", []string{"ctl", "block", "10.0.0.0/24", "--for", "10m", "--reason", "scan"},
			[]string{"ctl", "block", "--for", "10m", "--reason", "scan", "10.0.0.0/24"}},
		{"parent flags stay", []string{"ctl", "--socket", "/s", "quarantine", "runner-1", "--for", "2h"},
			[]string{"ctl", "--socket", "/s", "quarantine", "--for", "2h", "runner-1"}},
		{"bool flags take no value", []string{"peer", "add", "r1", "--qr", "--endpoint", "h:1"},
			[]string{"peer", "add", "--qr", "--endpoint", "h:1", "r1"}},
		{"flag=value", []string{"ctl", "pause", "r1", "--for=1h"}, []string{"ctl", "pause", "--for=1h", "r1"}},
		{"value that looks like a name", []string{"ctl", "block", "--reason", "x", "10.0.0.0/8"},
			[]string{"ctl", "block", "--reason", "x", "10.0.0.0/8"}},
		{"nested leaf", []string{"ctl", "tokens", "unbind", "abcdef12", "--json"}, []string{"ctl", "tokens", "unbind", "--json", "abcdef12"}},
		{"several arguments keep their order", []string{"rules", "check", "a.rules", "-c", "c.yaml", "b.rules"},
			[]string{"rules", "check", "-c", "c.yaml", "a.rules", "b.rules"}},
		{"after -- all arguments", []string{"peer", "remove", "--", "-odd"}, []string{"peer", "remove", "--", "-odd"}},
		{"unknown command untouched", []string{"ctl", "stauts", "--json"}, []string{"ctl", "stauts", "--json"}},
		{"group without subcommand", []string{"ctl", "--json"}, []string{"ctl", "--json"}},
		{"global flag", []string{"--version"}, []string{"--version"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := newApp()
			got := flagsFirst(app.Commands, append([]string{"interdict"}, tc.in...))
			assert.Equal(t, append([]string{"interdict"}, tc.want...), got)
		})
	}
}

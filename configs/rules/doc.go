// Package rules is interdict's default rule pack: Suricata rules written for
// machine traffic (CI/CD runners, service accounts, API keys, AI agents),
// one file per category, embedded so the appliance runs with them when no
// rule files are configured.
//
// The .rules files are the product; this package only embeds them. Every
// rule must load through inspect/rules and compile in inspect/detect with no
// rejection, and every sid has a positive and a negative example in
// rules_test.go, so a rule the engine cannot honour or a rule without tests
// fails the build's tests rather than a deployment.
//
// classification.config holds the Suricata standard classtypes the pack
// uses, with Suricata's priorities, so alerts carry the usual severities.
//
// This package imports nothing but the standard library; its tests import
// inspect/rules, inspect/detect and the app-layer parsers.
package rules

import (
	"embed"
	"io/fs"
	"sort"
)

// Files holds the pack's rule files and classification.config.
//
//go:embed *.rules classification.config
var Files embed.FS

// Classification is the name of the classification file in Files.
const Classification = "classification.config"

// RuleFiles lists the .rules files in Files, sorted, so that rules load in
// a stable order.
func RuleFiles() []string {
	// The pattern is constant and valid, so Glob cannot fail.
	names, _ := fs.Glob(Files, "*.rules")
	sort.Strings(names)
	return names
}

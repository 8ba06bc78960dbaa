// Package ruleset turns a description of rule sources (rule files on disk
// or in an fs.FS such as the embedded default pack, a classification file,
// a threshold.config, address and port variables) into a compiled
// detect.Engine, and reports what was loaded and what was rejected with
// file:line and reason.
//
// It is the one rule loader: the appliance uses it at startup and on every
// reload, and `interdict replay` and the conformance suite through
// inspect/replay.Setup.Load, so a rule behaves the same live and offline.
//
// Errors: a source that cannot be read or a classification or threshold
// file that does not parse is an error (Load fails). A rule that does not
// parse or cannot be compiled is not: it is listed in Result.Rejected and
// the other rules run. Callers decide whether rejected rules are
// acceptable (the appliance's rules.allow_partial).
//
// ruleset imports inspect/rules, inspect/detect, inspect/applayer and
// inspect/http1 (for its body bound), and nothing outside inspect.
package ruleset

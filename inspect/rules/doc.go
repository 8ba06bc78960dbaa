// Package rules turns Suricata rule text into a checked, engine-neutral
// form: addresses and ports resolved against variables, content and buffer
// chains in order, flow/flowbits/threshold options, and the metadata an
// alert carries.
//
// Parsing is done by github.com/google/gonids, whose parser keeps
// package-level state, so every call into it is serialised by one mutex.
// Anything this package cannot honour exactly (an unknown keyword, a buffer
// no parser fills, a pcre flag we do not implement) rejects that one rule
// with an *Error naming file, line, sid and reason; a file is never
// rejected as a whole.
//
// pcre expressions run on Go's regexp (RE2, linear time) when RE2 can
// parse them and they name no byte above 0x7f; otherwise on regexp2 with a
// match timeout. Python-style named groups and backreferences are spelled
// the .NET way for regexp2. One PCRE behaviour RE2 does not share: without
// the m flag, PCRE's $ also matches before a final newline, RE2's only at
// the very end (pcre_test.go checks the translation over ET Open).
//
// Loading is mostly gonids (serial) and garbage: its lexer allocates a
// 96 KiB channel buffer per rule. While a load runs, GOGC is raised to 400
// (gc.go), and a per-process cache keyed by the load options and the exact
// rule text (cache.go) lets a reload skip gonids for rules it has seen in
// the last two loads. Loaded rules are shared, read-only, between loads.
//
// rules imports nothing of ours except inspect's top-level types and
// inspect/applayer (for buffer names). It never imports the engine.
package rules

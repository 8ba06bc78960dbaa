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
// rules imports nothing of ours except inspect's top-level types and
// inspect/applayer (for buffer names). It never imports the engine.
package rules

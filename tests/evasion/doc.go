// Package evasion is the HTTP evasion generator: responses carrying the
// EICAR test file and requests carrying a forbidden URI, built
// combinatorially from the classes of issue 11 (framing, content coding,
// header spelling, line ends, chunk sizes, request-line shapes, PROXY
// headers), run through the real rule loader, detect engine and HTTP
// parser, each cut into pieces of several sizes. Every variant must be
// detected (a rule fires) or refused (an anomaly the default policy
// rejects); the counts are printed.
//
// It drives the engine in process, not the whole appliance data path; the
// data path's hold-until-verdict is tested in tests/harness.
package evasion

// Package evasion is the HTTP evasion generator: responses carrying the
// EICAR test file and requests carrying a forbidden URI or an EICAR upload,
// built combinatorially from the classes of issue 11 (status line x line
// ends x content codings x framings; PROXY headers, empty lines, method
// case, whitespace runs, URI encodings, oversized headers, large bodies
// in each coding; Smuggling: CL.TE and TE.CL, odd header spellings,
// chunk-size lines, pipelining after CONNECT and Upgrade, %u and overlong
// UTF-8 targets; HTTP/2 over CONTINUATION, HPACK's dynamic table and
// h2c). Variants a client would not accept at all are not excluded: the
// inspector must stop every one, and a request variant must be stopped
// before the request has passed, not when its response comes back.
//
// Two tests run them. Here, through the real rule loader, detect engine
// and HTTP parser, each cut into pieces of 1 MiB, 1460 and 7 bytes (tiny
// writes); tests/harness runs every variant through the appliance's data
// path (policy, enforce, netstack, real TCP stacks). Every variant must be
// detected (a rule fires) or refused (an anomaly the embedded default
// policy rejects); the counts are printed.
package evasion

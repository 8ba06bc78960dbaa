// Package applayer is the seam between app-layer parsers and detection.
//
// A parser (inspect/http1, inspect/tls, inspect/dns) registers a Proto that
// says how to recognise the protocol from the first bytes of a flow, and
// which sticky buffers it fills. The detection engine never knows a
// protocol's wire format: it asks the registry, feeds the parser the same
// chunks it inspects, and runs buffer rules against the Units the parser
// emits. Adding a protocol touches its own folder and nothing else.
//
// applayer imports nothing of ours except inspect's top-level types.
package applayer

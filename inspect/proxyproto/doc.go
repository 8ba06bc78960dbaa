// Package proxyproto parses the PROXY protocol header (HAProxy's spec,
// versions 1 and 2) that a load balancer may put before a connection's
// first bytes, so the HTTP parser can step over it and EVE can record the
// addresses it names. An inspector that did not know the header took the
// whole flow for "not HTTP", and no HTTP rule ran.
//
// Parse is a pure function of the bytes so far: it says how long the
// header is, that more bytes are needed, or why it is malformed. It keeps
// no state, so a caller cut at any byte just calls it again with more.
//
// proxyproto imports nothing of ours.
package proxyproto

// Package tls reads a TLS flow's ClientHello for detection: the server
// name (tls.sni) and the highest version the client offers, with anomalies
// for malformed records and hellos. Each side's version as Suricata's
// ssl_version reads it and the handshake states each side reached (for
// rules with an explicit hook, tls:client_hello_done) go on every Unit.
//
// The record layer is parsed incrementally: a ClientHello may arrive one
// byte at a time, and may be split across several handshake records
// (RFC 8446 5.1). Handshake bytes are kept up to a bound (MaxHandshake by
// default). Of the client nothing after the ClientHello is parsed; of the
// server, the ServerHello and, up to TLS 1.2 where they are cleartext, the
// Certificate and ServerHelloDone messages (TLS 1.3 encrypts them).
//
// tls imports only inspect and inspect/applayer; it does not use crypto/tls
// because that package parses hellos only as part of a handshake.
package tls

package tls

// Handshake is handshake for the external test package.
var Handshake = handshake

// Package ssh reads the identification line each side of an SSH
// connection sends first (RFC 4253 4.2: "SSH-protoversion-softwareversion
// comments"), for ssh.proto and ssh.software and the EVE ssh record.
// Everything after the banners is the binary, soon encrypted, protocol
// and is not parsed.
//
// ssh imports only inspect and inspect/applayer.
package ssh

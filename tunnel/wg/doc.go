// Package wg is the WireGuard link: a wireguard-go device whose TUN side
// is a gVisor link endpoint of the appliance's netstack, so every packet
// a peer sends is decrypted in process and handed to the stack without
// touching a kernel interface. No privileges are needed: the device
// listens on an ordinary UDP socket (wireguard-go's StdNetBind, with UDP
// GSO/GRO on Linux) and nothing is routed by the host.
//
// The bridge moves packets in wireguard-go's batches both ways. Towards
// the peers, the stack's packets are queued with a reference and copied
// once, straight into wireguard-go's message buffers (which it encrypts
// in place); towards the stack, each decrypted packet is copied once into
// a pooled gVisor chunk. Every packet buffer taken is released exactly
// once (the tests run with gVisor's leak checker). gVisor's TCP
// segmentation offload is not used: wireguard-go's tun package does not
// export its segmenter, and the stack's MTU-sized segments cost less
// than the per-packet encryption that follows them.
//
// Peers are added and removed at runtime through wireguard-go's
// configuration protocol (IpcSet); a removed peer's packets no longer
// decrypt from that moment. The device counts malformed datagrams and
// rejected handshakes (a flood of garbage or replayed initiations is
// dropped and counted, never fatal), and its counters carry no per-peer
// labels: per-peer figures are read with Peers, so metric cardinality
// stays bounded however many peers there are.
//
// wg must not import inspect or netstack.
package wg

// Package tunnel provides the link devices the appliance's netstack is
// attached to: tun (an OS TUN device through wireguard-go's tun package,
// with offloads), wg (a wireguard-go device bridged into netstack) and pipe
// (an in-memory link between stacks, for harnesses and tests).
//
// tunnel never imports inspect; it may import netstack's link-level types.
package tunnel

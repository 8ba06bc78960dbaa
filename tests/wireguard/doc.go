// Package wireguard holds the WireGuard hub's end-to-end tests. The
// unprivileged ones run in process: the appliance in link.mode wireguard
// on 127.0.0.1, runners as in-process WireGuard clients (tunnel/wg's
// Client), upstream servers on loopback. The root ones put Debian's
// wireguard-go and wg in a network namespace, configured from the file
// `interdict peer add` printed, and drive real curl and iperf3 through
// the hub.
package wireguard

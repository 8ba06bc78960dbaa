// Package netns holds the end-to-end suite that runs the built interdict
// binary on a real TUN between three network namespaces (client,
// appliance, server) and drives it with curl and iperf3. Root only.
//
// It imports nothing of ours except tests/testenv: it tests the binary.
package netns

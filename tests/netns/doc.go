// Package netns holds the end-to-end suite that runs the built interdict
// binary on a real TUN between three network namespaces (client,
// appliance, server) and drives it with curl and iperf3. Root only.
//
// It imports nothing of ours except tests/testenv and tests/evasion (the
// evasion generator's variants, data built from no product package): it
// tests the binary.
package netns

// Package tests holds interdict's end-to-end suites: harness (unprivileged,
// in-process stacks joined by pipe links), netns (root: real TUN devices,
// network namespaces, curl and iperf3), conformance (suricata-verify cases
// replayed), and bench (scripts that print measured figures).
package tests

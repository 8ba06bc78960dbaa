// Package bench holds benchmark scripts that print measured figures;
// throughput.sh compares the appliance with kernel forwarding. connloop is
// its connection-rate load generator.
package bench

// Package bench holds benchmark scripts that print measured figures;
// throughput.sh compares the appliance with kernel forwarding. connloop is
// its connection-rate load generator; connab.sh alternates appliance
// builds on the connect loop (A/B of a change in one run). inspect.sh measures what the rules
// cost (no rules against the default pack plus ET Open); httpmix is its
// HTTP origin (with mix.lua for wrk) and resetlat its reset-latency probe.
// wireguard.sh compares the WireGuard hub with a plain wireguard-go hub,
// with each process's CPU per connection (ALT= adds a second hub build,
// interleaved, for an A/B of a change).
package bench

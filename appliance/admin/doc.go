// Package admin is the appliance's control API and its client: JSON over
// HTTP, served on a unix socket (mode 0600, so file permissions are the
// authentication) and optionally on TCP, where every request must carry
// the configured bearer token (compared in constant time; the server
// refuses to start a TCP listener without one).
//
// Endpoints (all JSON; errors are {"error": "...", "status": N} with the
// same HTTP status):
//
//	GET    /v1/status          version, uptime, mode, rules loaded, flows active, blocked sources
//	GET    /v1/flows           live flows: 5-tuple, identity, bytes each way, verdict, age
//	POST   /v1/block           {"prefix", "duration", "reason"}: block a source prefix, reset its live flows
//	DELETE /v1/block/{prefix}  unblock (the '/' of the prefix may be written as '_' or %2F)
//	GET    /v1/blocks          the block list
//	POST   /v1/reload          recompile the rules and swap them in; 409 with file:line reasons if refused
//	GET    /v1/rules           rule set statistics
//	GET    /v1/cluster         shared state: backend, NATS member, pending writes, buckets' revisions, leaders, replica lag
//	GET    /healthz, /readyz   liveness and readiness probes (plain text; no token on TCP)
//
// The server calls a Backend (the appliance implements it; tests use
// fakes), so this package imports nothing of ours: the appliance imports
// it, and `interdict ctl` uses Client.
package admin

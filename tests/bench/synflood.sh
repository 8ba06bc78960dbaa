#!/usr/bin/env bash
# SYN-flood benchmark (root; not a test, not in CI). On the topology of
# tests/bench/topology.sh (client - appliance on a TUN - server) it
# measures, in one run, legitimate connections (connloop: 8 parallel
# connect + 1 byte + close loops, 2 s connect timeout) without a flood and
# during a maximum-rate spoofed SYN flood (hping3 --flood --rand-source
# from the client namespace to the same server port), then the first
# second after the flood. It prints connects/s, success ratio and connect
# latency percentiles of each phase, the appliance's RSS during the flood,
# and how many connections the server accepted that no legitimate client
# made (goal 0: at most limits.syn_pressure - 1 with the default
# limits.validate_first: pressure, which dials first in normal
# operation; 0 with VALIDATE=always).
# Goals: success >= 99% and p99 connect <= 1 s during the flood, and
# recovery <= 1 s after it.
#
# Usage: sudo tests/bench/synflood.sh [flood seconds, default 30]
# Environment: INTERDICT_BIN=path uses this binary instead of building one;
#   VALIDATE=always runs the appliance with limits.validate_first: always.
# Needs ip, hping3, nstat, go (Debian: apt-get install -y hping3 iproute2).
set -euo pipefail
cd "$(dirname "$0")/../.."
T=${1:-30}
for tool in ip hping3 nstat go; do command -v $tool >/dev/null || { echo "needs $tool" >&2; exit 1; }; done
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }

. tests/bench/topology.sh
[ -z "${VALIDATE:-}" ] || echo "limits: {validate_first: $VALIDATE}" >> "$work/cfg.yaml"

ip netns exec "$S" "$work/connloop" -listen 10.77.2.2:9000 & pids+=($!)
start_interdict "$work/cfg.yaml"
via_interdict
sleep 0.5

accepted() { ip netns exec "$S" nstat -az TcpPassiveOpens | awk '/TcpPassiveOpens/ {print $2}'; }
# phase label seconds: runs connloop, prints one line, sets ok (connections
# that exchanged their byte)
phase() {
  local before after rate failed
  before=$(accepted)
  ip netns exec "$C" "$work/connloop" -addr 10.77.2.2:9000 -parallel 8 -duration "${2}s" -latency > "$work/$1.out"
  after=$(accepted)
  read -r rate failed _ < "$work/$1.out"
  ok=$(awk -v r="$rate" -v t="$2" 'BEGIN {printf "%d", r*t}')
  server=$((after - before))
  printf '%-9s %6s connects/s, success %s%% (%d ok, %d failed), %s; server accepted %d\n' "$1" "$rate" \
    "$(awk -v o="$ok" -v f="$failed" 'BEGIN {printf "%.2f", (o+f) ? 100*o/(o+f) : 0}')" "$ok" "$failed" \
    "$(sed -n 2p "$work/$1.out")" "$server"
}

echo "== no flood, $T s"
phase baseline "$T"

echo "== spoofed SYN flood (hping3 --flood --rand-source) for $T s; legitimate clients from second 1 to $((T - 1))"
start=$(accepted)
ip netns exec "$C" timeout "$T" hping3 -q -S -p 9000 --flood --rand-source 10.77.2.2 >/dev/null 2>&1 & flood=$!; pids+=($flood)
sleep 1
rss=0
( while kill -0 "$flood" 2>/dev/null; do awk '/VmRSS/ {print $2}' "/proc/$app/status"; sleep 1; done ) > "$work/rss" & pids+=($!)
phase flood "$((T - 2))"
wait "$flood" || true
spoofed=$(($(accepted) - start - ok))
rss=$(sort -n "$work/rss" | tail -1)
echo "appliance RSS during the flood: max $((rss / 1024)) MiB"
echo "server connections from the flood's start to its end beyond the legitimate ones: $spoofed (goal 0)"
m=$(ip netns exec "$A" curl -s http://127.0.0.1:9108/metrics || true)
echo "$m" | grep -E '^interdict_netstack_(syn_mode_changes_total|syn_cookies_(sent|valid)_total|syn_dropped_total)' || true

echo "== the first second after the flood"
phase after 1

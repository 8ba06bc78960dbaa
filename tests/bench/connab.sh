#!/usr/bin/env bash
# Connection-rate A/B of appliance builds (root; not a test, not in CI).
# On one topology (tests/bench/topology.sh) it alternates, in ROUNDS
# rounds, kernel forwarding and each build given (the appliance is
# restarted per build), and prints for every run the connects/s of
# connloop (-parallel P), the CPU per connection of client, server and
# appliance, and the latency percentiles, then the medians per build and
# the median of the per-round ratios to the first build. On a shared
# machine the rate swings with everyone's load; the appliance's CPU per
# connection much less, so compare that first.
#
# Usage: sudo tests/bench/connab.sh name=binary [name=binary ...]
#   e.g. git stash; go build -o /tmp/a ./appliance/cmd/interdict; ...
# Environment: ROUNDS=5, T=4 (seconds per run), P=32, STREAMS=1 also runs
# iperf3 with 1 and 4 streams per build (needs iperf3 and jq).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }
[ $# -gt 0 ] || { echo "usage: $0 name=binary ..." >&2; exit 1; }
ROUNDS=${ROUNDS:-5} T=${T:-4} P=${P:-32}
for b in "$@"; do [ -x "${b#*=}" ] || { echo "$b: not an executable" >&2; exit 1; }; done
INTERDICT_BIN=${1#*=}
. tests/bench/topology.sh

ip netns exec "$S" "$work/connloop" -listen 10.77.2.2:9000 & srv=$!; pids+=($srv)
if [ -n "${STREAMS:-}" ]; then ip netns exec "$S" iperf3 -s -B 10.77.2.2 >/dev/null 2>&1 & pids+=($!); fi
cputicks() { awk '{print $14+$15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
iperf() { ip netns exec "$C" iperf3 -c 10.77.2.2 -t "$T" -P "$1" -J | jq '.end.sum_received.bits_per_second / 1e9'; }
run() { # name pid|0 -> "name rate appliance-us"; details to stderr
  local a0=0 a1=0 s0 s1 out
  if [ -n "${STREAMS:-}" ]; then echo "  $1 streams: 1 $(iperf 1) Gbit/s, 4 $(iperf 4) Gbit/s" >&2; fi
  [ "$2" != 0 ] && a0=$(cputicks "$2"); s0=$(cputicks "$srv")
  out=$(ip netns exec "$C" "$work/connloop" -addr 10.77.2.2:9000 -parallel "$P" -duration "${T}s" -latency)
  [ "$2" != 0 ] && a1=$(cputicks "$2"); s1=$(cputicks "$srv")
  echo "$out" | awk -v l="$1" -v a=$((a1 - a0)) -v s=$((s1 - s0)) -v hz="$hz" -v t="$T" -v lat="$(echo "$out" | sed -n 2p)" \
    'NR==1 { n=$1*t; if (n == 0) n = 1
      printf "  %-10s %6d conn/s, CPU us/conn client %.0f server %.0f appliance %.0f; %s\n", l, $1, $3, s/hz*1e6/n, a/hz*1e6/n, lat > "/dev/stderr"
      printf "%s %d %.0f\n", l, $1, a/hz*1e6/n }'
}
: > "$work/results"
for r in $(seq "$ROUNDS"); do
  echo "round $r (load $(cut -d' ' -f1-3 /proc/loadavg))"
  via_kernel; sleep 0.5
  echo "$r $(run kernel 0)" >> "$work/results"
  for b in "$@"; do
    start_interdict "$work/cfg.yaml" "${b#*=}"; via_interdict; sleep 0.5
    echo "$r $(run "${b%%=*}" "$app")" >> "$work/results"
    stop_interdict
  done
done
first=${1%%=*}
ratios() { # name base -> the per-round ratios of name's rate to base's
  awk -v n="$1" -v b="$2" '$2 == b {base[$1]=$3} $2 == n {r[$1]=$3} END {for (k in r) if (base[k] > 0) print r[k]/base[k]}' "$work/results"
}
echo "== medians over $ROUNDS rounds (conn/s, appliance CPU us per connection; ratio: median of per-round ratios to $first)"
for b in kernel "$@"; do
  name=${b%%=*}
  rates=$(awk -v n="$name" '$2 == n {print $3}' "$work/results")
  cpus=$(awk -v n="$name" '$2 == n && n != "kernel" {print $4}' "$work/results")
  printf '%-10s %s conn/s' "$name" "$(median $rates)"
  if [ "$name" != kernel ]; then
    printf ', appliance %s us, %.3fx of kernel, %.3fx of %s' "$(median $cpus)" \
      "$(median $(ratios "$name" kernel))" "$(median $(ratios "$name" "$first"))" "$first"
  fi
  echo
done

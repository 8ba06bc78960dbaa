#!/usr/bin/env bash
# Egress policy cost benchmark (root; not a test, not in CI). On the
# three-namespace topology of topology.sh (client - appliance - server,
# veth), two appliances side by side in the appliance namespace, each on
# its own TUN, both with the pass handler (no inspection, so the policy
# is the only difference):
#   none     the client is an identity (runner-0, tag t0) and no policy
#   policy   1,000 identities (runner-0 .. runner-999, tags t0..t9) and 10
#            tag policies of 1,000 allow entries each (10,000 entries:
#            prefixes, names, *. wildcards, port 443); the client's policy
#            allows the server subnet by its last entry
# A policy-routing rule decides which appliance a run goes through; rounds
# interleave the two (and alternate which goes first), so load from other
# processes on a shared machine hits both sides of each ratio alike.
# Per configuration and round: iperf3 1 stream (Gbit/s) and connects/s
# (connloop: 32 parallel connect + 1 byte each way + close). Then the
# medians and the ratios policy/none (goal >= 0.95), and the policy
# decisions each appliance counted.
# Everything stays inside namespaces this script creates and removes.
#
# Usage: sudo tests/bench/policy.sh [seconds per run, default 5]
# Environment:
#   ROUNDS=3             rounds (medians are reported)
#   INTERDICT_BIN=path   use this binary instead of building one
# Needs ip, iperf3, jq, curl, go (Debian: apt-get install -y iperf3 jq curl).
set -euo pipefail
cd "$(dirname "$0")/../.."
T=${1:-5}
ROUNDS=${ROUNDS:-3}
for tool in ip iperf3 jq curl go; do command -v $tool >/dev/null || { echo "needs $tool" >&2; exit 1; }; done
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }

. tests/bench/topology.sh

ip netns exec "$S" iperf3 -s -B 10.77.2.2 >/dev/null 2>&1 & pids+=($!)
ip netns exec "$S" "$work/connloop" -listen 10.77.2.2:9000 & pids+=($!)
ip -n "$A" rule add pref 100 fwmark 0x1d1c lookup main

# identities N: runner-0 is the client, the others hold addresses of
# 10.200.0.0/16; runner-i has tag t(i%10).
identities() {
  echo "identities:"
  echo "  - {name: runner-0, prefixes: [10.77.1.2/32], tags: [t0]}"
  for i in $(seq 1 $(($1 - 1))); do
    echo "  - {name: runner-$i, prefixes: [10.200.$((i / 250)).$((i % 250 + 1))/32], tags: [t$((i % 10))]}"
  done
}
policies() {
  echo "policies:"
  for t in $(seq 0 9); do
    echo "  - name: p$t"
    echo "    tags: [t$t]"
    echo "    allow:"
    for j in $(seq 0 998); do
      case $((j % 4)) in
        3) echo "      - {to: \"*.svc$j.t$t.example.com\", ports: [443]}" ;;
        2) echo "      - {to: host$j.t$t.example.com, ports: [443]}" ;;
        *) echo "      - {to: 10.$((100 + t)).$((j % 250)).0/24, ports: [443]}" ;;
      esac
    done
    echo "      - {to: 10.77.2.0/24}"
  done
}

CONFIGS=(none policy)
declare -A APP TABLE PORT
n=0
for cfg in "${CONFIGS[@]}"; do
  TABLE[$cfg]=$((100 + n)) PORT[$cfg]=$((9108 + n))
  {
    cat <<CFG
link: {mode: tun, tun: {name: pol$n, queues: 2}}
upstream: {mode: host, host: {mark: 0x1d1c}}
handler: {mode: pass}
state_dir: $work/state-$cfg
eve: {path: $work/eve-$cfg.json}
admin: {socket: ""}
metrics: {listen: 127.0.0.1:${PORT[$cfg]}}
log: {level: info}
CFG
    if [ "$cfg" = policy ]; then identities 1000; policies; else identities 1; fi
  } > "$work/$cfg.yaml"
  "$work/interdict" config check "$work/$cfg.yaml" >/dev/null
  ip netns exec "$A" "$work/interdict" run --config "$work/$cfg.yaml" 2>"$work/log-$cfg" & APP[$cfg]=$!; pids+=($!)
  for _ in $(seq 600); do
    ip netns exec "$A" curl -sf "http://127.0.0.1:${PORT[$cfg]}/metrics" >/dev/null 2>&1 && ip -n "$A" link show "pol$n" >/dev/null 2>&1 && break
    kill -0 "${APP[$cfg]}" 2>/dev/null || { echo "appliance $cfg died:" >&2; cat "$work/log-$cfg" >&2; exit 1; }
    sleep 0.1
  done
  ip -n "$A" route add default dev "pol$n" table "${TABLE[$cfg]}"
  n=$((n + 1))
done
via() { ip -n "$A" rule del pref 200 2>/dev/null || true; ip -n "$A" rule add pref 200 to 10.77.2.0/24 lookup "${TABLE[$1]}"; ip -n "$A" route flush cache 2>/dev/null || true; }
metric() { ip netns exec "$A" curl -sf "http://127.0.0.1:${PORT[$1]}/metrics" | awk -v m="$2" 'index($1, m) == 1 {s += $2} END {printf "%d", s}'; }
iperf() { ip netns exec "$C" iperf3 -c 10.77.2.2 -t "$T" -P 1 -J | jq '.end.sum_received.bits_per_second / 1e9'; }
connects() { ip netns exec "$C" "$work/connloop" -addr 10.77.2.2:9000 -parallel 32 -duration "${T}s" | cut -d' ' -f1; }
declare -A RT RC
for cfg in "${CONFIGS[@]}"; do RT[$cfg]="" RC[$cfg]=""; done

echo "== binary ${INTERDICT_BIN:-built from $(git describe --always --dirty 2>/dev/null || echo "an unknown revision")}"
echo "== $ROUNDS rounds, $T s per run; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
for r in $(seq "$ROUNDS"); do
  order=("${CONFIGS[@]}")
  [ $((r % 2)) = 0 ] && order=($(printf '%s\n' "${CONFIGS[@]}" | tac))
  for cfg in "${order[@]}"; do
    via "$cfg"; sleep 1
    t1=$(iperf); c=$(connects)
    printf 'round %d %-6s: iperf3 1 stream %.2f Gbit/s, %s connects/s\n' "$r" "$cfg" "$t1" "$c"
    RT[$cfg]+=" $t1" RC[$cfg]+=" $c"
  done
done

echo "== medians (load average $(cut -d' ' -f1-3 /proc/loadavg) at the end of the rounds)"
declare -A MT MC
for cfg in "${CONFIGS[@]}"; do
  MT[$cfg]=$(median ${RT[$cfg]}) MC[$cfg]=$(median ${RC[$cfg]})
  printf '%-6s: iperf3 1 stream %.2f Gbit/s, %s connects/s; policy decisions: %d allowed, %d denied\n' "$cfg" "${MT[$cfg]}" "${MC[$cfg]}" \
    "$(metric "$cfg" 'interdict_identity_egress_decisions_total{decision="allow"}')" \
    "$(metric "$cfg" 'interdict_identity_egress_decisions_total{decision="deny"}')"
done
echo "== ratios policy/none of the medians (goal >= 0.95)"
jq -rn --argjson at "${MT[policy]}" --argjson bt "${MT[none]}" --argjson ac "${MC[policy]}" --argjson bc "${MC[none]}" \
  'def r(a; b): if b > 0 then (a/b*1000|round/1000) else "n/a" end; "throughput \(r($at;$bt))x, connects/s \(r($ac;$bc))x"'

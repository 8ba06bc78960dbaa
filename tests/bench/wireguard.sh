#!/usr/bin/env bash
# WireGuard hub benchmark (root; not a test, not in CI). One topology
# (client - hub - server namespaces, veth); the client is Debian's
# wireguard-go, and in interleaved rounds it is pointed at three hubs in
# the hub namespace:
#   (a) plain: Debian's wireguard-go on a TUN, the kernel forwards
#   (b) interdict, pass handler (the WireGuard bridge and netstack only)
#   (c) interdict, the default pack plus every loadable ET Open rule
# and measures iperf3 with 1 and 4 streams (Gbit/s, receiver side) and
# connects/s (connloop, 32 parallel connect+1 byte+close loops). It prints
# every round, the medians and the ratios (b)/(a) and (c)/(b).
# Interleaving matters on a shared machine: load from elsewhere then hits
# every side of a ratio alike. Everything stays inside namespaces this
# script creates and removes.
#
# Usage: sudo tests/bench/wireguard.sh [seconds per run, default 5]
# Environment:
#   ROUNDS=3            rounds (medians are reported)
#   ETOPEN=dir          ET Open rules (default ../shared/corpus/et-open
#                       beside the repository); absent: (c) runs the pack only
#   INTERDICT_BIN=path  use this binary instead of building one
#   PERF=dir            also record `perf record -g` of hub (b) during one
#                       extra single-stream and one connects run, into
#                       dir/stream.data and dir/connect.data
# Needs ip, wg, wireguard-go, iperf3, jq, go.
set -euo pipefail
cd "$(dirname "$0")/../.."
T=${1:-5}
ROUNDS=${ROUNDS:-3}
ETOPEN=${ETOPEN:-$(pwd)/../shared/corpus/et-open}
for tool in ip wg wireguard-go iperf3 jq go; do command -v $tool >/dev/null || { echo "needs $tool" >&2; exit 1; }; done
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }

id=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
C=wc-$id A=wa-$id S=ws-$id
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  for ns in $C $A $S; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

if [ -n "${INTERDICT_BIN:-}" ]; then cp "$INTERDICT_BIN" "$work/interdict"; else go build -o "$work/interdict" ./appliance/cmd/interdict; fi
go build -o "$work/connloop" ./tests/bench/connloop
ID=$work/interdict

for ns in $C $A $S; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip -n "$A" link add a0 type veth peer name c0 netns "$C"
ip -n "$A" link add a1 type veth peer name s0 netns "$S"
ip -n "$C" addr add 10.77.1.2/24 dev c0; ip -n "$C" link set c0 up
ip -n "$S" addr add 10.77.2.2/24 dev s0; ip -n "$S" link set s0 up; ip -n "$S" route add default via 10.77.2.1
ip -n "$A" addr add 10.77.1.1/24 dev a0; ip -n "$A" addr add 10.77.2.1/24 dev a1
ip -n "$A" link set a0 up; ip -n "$A" link set a1 up
ip netns exec "$C" sysctl -qw net.ipv4.tcp_tw_reuse=1
ip netns exec "$A" sysctl -qw net.ipv4.ip_forward=1

# Keys: one client, three hubs.
umask 077
for k in client a b c; do "$ID" keygen > "$work/$k.key"; "$ID" pubkey < "$work/$k.key" > "$work/$k.pub"; done
CPUB=$(cat "$work/client.pub")

# (a) the plain hub: wireguard-go on a TUN, the kernel forwards.
WG_PROCESS_FOREGROUND=1 ip netns exec "$A" wireguard-go wga >/dev/null 2>&1 & pids+=($!)
for _ in $(seq 50); do ip -n "$A" link show wga >/dev/null 2>&1 && break; sleep 0.1; done
ip netns exec "$A" wg set wga private-key "$work/a.key" listen-port 51821 peer "$CPUB" allowed-ips 100.96.0.2/32
ip -n "$A" addr add 100.96.0.1/16 dev wga; ip -n "$A" link set wga mtu 1420 up

# (b) and (c): interdict hubs with the client as a config peer.
hub() { # name port metrics extra-yaml
  cat > "$work/$1.yaml" <<CFG
state_dir: $work/state-$1
link:
  mode: wireguard
  wireguard:
    listen_port: $2
    private_key_file: $work/$1.key
    peers: [{name: bench-client, public_key: "$CPUB", allowed_ips: [100.96.0.2/32]}]
eve: {path: ""}
admin: {socket: ""}
metrics: {listen: "127.0.0.1:$3"}
log: {level: warn}
$4
CFG
  ip netns exec "$A" "$ID" run --config "$work/$1.yaml" 2>"$work/$1.log" & pids+=($!)
}
hub b 51822 9108 "handler: {mode: pass}"
hubb=${pids[-1]}
files=""
if [ -d "$ETOPEN" ]; then
  files=$(ls "$ETOPEN"/*.rules | sed 's/.*/"&"/' | paste -sd, -)
  echo "(c) loads the default pack and $(ls "$ETOPEN"/*.rules | wc -l) ET Open files from $ETOPEN"
else
  echo "(c) loads the default pack only: no ET Open at $ETOPEN"
fi
hub c 51823 9109 "rules: {files: [$files], classification: \"$ETOPEN/classification.config\"}"
[ -d "$ETOPEN" ] || sed -i '/^rules:/d' "$work/c.yaml"
for m in 9108 9109; do
  for _ in $(seq 600); do ip netns exec "$A" curl -sf -o /dev/null "http://127.0.0.1:$m/metrics" && break; sleep 0.1; done
done
grep -h "rules compiled" "$work/c.log" || true

# The client: one wireguard-go interface, re-pointed at a hub per run.
WG_PROCESS_FOREGROUND=1 ip netns exec "$C" wireguard-go wgc >/dev/null 2>&1 & pids+=($!)
for _ in $(seq 50); do ip -n "$C" link show wgc >/dev/null 2>&1 && break; sleep 0.1; done
ip netns exec "$C" wg set wgc private-key "$work/client.key"
ip -n "$C" addr add 100.96.0.2/32 dev wgc; ip -n "$C" link set wgc mtu 1420 up
ip -n "$C" route add 10.77.2.0/24 dev wgc
declare -A PORT=([a]=51821 [b]=51822 [c]=51823)
use() { # hub
  local h
  for h in a b c; do ip netns exec "$C" wg set wgc peer "$(cat "$work/$h.pub")" remove; done
  ip netns exec "$C" wg set wgc peer "$(cat "$work/$1.pub")" endpoint "10.77.1.1:${PORT[$1]}" allowed-ips 10.77.2.0/24
  # Handshake before measuring.
  for _ in $(seq 50); do ip netns exec "$C" ping -c1 -W1 10.77.2.2 >/dev/null 2>&1 && break; done
}

ip netns exec "$S" iperf3 -s -B 10.77.2.2 >/dev/null 2>&1 & pids+=($!)
ip netns exec "$S" "$work/connloop" -listen 10.77.2.2:9000 & pids+=($!)
sleep 0.5

iperf() { ip netns exec "$C" iperf3 -c 10.77.2.2 -t "$T" -P "$1" -J | jq '.end.sum_received.bits_per_second / 1e9'; }
connects() {
  ip netns exec "$C" "$work/connloop" -addr 10.77.2.2:9000 -parallel 32 -duration "${T}s" > "$work/conn.out"
  head -1 "$work/conn.out" | cut -d' ' -f1
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "== $ROUNDS rounds, $T s per run: (a) wireguard-go + kernel, (b) interdict pass, (c) interdict pack+ET Open"
declare -A R M
for r in $(seq "$ROUNDS"); do
  line="round $r:"
  for h in a b c; do
    use "$h"
    s1=$(iperf 1); s4=$(iperf 4); cs=$(connects)
    R[$h,1]+="$s1 " R[$h,4]+="$s4 " R[$h,c]+="$cs "
    line+=$(printf ' (%s) %.2f / %.2f Gbit/s, %s conn/s' "$h" "$s1" "$s4" "$cs")
  done
  echo "$line"
done
for h in a b c; do
  # shellcheck disable=SC2086
  M[$h]="$(median ${R[$h,1]}) $(median ${R[$h,4]}) $(median ${R[$h,c]})"
  echo "median ($h): 1 stream $(echo ${M[$h]} | cut -d' ' -f1) Gbit/s, 4 streams $(echo ${M[$h]} | cut -d' ' -f2) Gbit/s, $(echo ${M[$h]} | cut -d' ' -f3) connects/s"
done
ratio() { jq -rn --argjson x "$1" --argjson y "$2" 'if $y > 0 then ($x/$y*1000|round/1000) else "n/a" end'; }
read -r a1 a4 ac <<<"${M[a]}"; read -r b1 b4 bc <<<"${M[b]}"; read -r c1 c4 cc <<<"${M[c]}"
echo "== ratios of medians (goals: (b)/(a) >= 0.9 throughput, >= 0.7 connects; (c)/(b) >= 0.8)"
echo "(b)/(a): 1 stream $(ratio "$b1" "$a1")x, 4 streams $(ratio "$b4" "$a4")x, connects/s $(ratio "$bc" "$ac")x"
echo "(c)/(b): 1 stream $(ratio "$c1" "$b1")x, 4 streams $(ratio "$c4" "$b4")x, connects/s $(ratio "$cc" "$bc")x"

if [ -n "${PERF:-}" ]; then
  mkdir -p "$PERF"
  use b
  perf record -g -o "$PERF/stream.data" -p "$hubb" -- sleep "$T" >/dev/null 2>&1 & p=$!
  iperf 1 >/dev/null; wait $p || true
  perf record -g -o "$PERF/connect.data" -p "$hubb" -- sleep "$T" >/dev/null 2>&1 & p=$!
  connects >/dev/null; wait $p || true
  echo "perf profiles of hub (b) in $PERF (perf report -i ... --no-children)"
fi

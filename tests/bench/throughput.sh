#!/usr/bin/env bash
# Throughput and connection-rate benchmark (root; not a test). One run
# measures, on the same three-namespace topology (client - appliance -
# server, veth), kernel forwarding in the appliance namespace and then the
# interdict appliance on a TUN (pass handler), and prints the ratios.
#   iperf3 single stream and 4 streams (Gbit/s, receiver side)
#   connects/s: connloop, 32 parallel connect+1 byte+close loops
# Everything stays inside namespaces this script creates and removes.
# Usage: sudo tests/bench/throughput.sh [seconds per iperf3 run, default 5]
set -euo pipefail
cd "$(dirname "$0")/../.."
T=${1:-5}
for tool in ip iperf3 jq go; do command -v $tool >/dev/null || { echo "needs $tool" >&2; exit 1; }; done
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }

id=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
C=bc-$id A=ba-$id S=bs-$id
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  for ns in $C $A $S; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/interdict" ./appliance/cmd/interdict
go build -o "$work/connloop" ./tests/bench/connloop

for ns in $C $A $S; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip -n "$A" link add a0 type veth peer name c0 netns "$C"
ip -n "$A" link add a1 type veth peer name s0 netns "$S"
ip -n "$C" addr add 10.77.1.2/24 dev c0; ip -n "$C" link set c0 up; ip -n "$C" route add default via 10.77.1.1
ip -n "$S" addr add 10.77.2.2/24 dev s0; ip -n "$S" link set s0 up; ip -n "$S" route add default via 10.77.2.1
ip -n "$A" addr add 10.77.1.1/24 dev a0; ip -n "$A" addr add 10.77.2.1/24 dev a1
ip -n "$A" link set a0 up; ip -n "$A" link set a1 up
ip netns exec "$A" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.a1.rp_filter=0

ip netns exec "$S" iperf3 -s -B 10.77.2.2 >/dev/null 2>&1 & pids+=($!)
ip netns exec "$S" "$work/connloop" -listen 10.77.2.2:9000 & pids+=($!)
sleep 0.5

iperf() { # streams -> Gbit/s
  ip netns exec "$C" iperf3 -c 10.77.2.2 -t "$T" -P "$1" -J | jq '.end.sum_received.bits_per_second / 1e9'
}
connects() { ip netns exec "$C" "$work/connloop" -addr 10.77.2.2:9000 -parallel 32 -duration "${T}s" | cut -d' ' -f1; }

echo "== kernel forwarding ($T s per run; shared 2-core machine)"
k1=$(iperf 1); k4=$(iperf 4); kc=$(connects)
echo "kernel: 1 stream $k1 Gbit/s, 4 streams $k4 Gbit/s, $kc connects/s"

cat > "$work/cfg.yaml" <<CFG
link: {mode: tun, tun: {name: bench0, queues: 2}}
upstream: {mode: host, host: {mark: 0x1d1c}}
handler: {mode: pass}
metrics: {listen: 127.0.0.1:9108}
log: {level: warn}
CFG
ip netns exec "$A" "$work/interdict" run --config "$work/cfg.yaml" & pids+=($!)
for _ in $(seq 50); do ip -n "$A" link show bench0 >/dev/null 2>&1 && break; sleep 0.1; done
ip -n "$A" rule add pref 100 fwmark 0x1d1c lookup main
ip -n "$A" rule add pref 200 to 10.77.2.0/24 lookup 100
ip -n "$A" route add default dev bench0 table 100

echo "== interdict (TUN, pass handler)"
i1=$(iperf 1); i4=$(iperf 4); ic=$(connects)
echo "interdict: 1 stream $i1 Gbit/s, 4 streams $i4 Gbit/s, $ic connects/s"

echo "== ratios (goal: 1 stream >= 0.45, 4 streams >= 0.25, connects >= 0.5)"
jq -rn --argjson k1 "$k1" --argjson k4 "$k4" --argjson kc "$kc" --argjson i1 "$i1" --argjson i4 "$i4" --argjson ic "$ic" \
  '"1 stream \($i1/$k1*1000|round/1000)x, 4 streams \($i4/$k4*1000|round/1000)x, connects/s \(if $kc > 0 then ($ic/$kc*1000|round/1000) else "n/a" end)x"'

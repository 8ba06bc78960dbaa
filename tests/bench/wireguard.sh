#!/usr/bin/env bash
# WireGuard hub benchmark (root; not a test, not in CI). One topology
# (client - hub - server namespaces, veth); the client is Debian's
# wireguard-go, and in interleaved rounds it is pointed at three hubs in
# the hub namespace:
#   (a) plain: Debian's wireguard-go on a TUN, the kernel forwards
#   (b) interdict, pass handler (the WireGuard bridge and netstack only)
#   (c) interdict, the default pack plus every loadable ET Open rule
# and measures iperf3 with 1 and 4 streams (Gbit/s, receiver side) and
# connects/s (connloop, 32 parallel connect+1 byte+close loops), with
# the CPU time per connection of each process on the path (connloop
# client and server, the client's wireguard-go, the hub). It prints every
# round, the medians and the ratios (b)/(a) and (c)/(b).
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
#   ALT=path            also run hub (b2): this other interdict build with
#                       the pass handler, interleaved like the others,
#                       and print (b2)/(b): an A/B of two builds
#   HUBS="a b c"        the hubs to run (and b2 when ALT is set)
#   ONLY=connects       skip the iperf3 runs
#   LATENCY=1           also print each connects run's connect and exchange
#                       latency percentiles
#   PERF=dir            also record `perf record -g` of hub (b) during one
#                       extra single-stream and one connects run, into
#                       dir/stream.data and dir/connect.data, and of hub
#                       (a) during one connects run, into dir/connect-a.data
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
for k in client a b c ${ALT:+b2}; do "$ID" keygen > "$work/$k.key"; "$ID" pubkey < "$work/$k.key" > "$work/$k.pub"; done
CPUB=$(cat "$work/client.pub")

# (a) the plain hub: wireguard-go on a TUN, the kernel forwards.
WG_PROCESS_FOREGROUND=1 ip netns exec "$A" wireguard-go wga >/dev/null 2>&1 & pids+=($!)
for _ in $(seq 50); do ip -n "$A" link show wga >/dev/null 2>&1 && break; sleep 0.1; done
# With WG_PROCESS_FOREGROUND the pid started is wireguard-go's own.
wgapid=${pids[-1]}
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
declare -A HUBPID=([b]=${pids[-1]})
hubb=${pids[-1]}
if [ -n "${ALT:-}" ]; then
  cp "$ALT" "$work/interdict-alt"
  ID=$work/interdict-alt hub b2 51824 9110 "handler: {mode: pass}"
  HUBPID[b2]=${pids[-1]}
  ID=$work/interdict
fi
HUBS=${HUBS:-a b c}
[ -z "${ALT:-}" ] || HUBS+=" b2"
ms="9108 ${ALT:+9110}"
if [[ " $HUBS " == *" c "* ]]; then
  rules=""
  if [ -d "$ETOPEN" ]; then
    files=$(ls "$ETOPEN"/*.rules | sed 's/.*/"&"/' | paste -sd, -)
    rules="rules: {files: [$files], classification: \"$ETOPEN/classification.config\"}"
    echo "(c) loads the default pack and $(ls "$ETOPEN"/*.rules | wc -l) ET Open files from $ETOPEN"
  else
    echo "(c) loads the default pack only: no ET Open at $ETOPEN"
  fi
  hub c 51823 9109 "$rules"
  HUBPID[c]=${pids[-1]}
  ms+=" 9109"
fi
for m in $ms; do
  for _ in $(seq 600); do ip netns exec "$A" curl -sf -o /dev/null "http://127.0.0.1:$m/metrics" && break; sleep 0.1; done
done
grep -hs "rules compiled" "$work/c.log" || true

# The client: one wireguard-go interface, re-pointed at a hub per run.
WG_PROCESS_FOREGROUND=1 ip netns exec "$C" wireguard-go wgc >/dev/null 2>&1 & pids+=($!)
for _ in $(seq 50); do ip -n "$C" link show wgc >/dev/null 2>&1 && break; sleep 0.1; done
wgcpid=${pids[-1]}
ip netns exec "$C" wg set wgc private-key "$work/client.key"
ip -n "$C" addr add 100.96.0.2/32 dev wgc; ip -n "$C" link set wgc mtu 1420 up
ip -n "$C" route add 10.77.2.0/24 dev wgc
declare -A PORT=([a]=51821 [b]=51822 [c]=51823 [b2]=51824)
HUBPID[a]=$wgapid
use() { # hub
  local h
  for h in a b c b2; do
    [ -f "$work/$h.pub" ] || continue
    ip netns exec "$C" wg set wgc peer "$(cat "$work/$h.pub")" remove
  done
  ip netns exec "$C" wg set wgc peer "$(cat "$work/$1.pub")" endpoint "10.77.1.1:${PORT[$1]}" allowed-ips 10.77.2.0/24
  # Handshake before measuring.
  for _ in $(seq 50); do ip netns exec "$C" ping -c1 -W1 10.77.2.2 >/dev/null 2>&1 && break; done
}

ip netns exec "$S" iperf3 -s -B 10.77.2.2 >/dev/null 2>&1 & pids+=($!)
ip netns exec "$S" "$work/connloop" -listen 10.77.2.2:9000 & pids+=($!)
srv=${pids[-1]}
sleep 0.5

iperf() { ip netns exec "$C" iperf3 -c 10.77.2.2 -t "$T" -P "$1" -J | jq '.end.sum_received.bits_per_second / 1e9'; }
[ "${ONLY:-}" != connects ] || iperf() { echo 0; }
cputicks() { awk '{print $14+$15}' "/proc/$1/stat"; } # a process's CPU time, in clock ticks
connects() { # hub -> connects/s; the CPU us per connection of client, client wireguard-go, server, hub to $work/cpu.out
  local h0 w0 s0
  h0=$(cputicks "${HUBPID[$1]}"); w0=$(cputicks "$wgcpid"); s0=$(cputicks "$srv")
  ip netns exec "$C" "$work/connloop" -addr 10.77.2.2:9000 -parallel 32 -duration "${T}s" ${LATENCY:+-latency} > "$work/conn.out"
  if [ -n "${LATENCY:-}" ]; then echo "  ($1) $(sed -n 2p "$work/conn.out")" >&2; fi
  read -r rate _ client < <(head -1 "$work/conn.out")
  awk -v n="$rate" -v t="$T" -v hz="$(getconf CLK_TCK)" -v cl="$client" \
    -v w=$(( $(cputicks "$wgcpid") - w0 )) -v s=$(( $(cputicks "$srv") - s0 )) -v h=$(( $(cputicks "${HUBPID[$1]}") - h0 )) \
    'BEGIN { c = n * t; if (c == 0) c = 1; printf "%.0f %.0f %.0f %.0f\n", cl, w/hz*1e6/c, s/hz*1e6/c, h/hz*1e6/c }' > "$work/cpu.out"
  echo "$rate"
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "== $ROUNDS rounds, $T s per run: (a) wireguard-go + kernel, (b) interdict pass, (c) interdict pack+ET Open${ALT:+, (b2) $ALT pass}"
echo "   CPU us/conn: connloop client + client's wireguard-go + connloop server + hub"
declare -A R M
for r in $(seq "$ROUNDS"); do
  echo "round $r (load $(cut -d' ' -f1-3 /proc/loadavg)):"
  for h in $HUBS; do
    use "$h"
    s1=$(iperf 1); s4=$(iperf 4); cs=$(connects "$h"); read -r ucl uwg usv uhub < "$work/cpu.out"
    R[$h,1]+="$s1 " R[$h,4]+="$s4 " R[$h,c]+="$cs " R[$h,u]+="$uhub "
    printf '  (%s) %.2f / %.2f Gbit/s, %s conn/s, CPU us/conn %s + %s + %s + hub %s\n' "$h" "$s1" "$s4" "$cs" "$ucl" "$uwg" "$usv" "$uhub"
  done
done
for h in a b c b2; do
  [[ " $HUBS " == *" $h "* ]] || { M[$h]="0 0 0 0"; continue; }
  # shellcheck disable=SC2086
  M[$h]="$(median ${R[$h,1]}) $(median ${R[$h,4]}) $(median ${R[$h,c]}) $(median ${R[$h,u]})"
  read -r m1 m4 mc mu <<<"${M[$h]}"
  echo "median ($h): 1 stream $m1 Gbit/s, 4 streams $m4 Gbit/s, $mc connects/s, hub CPU $mu us/conn"
done
# A ratio, or n/a where a side was not measured (ONLY, HUBS).
ratio() { jq -rn --argjson x "$1" --argjson y "$2" 'if $x > 0 and $y > 0 then "\($x/$y*1000|round/1000)x" else "n/a" end'; }
read -r a1 a4 ac _ <<<"${M[a]}"; read -r b1 b4 bc bu <<<"${M[b]}"; read -r c1 c4 cc _ <<<"${M[c]}"
echo "== ratios of medians (goals: (b)/(a) >= 0.9 throughput, >= 0.7 connects; (c)/(b) >= 0.8)"
echo "(b)/(a): 1 stream $(ratio "$b1" "$a1"), 4 streams $(ratio "$b4" "$a4"), connects/s $(ratio "$bc" "$ac")"
echo "(c)/(b): 1 stream $(ratio "$c1" "$b1"), 4 streams $(ratio "$c4" "$b4"), connects/s $(ratio "$cc" "$bc")"
if [ -n "${ALT:-}" ]; then
  read -r d1 d4 dc du <<<"${M[b2]}"
  echo "(b2)/(b): 1 stream $(ratio "$d1" "$b1"), 4 streams $(ratio "$d4" "$b4"), connects/s $(ratio "$dc" "$bc"), hub CPU per connection $(ratio "$du" "$bu")"
fi

if [ -n "${PERF:-}" ]; then
  mkdir -p "$PERF"
  use b
  perf record -g -o "$PERF/stream.data" -p "$hubb" -- sleep "$T" >/dev/null 2>&1 & p=$!
  iperf 1 >/dev/null; wait $p || true
  perf record -g -o "$PERF/connect.data" -p "$hubb" -- sleep "$T" >/dev/null 2>&1 & p=$!
  connects b >/dev/null; wait $p || true
  use a
  perf record -g -o "$PERF/connect-a.data" -p "$wgapid" -- sleep "$T" >/dev/null 2>&1 & p=$!
  connects a >/dev/null; wait $p || true
  echo "perf profiles of hub (b) in $PERF (perf report -i ... --no-children), and of hub (a) during connects in $PERF/connect-a.data"
fi

#!/usr/bin/env bash
# Throughput and connection-rate benchmark (root; not a test, not in CI).
# On one three-namespace topology (client - appliance - server, veth) it
# measures, in ROUNDS interleaved rounds, kernel forwarding in the
# appliance namespace and the interdict appliance on a TUN (pass
# handler), and prints every round and the medians and their ratios.
# Interleaving matters on a shared machine: load from elsewhere then hits
# both sides of a ratio alike.
#   iperf3 single stream and 4 streams (Gbit/s, receiver side)
#   connects/s: connloop, 32 parallel connect+1 byte+close loops, and
#                the CPU time per connection of client, server and
#                appliance
# Everything stays inside namespaces this script creates and removes.
#
# Usage: sudo tests/bench/throughput.sh [seconds per run, default 5]
# Environment:
#   ROUNDS=3             rounds (medians are reported; 0 with PERF)
#   PERF=dir             also record `perf record -g` of the appliance
#                        during one extra single-stream and one connloop
#                        run, into dir/stream.data and dir/connect.data
#                        (read with `perf report -i ... --no-children`)
#   INTERDICT_BIN=path   use this binary instead of building one
#   ONLY=connects        measure only the connection rate (iperf3 skipped)
#   LATENCY=1            also print connloop's connect and exchange
#                        latency percentiles for every connects run
#   PARALLEL="8 32 128"  connloop concurrencies to measure (default 32);
#                        the medians and ratios are of the first one
#   BUSY=1               also print how busy the whole machine was during
#                        every connects run (/proc/stat: all processes,
#                        including softirq and ksoftirqd, of all cores),
#                        which tells a CPU-bound rate from a latency-bound
#                        one
# Needs ip, iperf3, jq, go (Debian: apt-get install -y iperf3 jq), and perf
# for PERF.
set -euo pipefail
cd "$(dirname "$0")/../.."
T=${1:-5}
ROUNDS=${ROUNDS:-3}
for tool in ip iperf3 jq go; do command -v $tool >/dev/null || { echo "needs $tool" >&2; exit 1; }; done
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }

. tests/bench/topology.sh

ip netns exec "$S" iperf3 -s -B 10.77.2.2 >/dev/null 2>&1 & pids+=($!)
ip netns exec "$S" "$work/connloop" -listen 10.77.2.2:9000 & srv=$!; pids+=($srv)

start_interdict "$work/cfg.yaml"
sleep 0.5

iperf() { # streams -> Gbit/s
  ip netns exec "$C" iperf3 -c 10.77.2.2 -t "$T" -P "$1" -J | jq '.end.sum_received.bits_per_second / 1e9'
}
ONLY=${ONLY:-}
[ -z "$ONLY" ] || [ "$ONLY" = connects ] || { echo "ONLY=$ONLY: want connects" >&2; exit 1; }
if [ "$ONLY" = connects ]; then iperf() { echo 0; }; fi
cputicks() { awk '{print $14+$15}' "/proc/$1/stat"; } # a process's CPU time, in clock ticks
# The machine's CPU time so far, in ticks: busy (user, nice, system, irq,
# softirq, steal) and all (busy plus idle and iowait), summed over cores.
machine() { awk '/^cpu /{b=$2+$3+$4+$7+$8+$9; print b, b+$5+$6, $8}' /proc/stat; }
PARALLEL=${PARALLEL:-32}
connects() { # label [parallel] -> connects/s; LATENCY and BUSY print to stderr
  local a0 s0 m0 p=${2:-32}; a0=$(cputicks "$app"); s0=$(cputicks "$srv"); m0=$(machine)
  ip netns exec "$C" "$work/connloop" -addr 10.77.2.2:9000 -parallel "$p" -duration "${T}s" ${LATENCY:+-latency} > "$work/conn.out"
  echo "$(( $(cputicks "$app") - a0 )) $(( $(cputicks "$srv") - s0 ))" > "$work/cpu.out"
  if [ -n "${BUSY:-}" ]; then
    echo "$m0 $(machine) $(nproc)" | awk -v l="$1" -v p="$p" -v r="$(head -1 "$work/conn.out" | cut -d' ' -f1)" \
      '{printf "  %s -parallel %d: %s conn/s, machine busy %.0f%% of %d cores (softirq %.0f%%)\n", l, p, r, 100*($4-$1)/($5-$2), $7, 100*($6-$3)/($5-$2)}' >&2
  fi
  if [ -n "${LATENCY:-}" ]; then echo "  $1 -parallel $p: $(sed -n 2p "$work/conn.out")" >&2; fi
  head -1 "$work/conn.out" | cut -d' ' -f1
}
# connects at every PARALLEL value; prints the rate of the first, and the
# cpu.out of the first is the one cpu_per_conn reads.
connects_all() { # label -> connects/s at the first PARALLEL value
  local first="" c p
  for p in $PARALLEL; do
    c=$(connects "$1" "$p")
    if [ -z "$first" ]; then first=$c; cp "$work/conn.out" "$work/conn.first"; cp "$work/cpu.out" "$work/cpu.first"; fi
  done
  cp "$work/conn.first" "$work/conn.out"; cp "$work/cpu.first" "$work/cpu.out"
  echo "$first"
}
# CPU per connection of the last connects run, in us: the client (its
# own figure), the server and the appliance (from /proc). On a shared
# machine the rate moves with everyone's load, these much less, and they
# say where a connection's cost goes.
cpu_per_conn() { # connects/s -> "client server appliance"
  awk -v cl="$(head -1 "$work/conn.out" | cut -d' ' -f3)" -v hz="$(getconf CLK_TCK)" -v n="$1" -v t="$T" \
    '{ if (n > 0) printf "%.0f %.0f %.0f\n", cl, $2/hz*1e6/(n*t), $1/hz*1e6/(n*t); else print "0 0 0" }' "$work/cpu.out"
}

echo "== $ROUNDS rounds, $T s per run (kernel forwarding, then interdict on TUN with the pass handler)"
K1=() K4=() KC=() I1=() I4=() IC=() KU=() IU=() AU=()
for r in $(seq "$ROUNDS"); do
  via_kernel; sleep 1
  k1=$(iperf 1); k4=$(iperf 4); kc=$(connects_all kernel); read -r kcl ksv _ < <(cpu_per_conn "$kc")
  via_interdict; sleep 1
  i1=$(iperf 1); i4=$(iperf 4); ic=$(connects_all interdict); read -r icl isv iap < <(cpu_per_conn "$ic")
  printf 'round %d: kernel %.2f / %.2f Gbit/s, %s conn/s | interdict %.2f / %.2f Gbit/s, %s conn/s\n' \
    "$r" "$k1" "$k4" "$kc" "$i1" "$i4" "$ic"
  # Cores the three processes used: when both paths use the same, the
  # same CPU share limits both and the rate is CPU-bound; a path that
  # uses clearly fewer waits on something else (latency, a lock).
  printf '  CPU us/conn: kernel path client %s + server %s | interdict path client %s + server %s + appliance %s\n' \
    "$kcl" "$ksv" "$icl" "$isv" "$iap"
  awk -v kc="$kc" -v ku=$((kcl + ksv)) -v ic="$ic" -v iu=$((icl + isv + iap)) \
    'BEGIN { printf "  cores used: kernel path %.2f, interdict path %.2f\n", kc*ku/1e6, ic*iu/1e6 }'
  K1+=("$k1") K4+=("$k4") KC+=("$kc") I1+=("$i1") I4+=("$i4") IC+=("$ic")
  KU+=($((kcl + ksv))) IU+=($((icl + isv + iap))) AU+=("$iap")
done
if [ "$ROUNDS" -gt 0 ]; then
k1=$(median "${K1[@]}") k4=$(median "${K4[@]}") kc=$(median "${KC[@]}")
i1=$(median "${I1[@]}") i4=$(median "${I4[@]}") ic=$(median "${IC[@]}")
echo "median kernel:    1 stream $k1 Gbit/s, 4 streams $k4 Gbit/s, $kc connects/s"
echo "median interdict: 1 stream $i1 Gbit/s, 4 streams $i4 Gbit/s, $ic connects/s"
# With the machine saturated, connects/s is about the CPU the test gets
# divided by what one connection costs all of its processes.
echo "median CPU per connection: kernel path $(median "${KU[@]}") us, interdict path $(median "${IU[@]}") us (appliance $(median "${AU[@]}") us)"
echo "== ratios of medians (goal, issue 13: 1 stream >= 0.5, 4 streams >= 0.45, connects >= 0.5)"
jq -rn --argjson k1 "$k1" --argjson k4 "$k4" --argjson kc "$kc" --argjson i1 "$i1" --argjson i4 "$i4" --argjson ic "$ic" \
  'def r(a; b): if b > 0 then (a/b*1000|round/1000) else "n/a" end;
   "1 stream \(r($i1; $k1))x, 4 streams \(r($i4; $k4))x, connects/s \(r($ic; $kc))x"'
fi

if [ -n "${PERF:-}" ]; then
  mkdir -p "$PERF"
  via_interdict; sleep 1
  if [ -z "$ONLY" ]; then
    perf record -g -o "$PERF/stream.data" -p "$app" -- sleep "$T" >/dev/null 2>&1 & p=$!
    iperf 1 >/dev/null; wait $p || true
  fi
  perf record -g -o "$PERF/connect.data" -p "$app" -- sleep "$T" >/dev/null 2>&1 & p=$!
  connects perf >/dev/null; wait $p || true
  echo "perf profiles in $PERF"
fi

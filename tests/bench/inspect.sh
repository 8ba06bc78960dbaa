#!/usr/bin/env bash
# Inspection cost benchmark (root; not a test, not in CI). One binary, one
# three-namespace topology (client - appliance - server, veth), two
# appliances side by side in the appliance namespace, each on its own TUN,
# both with the detect handler in ips mode:
#   norules  only the bench's reject rule (rules/bench.rules below), which
#            matches nothing but the reset probe: every flow still goes
#            through detect (reassembly, protocol detection, the HTTP
#            parser, the engine), so the only difference is the rule set.
#            Zero rules is not a valid detect config (rules: "no rules").
#   rules    the embedded default pack + every loadable ET Open rule
#            (rules.files = $ETOPEN/*.rules, allow_partial, ET's
#            classification.config) + the same bench rule.
# A policy-routing rule decides which appliance a run goes through; rounds
# interleave the two (and alternate which goes first), so load from other
# processes on a shared machine hits both sides of each ratio alike.
# Per configuration and round:
#   iperf3 1 stream and 4 streams (raw TCP bytes: the stream rules apply)
#   wrk with a browser-like request mix (httpmix/mix.lua) on keep-alive
#     connections against httpmix, a Go origin serving varied responses;
#     both directions are inspected
#   reset latency: resetlat probe, N requests matching the reject rule,
#     time from the completing write to ECONNRESET; and the appliance's
#     interdict_enforce_match_verdict_seconds over the same probes
# Then: medians, ratios rules/norules (goal >= 0.7), rule load time
# (the "rules compiled ... took=" log line), resident memory of each
# appliance, alerts the rules raised on the benign traffic.
# Everything stays inside namespaces this script creates and removes.
#
# Usage: sudo tests/bench/inspect.sh [seconds per run, default 5]
# Environment:
#   ROUNDS=3                  rounds (medians are reported)
#   PROBES=500                reset probes per configuration and round
#   WRK="-t2 -c16"            wrk threads and connections
#   ETOPEN=dir                ET Open rules (default ../shared/corpus/et-open beside the repository)
#   HOME_NET, EXTERNAL_NET, HTTP_SERVERS
#                             rule variables (defaults: client subnet, any,
#                             server subnet: every directional ET rule sees
#                             the traffic, the worst case for cost)
#   PASS=1                    also a third appliance with the pass handler,
#                             as a reference (not part of the ratios)
#   PERF=dir                  after the rounds, `perf record -g` the rules
#                             appliance during one iperf3 1-stream run and
#                             one wrk run (dir/iperf.data, dir/wrk.data)
#   INTERDICT_BIN=path        use this binary instead of building one
# Needs ip, iperf3, wrk, jq, curl, go (Debian: apt-get install -y iperf3 wrk
# jq curl), and perf for PERF.
set -euo pipefail
cd "$(dirname "$0")/../.."
T=${1:-5}
ROUNDS=${ROUNDS:-3}
PROBES=${PROBES:-500}
WRK=${WRK:--t2 -c16}
ETOPEN=${ETOPEN:-$(cd "$(dirname "$0")/../.." && pwd)/../shared/corpus/et-open}
HOME_NET=${HOME_NET:-[10.78.1.0/24]}
EXTERNAL_NET=${EXTERNAL_NET:-any}
HTTP_SERVERS=${HTTP_SERVERS:-[10.78.2.0/24]}
for tool in ip iperf3 wrk jq curl go; do command -v $tool >/dev/null || { echo "needs $tool" >&2; exit 1; }; done
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }
compgen -G "$ETOPEN/*.rules" >/dev/null || { echo "no rules in $ETOPEN" >&2; exit 1; }

id=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
C=ic-$id A=ia-$id S=is-$id
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  for ns in $C $A $S; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

if [ -n "${INTERDICT_BIN:-}" ]; then cp "$INTERDICT_BIN" "$work/interdict"; else go build -o "$work/interdict" ./appliance/cmd/interdict; fi
for t in httpmix resetlat; do go build -o "$work/$t" ./tests/bench/$t; done

for ns in $C $A $S; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip -n "$A" link add a0 type veth peer name c0 netns "$C"
ip -n "$A" link add a1 type veth peer name s0 netns "$S"
ip -n "$C" addr add 10.78.1.2/24 dev c0; ip -n "$C" link set c0 up; ip -n "$C" route add default via 10.78.1.1
ip -n "$S" addr add 10.78.2.2/24 dev s0; ip -n "$S" link set s0 up; ip -n "$S" route add default via 10.78.2.1
ip -n "$A" addr add 10.78.1.1/24 dev a0; ip -n "$A" addr add 10.78.2.1/24 dev a1
ip -n "$A" link set a0 up; ip -n "$A" link set a1 up
ip netns exec "$A" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.a1.rp_filter=0
ip -n "$A" rule add pref 100 fwmark 0x1d1c lookup main

ip netns exec "$S" iperf3 -s -B 10.78.2.2 >/dev/null 2>&1 & pids+=($!)
ip netns exec "$S" "$work/httpmix" -listen 10.78.2.2:80 & pids+=($!)

# The reset probe's rule: an HTTP rule, so that the norules appliance runs
# the HTTP parser on every flow just as the rules one does.
cat > "$work/bench.rules" <<'RULES'
reject http any any -> any any (msg:"interdict bench reset probe"; flow:established,to_server; http.uri; content:"/interdict-bench-reset"; sid:9990001; rev:1;)
RULES

vars="{HOME_NET: \"$HOME_NET\", EXTERNAL_NET: \"$EXTERNAL_NET\", HTTP_SERVERS: \"$HTTP_SERVERS\"}"
etfiles=$(printf '"%s", ' "$ETOPEN"/*.rules)
CONFIGS=(norules rules)
[ -n "${PASS:-}" ] && CONFIGS+=(pass)
declare -A APP TABLE PORT
n=0
for cfg in "${CONFIGS[@]}"; do
  case $cfg in
    norules) handler="{mode: detect}"; rules="{default_pack: false, files: [\"$work/bench.rules\"], allow_partial: true, vars: $vars}" ;;
    # ET Open's classification.config: the pack's knows fewer classtypes
    # and would reject ~11000 ET rules for an unknown classtype.
    rules) handler="{mode: detect}"; rules="{default_pack: true, files: [\"$work/bench.rules\", ${etfiles%, }], classification: \"$ETOPEN/classification.config\", allow_partial: true, vars: $vars}" ;;
    pass) handler="{mode: pass}"; rules="{default_pack: true}" ;;
  esac
  TABLE[$cfg]=$((100 + n)) PORT[$cfg]=$((9108 + n))
  cat > "$work/$cfg.yaml" <<CFG
link: {mode: tun, tun: {name: ins$n, queues: 2}}
upstream: {mode: host, host: {mark: 0x1d1c}}
mode: ips
handler: $handler
rules: $rules
eve: {path: $work/eve-$cfg.json}
admin: {socket: ""}
metrics: {listen: 127.0.0.1:${PORT[$cfg]}}
log: {level: info}
CFG
  start=$(date +%s.%N)
  ip netns exec "$A" "$work/interdict" run --config "$work/$cfg.yaml" 2>"$work/log-$cfg" & APP[$cfg]=$!; pids+=($!)
  for _ in $(seq 600); do
    ip netns exec "$A" curl -sf "http://127.0.0.1:${PORT[$cfg]}/metrics" >/dev/null 2>&1 && ip -n "$A" link show "ins$n" >/dev/null 2>&1 && break
    kill -0 "${APP[$cfg]}" 2>/dev/null || { echo "appliance $cfg died:" >&2; cat "$work/log-$cfg" >&2; exit 1; }
    sleep 0.1
  done
  ready=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {print b - a}')
  printf '%s: up after %.1f s, rss %d MiB after start\n' "$cfg" "$ready" $(($(awk '/VmRSS/ {print $2}' /proc/${APP[$cfg]}/status) / 1024))
  ip -n "$A" route add default dev "ins$n" table "${TABLE[$cfg]}"
  n=$((n + 1))
done
# The pref 200 rule decides which appliance a run goes through.
via() { ip -n "$A" rule del pref 200 2>/dev/null || true; ip -n "$A" rule add pref 200 to 10.78.2.0/24 lookup "${TABLE[$1]}"; ip -n "$A" route flush cache 2>/dev/null || true; }
scrape() { ip netns exec "$A" curl -sf "http://127.0.0.1:${PORT[$1]}/metrics"; }
metric() { scrape "$1" | awk -v m="$2" '$1 ~ "^"m {s += $2} END {printf "%d", s}'; }
iperf() { ip netns exec "$C" iperf3 -c 10.78.2.2 -t "$T" -P "$1" -J | jq '.end.sum_received.bits_per_second / 1e9'; }
wrkmix() { ip netns exec "$C" wrk $WRK -d "${T}s" -s tests/bench/httpmix/mix.lua http://10.78.2.2/ | awk '/^WRKMIX/ {print $2, $3, $4, $5, $6, $7}'; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
declare -A R1 R4 RQ RB
for cfg in "${CONFIGS[@]}"; do R1[$cfg]="" R4[$cfg]="" RQ[$cfg]="" RB[$cfg]=""; done

echo "== binary ${INTERDICT_BIN:-built from $(git describe --always --dirty 2>/dev/null || echo "an unknown revision")}"
echo "== $ROUNDS rounds, $T s per run, $PROBES reset probes; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
for r in $(seq "$ROUNDS"); do
  order=("${CONFIGS[@]}")
  [ $((r % 2)) = 0 ] && order=($(printf '%s\n' "${CONFIGS[@]}" | tac))
  for cfg in "${order[@]}"; do
    via "$cfg"; sleep 1
    i1=$(iperf 1); i4=$(iperf 4)
    read -r rps bps p50 p99 non2xx errs < <(wrkmix)
    scrape "$cfg" > "$work/scrape-$cfg-$r-a"
    probes=$(ip netns exec "$C" "$work/resetlat" probe -addr 10.78.2.2:80 -n "$PROBES" -samples "$work/lat-$cfg")
    scrape "$cfg" > "$work/scrape-$cfg-$r-b"
    printf 'round %d %-7s: iperf3 %.2f / %.2f Gbit/s; wrk %.0f req/s %.0f MB/s (p50 %d us, p99 %d us, %d non-2xx/3xx, %d socket errors); %s\n' \
      "$r" "$cfg" "$i1" "$i4" "$rps" "$(awk -v b="$bps" 'BEGIN {print b / 1e6}')" "$p50" "$p99" "$non2xx" "$errs" "$(echo "$probes" | tr '\n' ' ')"
    R1[$cfg]+=" $i1" R4[$cfg]+=" $i4" RQ[$cfg]+=" $rps" RB[$cfg]+=" $bps"
  done
done

echo "== medians (load average $(cut -d' ' -f1-3 /proc/loadavg) at the end of the rounds)"
declare -A M1 M4 MQ MB
for cfg in "${CONFIGS[@]}"; do
  M1[$cfg]=$(median ${R1[$cfg]}) M4[$cfg]=$(median ${R4[$cfg]}) MQ[$cfg]=$(median ${RQ[$cfg]}) MB[$cfg]=$(median ${RB[$cfg]})
  printf '%-7s: iperf3 1 stream %.2f Gbit/s, 4 streams %.2f Gbit/s; wrk %.0f req/s, %.0f MB/s\n' \
    "$cfg" "${M1[$cfg]}" "${M4[$cfg]}" "${MQ[$cfg]}" "$(awk -v b="${MB[$cfg]}" 'BEGIN {print b / 1e6}')"
done
echo "== ratios rules/norules of the medians (goal >= 0.7)"
jq -rn --argjson a1 "${M1[rules]}" --argjson b1 "${M1[norules]}" --argjson a4 "${M4[rules]}" --argjson b4 "${M4[norules]}" \
  --argjson aq "${MQ[rules]}" --argjson bq "${MQ[norules]}" --argjson ab "${MB[rules]}" --argjson bb "${MB[norules]}" \
  'def r(a; b): a/b*1000|round/1000; "iperf3 1 stream \(r($a1;$b1))x, 4 streams \(r($a4;$b4))x, wrk req/s \(r($aq;$bq))x, wrk bytes/s \(r($ab;$bb))x"'

echo "== reset latency, client side (write completing the match -> ECONNRESET), all rounds pooled"
for cfg in norules rules; do
  echo "$cfg:"; "$work/resetlat" report "$work/lat-$cfg"
done
echo "== appliance's interdict_enforce_match_verdict_seconds over the probe intervals (bucket estimate)"
for cfg in norules rules; do
  printf '%-7s: ' "$cfg"; "$work/resetlat" promhist $(for r in $(seq "$ROUNDS"); do echo "$work/scrape-$cfg-$r-a $work/scrape-$cfg-$r-b"; done)
done

echo "== rules, memory, flows, alerts"
for cfg in "${CONFIGS[@]}"; do
  p=${APP[$cfg]}
  compiled=$(grep -m1 'rules compiled' "$work/log-$cfg" | grep -o 'loaded=[0-9]* rejected=[0-9]* files=[0-9]* took=[^ ]*' || echo "no rules compiled line")
  rss=$(($(awk '/VmRSS/ {print $2}' /proc/$p/status) / 1024)) hwm=$(($(awk '/VmHWM/ {print $2}' /proc/$p/status) / 1024))
  flows=$(metric "$cfg" 'interdict_enforce_flows_total')
  alerts=$(grep -c '"event_type":"alert"' "$work/eve-$cfg.json" 2>/dev/null || true)
  printf '%-7s: %s; rss now %d MiB, peak %d MiB; %s flows inspected; %s alerts\n' "$cfg" "$compiled" "$rss" "$hwm" "$flows" "${alerts:-0}"
  if [ "${alerts:-0}" -gt 0 ]; then
    jq -r 'select(.event_type == "alert" and .alert.signature_id != 9990001) | "\(.alert.signature_id) \(.alert.signature)"' "$work/eve-$cfg.json" |
      sort | uniq -c | sort -rn | head -5 | sed 's/^/    other alerts: /'
  fi
done

if [ -n "${PERF:-}" ]; then
  command -v perf >/dev/null || { echo "PERF needs perf" >&2; exit 1; }
  mkdir -p "$PERF"
  via rules; sleep 1
  perf record -g -o "$PERF/iperf.data" -p "${APP[rules]}" -- sleep "$T" >/dev/null 2>&1 & p=$!
  iperf 1 >/dev/null; wait $p || true
  perf record -g -o "$PERF/wrk.data" -p "${APP[rules]}" -- sleep "$T" >/dev/null 2>&1 & p=$!
  wrkmix >/dev/null; wait $p || true
  echo "perf profiles in $PERF (perf report -i $PERF/iperf.data --no-children)"
fi

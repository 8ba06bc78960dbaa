# Sourced by the benchmarks in tests/bench (bash; root): the three-namespace
# topology client - appliance - server on veth pairs, the interdict binary
# and connloop built into $work, and a trap that removes everything.
#   C, A, S       namespace names (random suffix)
#   work          temp dir: interdict, connloop, cfg.yaml (pass handler)
#   pids          background processes the trap kills
#   start_interdict cfg [binary]  runs the appliance ($work/interdict by
#                         default) in $A on TUN bench0 and sets the app
#                         variable to its pid; stop_interdict ends it
#   via_interdict / via_kernel   route the server subnet into the TUN or
#                                let the kernel forward it
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

if [ -n "${INTERDICT_BIN:-}" ]; then cp "$INTERDICT_BIN" "$work/interdict"; else go build -o "$work/interdict" ./appliance/cmd/interdict; fi
go build -o "$work/connloop" ./tests/bench/connloop

for ns in $C $A $S; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip -n "$A" link add a0 type veth peer name c0 netns "$C"
ip -n "$A" link add a1 type veth peer name s0 netns "$S"
ip -n "$C" addr add 10.77.1.2/24 dev c0; ip -n "$C" link set c0 up; ip -n "$C" route add default via 10.77.1.1
ip -n "$S" addr add 10.77.2.2/24 dev s0; ip -n "$S" link set s0 up; ip -n "$S" route add default via 10.77.2.1
ip -n "$A" addr add 10.77.1.1/24 dev a0; ip -n "$A" addr add 10.77.2.1/24 dev a1
ip -n "$A" link set a0 up; ip -n "$A" link set a1 up
# The client closes first whenever the server's FIN is still on its way,
# and each such close holds a port in TIME_WAIT for 60 s; at thousands of
# connects a second its ports run out within a minute and every connect
# then scans the whole range, which measured the client's exhaustion
# instead of the path (both paths; the appliance's extra hop makes the
# race more frequent). A load generator reuses TIME_WAIT ports, so ours
# does too.
ip netns exec "$C" sysctl -qw net.ipv4.tcp_tw_reuse=1
ip netns exec "$A" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.a0.rp_filter=0 net.ipv4.conf.a1.rp_filter=0

# The appliance with the pass handler (no inspection) on TUN bench0. Its
# state, admin socket and EVE stay in $work: the default paths are
# machine-wide, and a second benchmark running at the same time found the
# admin socket taken and did not start.
cat > "$work/cfg.yaml" <<CFG
state_dir: $work/state
admin: {socket: ""}
eve: {path: ""}
link: {mode: tun, tun: {name: bench0, queues: 2}}
upstream: {mode: host, host: {mark: 0x1d1c}}
handler: {mode: pass}
metrics: {listen: 127.0.0.1:9108}
log: {level: warn}
CFG
start_interdict() { # cfg [binary]
  ip netns exec "$A" "${2:-$work/interdict}" run --config "$1" & app=$!; pids+=($app)
  for _ in $(seq 50); do ip -n "$A" link show bench0 >/dev/null 2>&1 && break; sleep 0.1; done
  ip -n "$A" rule del pref 100 2>/dev/null || true
  ip -n "$A" rule add pref 100 fwmark 0x1d1c lookup main
  ip -n "$A" route replace default dev bench0 table 100
}
stop_interdict() { kill "$app"; wait "$app" 2>/dev/null || true; via_kernel; }
# The pref 200 rule decides which path a round measures: without it the
# kernel forwards, with it traffic to the server enters the TUN.
via_interdict() { ip -n "$A" rule del pref 200 2>/dev/null || true; ip -n "$A" rule add pref 200 to 10.77.2.0/24 lookup 100; }
via_kernel() { ip -n "$A" rule del pref 200 2>/dev/null || true; ip -n "$A" route flush cache 2>/dev/null || true; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

#!/usr/bin/env bash
# live.sh - live-capture benchmark: replay the bench capture with tcpreplay at
# rising rates into one end of a veth pair while hellowatch captures on the
# other end, and report per rate the kernel drops and the handshakes found
# against the offline count of the same file.
#
# Usage (as root, Debian; `make bench-live` runs it):
#   bench/live.sh [FILE.pcap]
# FILE defaults to $BENCH_DIR/bench-200M.pcap (make it with `make bench-data`).
#
# Isolation: two network namespaces of its own (hwl-tx-PID, hwl-rx-PID) joined
# by one veth pair, no addresses, IPv6 off, no routes: the replayed frames
# (198.18.0.0/15, 2001:2::/48) go nowhere but the other end of the pair. No
# other interface is touched; both namespaces are deleted on exit.
#
# Environment:
#   BENCH_DIR=/var/tmp/hellowatch-bench
#   RATES="250 500 1000 2000 4000"   tcpreplay --mbps values; "top" = --topspeed
#   CAPTURER=hellowatch   or "tcpdump" (the same harness with tcpdump -w /dev/null,
#                         as a reference for what libpcap alone drops)
#   HELLOWATCH_BIN=       binary to use (default: build ./cmd/hellowatch)
#   HELLOWATCH_ARGS=      extra arguments, e.g. "-B 65536"
#   FILTER=tcp            capture filter given to the capturer
#   METRICS_PORT=9102     hellowatch --metrics-addr 127.0.0.1:PORT inside rx
#   SETTLE=2              seconds to wait after a replay before reading counters
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/var/tmp/hellowatch-bench}
RATES=${RATES:-"250 500 1000 2000 4000"}
CAPTURER=${CAPTURER:-hellowatch}
HELLOWATCH_BIN=${HELLOWATCH_BIN:-}
HELLOWATCH_ARGS=${HELLOWATCH_ARGS:-}
FILTER=${FILTER:-tcp}
METRICS_PORT=${METRICS_PORT:-9102}
SETTLE=${SETTLE:-2}
GO=${GO:-go}
file=${1:-$BENCH_DIR/bench-200M.pcap}

die() { echo "live: $*" >&2; exit 1; }
log() { echo "live: $*" >&2; }

[ "$(id -u)" = 0 ] || die "run as root (network namespaces, raw sockets)"
[ -s "$file" ] || die "no capture at $file (make bench-data)"

need=()
command -v tcpreplay >/dev/null || need+=(tcpreplay)
command -v ip >/dev/null || need+=(iproute2)
command -v ethtool >/dev/null || need+=(ethtool)
command -v curl >/dev/null || need+=(curl)
[ "$CAPTURER" = tcpdump ] && ! command -v tcpdump >/dev/null && need+=(tcpdump)
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q "${need[@]}" >/dev/null
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/hw-live.XXXXXX")
ns_tx="hwl-tx-$$"
ns_rx="hwl-rx-$$"
cap_pid=""
cleanup() {
	if [ -n "$cap_pid" ]; then
		kill -TERM "$cap_pid" 2>/dev/null || true
		wait "$cap_pid" 2>/dev/null || true
	fi
	ip netns del "$ns_tx" 2>/dev/null || true
	ip netns del "$ns_rx" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- capturer binary and the offline reference ---------------------------------
offline=-
if [ "$CAPTURER" = hellowatch ]; then
	hw=$HELLOWATCH_BIN
	if [ -z "$hw" ]; then
		log "building ./cmd/hellowatch"
		(cd "$repo" && GOTOOLCHAIN=local CGO_ENABLED=1 "$GO" build -trimpath -o "$work/hellowatch" ./cmd/hellowatch) ||
			die "cmd/hellowatch does not build"
		hw=$work/hellowatch
	fi
	# shellcheck disable=SC2086
	"$hw" -r "$file" --format json $HELLOWATCH_ARGS "$FILTER" >"$work/offline.json" 2>"$work/offline.err" ||
		{ tail -5 "$work/offline.err" >&2; die "offline run failed"; }
	offline=$(grep -c . "$work/offline.json" || true)
	log "offline: $offline handshakes in $(basename "$file")"
fi
packets=$(capinfos -c -M "$file" 2>/dev/null | awk -F': *' '/Number of packets/ { print $2 }' || true)

# --- namespaces -----------------------------------------------------------------
S_TX=(ip netns exec "$ns_tx")
S_RX=(ip netns exec "$ns_rx")
ip netns add "$ns_tx"
ip netns add "$ns_rx"
ip link add "hwt$$" netns "$ns_tx" type veth peer name "hwr$$" netns "$ns_rx"
"${S_TX[@]}" ip link set "hwt$$" name veth0
"${S_RX[@]}" ip link set "hwr$$" name veth0
for ns in S_TX S_RX; do
	declare -n run=$ns
	"${run[@]}" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	"${run[@]}" ip link set lo up
	"${run[@]}" ip link set veth0 mtu 1500
	"${run[@]}" ethtool -K veth0 tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
	"${run[@]}" ip link set veth0 up
	unset -n run
done

metric() { # metric NAME : sum of a counter's samples from /metrics
	"${S_RX[@]}" curl -fsS --max-time 2 "http://127.0.0.1:$METRICS_PORT/metrics" 2>/dev/null |
		awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $2; n++ } END { if (n) printf "%.0f", s; else print "-" }'
}

start_capture() {
	: >"$work/cap.out"
	: >"$work/cap.err"
	if [ "$CAPTURER" = hellowatch ]; then
		# shellcheck disable=SC2086
		"${S_RX[@]}" "$hw" -i veth0 --format json --metrics-addr "127.0.0.1:$METRICS_PORT" --summary always $HELLOWATCH_ARGS "$FILTER" \
			>"$work/cap.out" 2>"$work/cap.err" &
		cap_pid=$!
		local i
		for i in $(seq 100); do
			"${S_RX[@]}" curl -fsS --max-time 1 "http://127.0.0.1:$METRICS_PORT/readyz" >/dev/null 2>&1 && return 0
			kill -0 "$cap_pid" 2>/dev/null || { cat "$work/cap.err" >&2; die "hellowatch exited"; }
			sleep 0.1
		done
		log "hellowatch not ready after 10 s (no /readyz); going on"
	else
		"${S_RX[@]}" tcpdump -i veth0 -n -s 0 -w /dev/null "$FILTER" 2>"$work/cap.err" &
		cap_pid=$!
		local i
		for i in $(seq 100); do
			grep -q "listening on" "$work/cap.err" && return 0
			sleep 0.1
		done
		die "tcpdump did not start"
	fi
}
stop_capture() {
	kill -TERM "$cap_pid" 2>/dev/null || true
	wait "$cap_pid" 2>/dev/null || true
	cap_pid=""
}

# --- rates ------------------------------------------------------------------------
echo "== live capture: $(basename "$file") ($packets packets, $(stat -c %s "$file") bytes) via tcpreplay;" \
	"capturer $CAPTURER, filter '$FILTER'; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-7s %10s %10s %12s %12s %12s %10s %9s\n' \
	target actual_Mbps replay_pps kernel_drops seen_packets handshakes offline incompl
for rate in $RATES; do
	start_capture
	if [ "$rate" = top ]; then rate_arg=(--topspeed); else rate_arg=(--mbps="$rate"); fi
	"${S_TX[@]}" tcpreplay -q -i veth0 "${rate_arg[@]}" "$file" >"$work/replay.txt" 2>&1 ||
		{ cat "$work/replay.txt" >&2; die "tcpreplay failed at $rate"; }
	sleep "$SETTLE"
	actual=$(sed -nE 's/.*Rated: [0-9.]+ Bps, ([0-9.]+) Mbps, ([0-9.]+) pps.*/\1/p' "$work/replay.txt" | head -1)
	pps=$(sed -nE 's/.*Rated: [0-9.]+ Bps, ([0-9.]+) Mbps, ([0-9.]+) pps.*/\2/p' "$work/replay.txt" | head -1)
	drops=- seen=- found=- incomplete=-
	if [ "$CAPTURER" = hellowatch ]; then
		drops=$(metric hellowatch_kernel_dropped_packets_total)
		seen=$(metric hellowatch_packets_total)
		stop_capture
		if [ "$drops" = - ]; then # no metrics: the summary on stderr
			# "kernel: received N, dropped M (x%)"
			drops=$(grep -oE 'kernel: received [0-9]+, dropped [0-9]+' "$work/cap.err" | tail -1 | grep -oE '[0-9]+$' || true)
			drops=${drops:--}
		fi
		found=$(grep -c . "$work/cap.out" || true)
		incomplete=$(grep -c '"outcome":"incomplete"' "$work/cap.out" || true)
	else
		stop_capture
		drops=$(sed -nE 's/^([0-9]+) packets dropped by kernel.*/\1/p' "$work/cap.err")
		seen=$(sed -nE 's/^([0-9]+) packets captured.*/\1/p' "$work/cap.err")
	fi
	printf '%-7s %10s %10s %12s %12s %12s %10s %9s\n' \
		"$rate" "${actual:--}" "${pps:--}" "${drops:--}" "${seen:--}" "$found" "$offline" "$incomplete"
	cp "$work/cap.err" "$work/cap-$rate.err"
done
if [ "$CAPTURER" = hellowatch ]; then
	echo "last stderr summary from hellowatch:"
	tail -15 "$work/cap.err" | sed 's/^/  /'
fi

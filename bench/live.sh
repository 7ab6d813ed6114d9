#!/usr/bin/env bash
# live.sh - live-capture benchmark: replay a capture with tcpreplay at given
# packet rates into one end of a veth pair while a capturer takes the packets
# off the other end, and report per rate the packets sent, delivered to the
# capture interface and seen by the capturer, the kernel's drops and (for
# hellowatch) the handshakes found against the offline count of the same
# packets. THRESHOLD=1 searches, for each capturer, the rate at which it
# starts dropping.
#
# Usage (as root, Debian; `make bench-live` runs it):
#   bench/live.sh [FILE.pcap]                  the rates of RATES
#   THRESHOLD=1 bench/live.sh [FILE.pcap]      the drop threshold search
# FILE defaults to $BENCH_DIR/bench-200M.pcap (make it with `make bench-data`).
#
# Capturers: hellowatch (-i veth0 --format json, its metrics and summary),
# tcpdump (-w /dev/null: what libpcap alone drops, the reference), none (no
# capturer: what the harness alone delivers). Both capture with the same
# snaplen (SNAPLEN), kernel buffer (BUFFER_KIB, tcpdump -B / hellowatch -B),
# filter (FILTER) and libpcap (TPACKET_V3, immediate mode off).
#
# What is replayed: the packets of FILE that match FILTER (so that every
# packet sent is one the capturer must see), split by TCP port pair (a hash
# of the two ports modulo REPLAYS, so that each connection, and each 5-tuple
# used again, is in one part; anything not TCP goes to the first part) into
# REPLAYS parts. Part k goes to tcpreplay k, all REPLAYS at once
# into the same veth end, each at RATE/REPLAYS packets per second
# (tcpreplay --pps): so the offered rate can pass what one tcpreplay sends,
# every packet is sent once per step, no connection is in two parts, and the
# handshakes expected are the sum of the parts' offline counts. The parts are
# made once and kept in $BENCH_DIR/live-parts.
#
# Drops: a step "drops" when the capturer lost more than TOLERANCE percent of
# the packets delivered to the capture interface: lost = the kernel's drop
# count (pcap_stats ps_drop + ps_ifdrop; hellowatch's
# hellowatch_kernel_dropped_packets_total, tcpdump's "dropped by kernel" and
# "dropped by interface") or, if larger, delivered minus seen. "delivered"
# is the receiving veth's rx_packets over the step; what the veth itself
# dropped (its backlog, before any capture socket) is shown as veth_drop
# and is the harness's loss, not the capturer's.
#
# Threshold search (THRESHOLD=1, CAPTURERS defaulting to "hellowatch
# tcpdump"): rates rise from START by the factor RISE until every capturer has
# dropped (or the harness cannot send faster: achieved below 90% of offered),
# then the bracket between a capturer's highest clean rate and its lowest
# dropping rate is bisected (geometric midpoint, rounded to 1000 pps) until
# every bracket is narrower than RES. Every rate is measured for every
# capturer before the next, the capturers' order alternating from rate to
# rate, so that drift of the machine affects them alike. The end is a
# two-line summary: the rates at which each capturer starts dropping, their
# ratio, and the conditions.
#
# Isolation: two network namespaces of its own (hwl-tx-PID, hwl-rx-PID) joined
# by one veth pair, no addresses, IPv6 off, no routes: the replayed frames
# (198.18.0.0/15, 2001:2::/48) go nowhere but the other end of the pair. No
# other interface is touched; both namespaces are deleted on exit.
#
# Environment:
#   BENCH_DIR=/var/tmp/hellowatch-bench
#   CAPTURERS=hellowatch       space-separated: hellowatch tcpdump none
#                              (CAPTURER=X is taken as CAPTURERS=X)
#   REPLAYS=2                  tcpreplay processes in parallel
#   RATES="50000 100000 200000 300000"  offered packets/s (all replays
#                              together); "top" = each tcpreplay --topspeed
#   THRESHOLD=0                1: the threshold search (RATES not used)
#   REPEAT=1                   threshold search: tries per capturer and rate;
#                              the median try (by lost%) gives the verdict
#   START=100000 RISE=1.25 RES=0.05 MAX_RATE=2000000 MAX_STEPS=30
#                              threshold search: first rate, factor, final
#                              bracket width (5%), highest rate, steps
#   TOLERANCE=0.1              percent of delivered packets a capturer may lose
#   BUFFER_KIB=8192            kernel buffer of both capturers, KiB
#   SNAPLEN=262144             snaplen of both (tcpdump -s 0 is 262144)
#   FILTER=tcp                 capture filter of both, and of what is replayed
#   SEGMENT=                   e.g. 64: replay the packets with their TCP
#                              payloads cut into segments of at most that
#                              many bytes (small frames: more packets/s)
#   PPS_MULTI=                 tcpreplay --pps-multi (packets per timing slot)
#   HELLOWATCH_BIN=            binary to use (default: build ./cmd/hellowatch)
#   HELLOWATCH_ARGS=           extra arguments, e.g. "--workers 2"
#   TCPDUMP_ARGS=              extra arguments for tcpdump
#   METRICS_PORT=9102          hellowatch --metrics-addr 127.0.0.1:PORT inside rx
#   SETTLE=2                   seconds to wait after a replay before reading counters
# Columns: cpu_s is the capturer's CPU time over the step, others_s the CPU
# time anything else (not the tcpreplays, not the capturer) took meanwhile:
# steps with much of it ran beside another load and are suspect (a few
# tenths of a second either way is the kernel's accounting).
#   LOCK=                      a file to flock(1) for the measurements (not for
#                              making the parts, building, the offline counts),
#                              so that benchmarks sharing a machine never overlap
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/var/tmp/hellowatch-bench}
THRESHOLD=${THRESHOLD:-0}
REPEAT=${REPEAT:-1}
if [ "$THRESHOLD" = 1 ]; then
	CAPTURERS=${CAPTURERS:-${CAPTURER:-"hellowatch tcpdump"}}
else
	CAPTURERS=${CAPTURERS:-${CAPTURER:-hellowatch}}
fi
REPLAYS=${REPLAYS:-2}
RATES=${RATES:-"50000 100000 200000 300000"}
START=${START:-100000}
RISE=${RISE:-1.25}
RES=${RES:-0.05}
MAX_RATE=${MAX_RATE:-2000000}
MAX_STEPS=${MAX_STEPS:-30}
TOLERANCE=${TOLERANCE:-0.1}
BUFFER_KIB=${BUFFER_KIB:-8192}
SNAPLEN=${SNAPLEN:-262144}
FILTER=${FILTER:-tcp}
SEGMENT=${SEGMENT:-}
PPS_MULTI=${PPS_MULTI:-}
HELLOWATCH_BIN=${HELLOWATCH_BIN:-}
HELLOWATCH_ARGS=${HELLOWATCH_ARGS:-}
TCPDUMP_ARGS=${TCPDUMP_ARGS:-}
METRICS_PORT=${METRICS_PORT:-9102}
SETTLE=${SETTLE:-2}
LOCK=${LOCK:-}
GO=${GO:-go}
file=${1:-$BENCH_DIR/bench-200M.pcap}

die() { echo "live: $*" >&2; exit 1; }
log() { echo "live: $*" >&2; }

[ "$(id -u)" = 0 ] || die "run as root (network namespaces, raw sockets)"
[ -s "$file" ] || die "no capture at $file (make bench-data)"
[[ $REPLAYS =~ ^[1-9][0-9]*$ ]] || die "REPLAYS must be a positive integer, not '$REPLAYS'"
[ -z "$SEGMENT" ] || [[ $SEGMENT =~ ^[1-9][0-9]*$ ]] || die "SEGMENT must be a positive integer, not '$SEGMENT'"
for c in $CAPTURERS; do
	case $c in hellowatch | tcpdump | none) ;; *) die "unknown capturer '$c' (hellowatch, tcpdump, none)" ;; esac
done
read -ra capturers <<<"$CAPTURERS"
[ ${#capturers[@]} -gt 0 ] || die "no capturer in CAPTURERS"

need=()
command -v tcpreplay >/dev/null || need+=(tcpreplay)
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v tshark >/dev/null || need+=(tshark)
command -v capinfos >/dev/null || need+=(wireshark-common)
command -v ip >/dev/null || need+=(iproute2)
command -v ethtool >/dev/null || need+=(ethtool)
command -v curl >/dev/null || need+=(curl)
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
replay_pids=()
cleanup() {
	local p
	for p in "${replay_pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
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

calc() { awk "BEGIN { print $* }"; }

# --- the parts to replay ------------------------------------------------------------
# Kept per (file, its size and time, FILTER, REPLAYS, how it is split); made
# again when any changes.
key=$(printf '%s\n' "$(stat -c '%s %Y' "$file")" "$FILTER" "$REPLAYS" ports | sha256sum | cut -c1-12)
parts_dir=$BENCH_DIR/live-parts/$(basename "$file" .pcap)-$REPLAYS-$key
parts=()
for ((k = 0; k < REPLAYS; k++)); do parts+=("$parts_dir/part-$k.pcap"); done
if [ ! -s "$parts_dir/done" ]; then
	log "splitting $(basename "$file") ('$FILTER') by TCP port pair into $REPLAYS parts in $parts_dir"
	mkdir -p "$parts_dir"
	tcpdump -r "$file" -w "$work/filtered.pcap" "$FILTER" 2>/dev/null || die "tcpdump -r $file '$FILTER' failed"
	for ((k = 0; k < REPLAYS; k++)); do
		if [ "$REPLAYS" = 1 ]; then
			cp "$work/filtered.pcap" "${parts[k]}"
			continue
		fi
		# By port pair, not by tcp.stream: a 5-tuple used again (a new
		# connection after the last one closed) must stay in one part, or
		# two replays interleave the two connections. Linux gives connect()
		# even ports only, hence the sum halved.
		hash="{{tcp.srcport + tcp.dstport} / 2} % $REPLAYS"
		if [ "$k" = 0 ]; then sel="!tcp || $hash == 0"; else sel="tcp && $hash == $k"; fi
		nice tshark -n -r "$work/filtered.pcap" -Y "$sel" -w "${parts[k]}" \
			--disable-protocol tls,http,http2,dns,ssh,quic -o tcp.analyze_sequence_numbers:FALSE 2>"$work/tshark.err" ||
			{ grep -v 'Running as user' "$work/tshark.err" >&2; die "tshark could not split $file"; }
	done
	rm -f "$work/filtered.pcap"
	date >"$parts_dir/done"
fi
if [ -n "$SEGMENT" ]; then
	# The same packets with every TCP payload cut into segments of at most
	# SEGMENT bytes (fragroute's tcp_seg, sequence numbers kept right): small
	# frames, many more packets, the same connections and handshakes.
	seg_dir=$parts_dir/seg-$SEGMENT
	if [ ! -s "$seg_dir/done" ]; then
		log "cutting the TCP payloads of the parts into segments of $SEGMENT bytes in $seg_dir"
		mkdir -p "$seg_dir"
		echo "tcp_seg $SEGMENT new" >"$work/fragroute.conf"
		# tcprewrite slows down (and grows) with the length of its input: it is
		# given 20000 packets at a time.
		for ((k = 0; k < REPLAYS; k++)); do
			rm -rf "$work/seg" && mkdir "$work/seg"
			editcap -c 20000 "${parts[k]}" "$work/seg/in.pcap" || die "editcap could not cut ${parts[k]}"
			for c in "$work"/seg/in_*.pcap; do
				nice tcprewrite --fragroute="$work/fragroute.conf" -i "$c" -o "${c/in_/out_}" >/dev/null 2>&1 ||
					die "tcprewrite --fragroute could not segment $c"
			done
			mergecap -a -F pcap -w "$seg_dir/part-$k.pcap" "$work"/seg/out_*.pcap || die "mergecap failed"
		done
		rm -rf "$work/seg"
		date >"$seg_dir/done"
	fi
	for ((k = 0; k < REPLAYS; k++)); do parts[k]=$seg_dir/part-$k.pcap; done
fi
part_packets=()
total_packets=0 total_bytes=0
for p in "${parts[@]}"; do
	read -r n b < <(capinfos -M -c -d "$p" | awk -F': *' '/Number of packets/ { n = $2 } /Data size/ { b = $2 + 0 } END { print n, b }')
	part_packets+=("$n")
	total_packets=$((total_packets + n)) total_bytes=$((total_bytes + b))
done
frame=$((total_bytes / total_packets))
file_bytes=$(stat -c %s "$file")

# --- hellowatch and the offline reference -----------------------------------------
expected=-
want_hw=0
for c in "${capturers[@]}"; do [ "$c" = hellowatch ] && want_hw=1; done
if [ "$want_hw" = 1 ]; then
	hw=$HELLOWATCH_BIN
	if [ -z "$hw" ]; then
		log "building ./cmd/hellowatch"
		(cd "$repo" && GOTOOLCHAIN=local CGO_ENABLED=1 "$GO" build -trimpath -o "$work/hellowatch" ./cmd/hellowatch) ||
			die "cmd/hellowatch does not build"
		hw=$work/hellowatch
	fi
	offline_count() { # offline_count FILE: handshakes hellowatch finds in FILE
		# shellcheck disable=SC2086
		"$hw" -r "$1" --format json --summary never $HELLOWATCH_ARGS "$FILTER" >"$work/offline.json" 2>"$work/offline.err" ||
			{ tail -5 "$work/offline.err" >&2; die "offline run on $1 failed"; }
		grep -c . "$work/offline.json" || true
	}
	whole=$(offline_count "$file")
	expected=0
	for p in "${parts[@]}"; do expected=$((expected + $(offline_count "$p"))); done
	log "offline: $whole handshakes in $(basename "$file"), $expected in its $REPLAYS parts together (the expected count)"
fi

# --- the measurements, under LOCK if given ---------------------------------------
lock_fd=
if [ -n "$LOCK" ]; then
	exec {lock_fd}>>"$LOCK"
	flock "$lock_fd"
fi
# nolock CMD...: exec CMD without the lock's descriptor, for the processes
# started in the background (cmd &), so that one left behind cannot hold
# the lock.
nolock() {
	if [ -n "$lock_fd" ]; then exec "$@" {lock_fd}>&-; else exec "$@"; fi
}

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

netstat() { # netstat tx|rx COUNTER: a veth0 counter in that namespace
	local -n ns_cmd=S_${1^^}
	"${ns_cmd[@]}" cat "/sys/class/net/veth0/statistics/$2"
}

metric() { # metric NAME : sum of a counter's samples from /metrics
	"${S_RX[@]}" curl -fsS --max-time 2 "http://127.0.0.1:$METRICS_PORT/metrics" 2>/dev/null |
		awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $2; n++ } END { if (n) printf "%.0f", s; else print "-" }'
}

cpu_ticks() { # cpu_ticks PID: user+system clock ticks of a process
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

# others_ticks sets REPLY to the clock ticks of user, system and interrupt
# time the whole machine has spent, minus what this shell's waited-for
# children (the tcpreplays) took; over a step, less the capturer's, it is
# what anything else took (another benchmark, a build): the figures of a
# step with much of it are suspect. Not in $(...): times must run in this
# shell.
others_ticks() {
	times >"$work/times"
	REPLY=$(awk -v hz="$(getconf CLK_TCK)" '
		FILENAME == "/proc/stat" { if ($1 == "cpu") busy = $2 + $3 + $4 + $7 + $8; next }
		FNR == 2 {
			for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); kids += (t[1] * 60 + t[2]) * hz }
		}
		END { printf "%.0f\n", busy - kids }' /proc/stat "$work/times")
}

start_capture() { # start_capture CAPTURER
	: >"$work/cap.out"
	: >"$work/cap.err"
	local i
	case $1 in
	hellowatch)
		# shellcheck disable=SC2086
		nolock "${S_RX[@]}" "$hw" -i veth0 -s "$SNAPLEN" -B "$BUFFER_KIB" --format json \
			--metrics-addr "127.0.0.1:$METRICS_PORT" --summary always $HELLOWATCH_ARGS "$FILTER" \
			>"$work/cap.out" 2>"$work/cap.err" &
		cap_pid=$!
		for i in $(seq 100); do
			"${S_RX[@]}" curl -fsS --max-time 1 "http://127.0.0.1:$METRICS_PORT/readyz" >/dev/null 2>&1 && return 0
			kill -0 "$cap_pid" 2>/dev/null || { cat "$work/cap.err" >&2; die "hellowatch exited"; }
			sleep 0.1
		done
		log "hellowatch not ready after 10 s (no /readyz); going on"
		;;
	tcpdump)
		# shellcheck disable=SC2086
		nolock "${S_RX[@]}" tcpdump -i veth0 -n -s "$SNAPLEN" -B "$BUFFER_KIB" $TCPDUMP_ARGS -w /dev/null "$FILTER" 2>"$work/cap.err" &
		cap_pid=$!
		for i in $(seq 100); do
			grep -q "listening on" "$work/cap.err" && return 0
			kill -0 "$cap_pid" 2>/dev/null || { cat "$work/cap.err" >&2; die "tcpdump exited"; }
			sleep 0.1
		done
		die "tcpdump did not start"
		;;
	none) cap_pid="" ;;
	esac
}
stop_capture() {
	[ -n "$cap_pid" ] || return 0
	kill -TERM "$cap_pid" 2>/dev/null || true
	wait "$cap_pid" 2>/dev/null || true
	cap_pid=""
}

# replay RATE: the parts at once, RATE/REPLAYS packets/s each; sets sent,
# achieved (aggregate packets/s), mbps and failed from tcpreplay's output.
replay() {
	local rate=$1 k per args=()
	if [ "$rate" = top ]; then
		args=(--topspeed)
	else
		per=$(calc "$rate / $REPLAYS")
		args=(--pps="$per")
		[ -n "$PPS_MULTI" ] && args+=(--pps-multi="$PPS_MULTI")
	fi
	replay_pids=()
	for ((k = 0; k < REPLAYS; k++)); do
		nolock "${S_TX[@]}" tcpreplay -i veth0 --no-flow-stats "${args[@]}" "${parts[k]}" >"$work/replay-$k.txt" 2>&1 &
		replay_pids+=($!)
	done
	for ((k = 0; k < REPLAYS; k++)); do
		wait "${replay_pids[k]}" || { cat "$work/replay-$k.txt" >&2; replay_pids=(); die "tcpreplay $k failed at $rate"; }
	done
	replay_pids=()
	# "Actual: 98861 packets (103912345 bytes) sent in 0.51 seconds", "Failed packets: 0"
	read -r sent bytes secs failed < <(cat "$work"/replay-*.txt | awk '
		/Actual: / { p += $2; b += substr($4, 2); if ($(NF-1) > s) s = $(NF-1) }
		/Failed packets:/ { f += $NF }
		END { printf "%d %d %.6f %d\n", p, b, s, f }')
	sent=$((sent - failed)) # what went out (tcpreplay retries ENOBUFS itself)
	if awk "BEGIN { exit !($secs > 0) }"; then
		achieved=$(calc "int($sent / $secs + 0.5)")
		mbps=$(calc "int($bytes * 8 / $secs / 1e6 + 0.5)")
	else
		achieved=- mbps=-
	fi
}

# step CAPTURER RATE: one measurement; prints a row and sets verdict (ok,
# DROP) and achieved.
step() {
	local c=$1 rate=$2 rx0 rx1 vd0 vd1 t0=0 t1=0 o0 o1
	start_capture "$c"
	rx0=$(netstat rx rx_packets)
	vd0=$(($(netstat tx tx_dropped) + $(netstat rx rx_dropped)))
	[ -n "$cap_pid" ] && t0=$(cpu_ticks "$cap_pid")
	others_ticks
	o0=$REPLY
	replay "$rate"
	sleep "$SETTLE"
	others_ticks
	o1=$REPLY
	rx1=$(netstat rx rx_packets)
	vd1=$(($(netstat tx tx_dropped) + $(netstat rx rx_dropped)))
	[ -n "$cap_pid" ] && t1=$(cpu_ticks "$cap_pid")
	local delivered=$((rx1 - rx0)) vdrop=$((vd1 - vd0)) kdrop=- seen=- found=- lost pct
	case $c in
	hellowatch)
		kdrop=$(metric hellowatch_kernel_dropped_packets_total)
		seen=$(metric hellowatch_packets_total)
		stop_capture
		if [ "$kdrop" = - ]; then # no metrics: the summary on stderr
			# "kernel: received N, dropped M (x%)"
			kdrop=$(grep -oE 'kernel: received [0-9]+, dropped [0-9]+' "$work/cap.err" | tail -1 | grep -oE '[0-9]+$' || true)
			kdrop=${kdrop:--}
		fi
		found=$(grep -c '"type":"summary"' -v "$work/cap.out" || true)
		;;
	tcpdump)
		stop_capture
		kdrop=$(awk '/packets dropped by (kernel|interface)/ { s += $1; n++ } END { print n ? s : "-" }' "$work/cap.err")
		seen=$(sed -nE 's/^([0-9]+) packets captured.*/\1/p' "$work/cap.err")
		;;
	none) seen=$delivered kdrop=0 ;;
	esac
	seen=${seen:--}
	lost=$kdrop
	if [ "$seen" != - ] && { [ "$lost" = - ] || [ $((delivered - seen)) -gt "$lost" ]; }; then
		lost=$((delivered - seen))
	fi
	if [ "$lost" = - ] || [ "$delivered" -le 0 ]; then
		pct=- verdict="?"
	else
		pct=$(calc "sprintf(\"%.3f\", 100 * $lost / $delivered)")
		if awk "BEGIN { exit !($pct > $TOLERANCE) }"; then verdict=DROP; else verdict=ok; fi
	fi
	local cpu others
	cpu=$(calc "sprintf(\"%.2f\", ($t1 - $t0) / $(getconf CLK_TCK))")
	others=$(calc "sprintf(\"%.2f\", ($o1 - $o0 - ($t1 - $t0)) / $(getconf CLK_TCK))")
	printf '%-10s %8s %8s %6s %8s %9s %8s %8s %8s %7s %6s %8s %10s %8s %6s\n' \
		"$c" "$rate" "$achieved" "$mbps" "$sent" "$delivered" "$vdrop" "$seen" "$kdrop" "$pct" "$cpu" "$others" "$found" "$expected" "$verdict"
	echo "$c $rate $pct $achieved $mbps" >>"$work/tries"
	return 0
}

header() {
	echo "== live capture: $(basename "$file") ($file_bytes bytes); replayed: its $total_packets packets matching '$FILTER'" \
		"${SEGMENT:+"with TCP payloads cut into $SEGMENT-byte segments "}(average $frame bytes)" \
		"in $REPLAYS parts (${part_packets[*]} packets) by $REPLAYS tcpreplay at once"
	echo "== capturers: ${capturers[*]}; snaplen $SNAPLEN, kernel buffer $BUFFER_KIB KiB; tolerance $TOLERANCE% of delivered;" \
		"$(nproc) cores ($(lscpu | sed -nE 's/^Model name: *//p' | head -1)), load $(cut -d' ' -f1-3 /proc/loadavg)"
	printf '%-10s %8s %8s %6s %8s %9s %8s %8s %8s %7s %6s %8s %10s %8s %6s\n' \
		capturer offered achieved Mbps sent delivered veth_drop seen kdrop lost% cpu_s others_s handshakes expected verdict
}

# --- fixed rates ------------------------------------------------------------------
if [ "$THRESHOLD" != 1 ]; then
	header
	for rate in $RATES; do
		for c in "${capturers[@]}"; do step "$c" "$rate"; done
	done
	exit 0
fi

# --- threshold search -----------------------------------------------------------------
# results: one "capturer rate verdict achieved mbps" line per step.
results=$work/results
: >"$results"
order=("${capturers[@]}")
steps=0
measure() { # measure RATE: every capturer at RATE, the order alternating
	local c i t rev=()
	for c in "${order[@]}"; do
		: >"$work/tries"
		for ((t = 0; t < REPEAT; t++)); do step "$c" "$1"; done
		# the verdict of the median try (by lost%; "-" counts as a drop)
		awk -v tol="$TOLERANCE" -v n="$REPEAT" -v res="$results" '
			{ p[NR] = ($3 == "-" ? 1e9 : $3 + 0); a[NR] = $4; m[NR] = $5; c = $1; r = $2 }
			END {
				for (i = 1; i <= NR; i++) for (j = i + 1; j <= NR; j++) if (p[j] < p[i]) {
					t = p[i]; p[i] = p[j]; p[j] = t; t = a[i]; a[i] = a[j]; a[j] = t; t = m[i]; m[i] = m[j]; m[j] = t
				}
				k = int((NR + 1) / 2)
				v = p[k] > tol ? "DROP" : "ok"
				printf "%s %s %s %s %s\n", c, r, v, a[k], m[k] >>res
				if (n > 1) printf "  -> %s at %s: median of %d: lost %s%%, %s\n", c, r, NR, p[k] == 1e9 ? "?" : p[k], v
			}' "$work/tries"
	done
	for ((i = ${#order[@]} - 1; i >= 0; i--)); do rev+=("${order[i]}"); done
	order=("${rev[@]}")
	steps=$((steps + 1))
}
# bracket CAPTURER: "GOOD BAD" - its highest clean rate below its lowest
# dropping rate (0 if none), and that lowest dropping rate (- if none).
bracket() {
	awk -v c="$1" '
		FNR == NR { if ($1 == c && $3 == "DROP" && (bad == "" || $2 + 0 < bad)) bad = $2 + 0; next }
		$1 == c && $3 == "ok" && (bad == "" || $2 + 0 < bad) && $2 + 0 > good { good = $2 + 0 }
		END { printf "%d %s\n", good, bad == "" ? "-" : bad }' "$results" "$results"
}
field() { # field CAPTURER RATE N: field N of that step's result
	awk -v c="$1" -v r="$2" -v n="$3" '$1 == c && $2 == r { v = $n } END { print v }' "$results"
}
round_k() { calc "int($1 / 1000 + 0.5) * 1000"; }

header
rate=$(round_k "$START")
while [ "$steps" -lt "$MAX_STEPS" ]; do
	measure "$rate"
	open=0 limited=1
	for c in "${capturers[@]}"; do
		read -r good bad < <(bracket "$c")
		[ "$bad" = - ] && open=1
		a=$(field "$c" "$rate" 4)
		[ "$a" = - ] || awk "BEGIN { exit !($a >= 0.9 * $rate) }" && limited=0
	done
	[ "$open" = 0 ] && break
	if [ "$limited" = 1 ]; then
		log "the harness sends no faster than $a pps (offered $rate): rising stops"
		break
	fi
	rate=$(round_k "$rate * $RISE")
	[ "$rate" -le "$MAX_RATE" ] || break
done
while [ "$steps" -lt "$MAX_STEPS" ]; do
	next=- width=0
	for c in "${capturers[@]}"; do
		read -r good bad < <(bracket "$c")
		[ "$bad" = - ] && continue
		if [ "$good" = 0 ]; then
			m=$(round_k "$bad / 2")
			w=2
		else
			m=$(round_k "sqrt($good * $bad)")
			w=$(calc "$bad / $good")
		fi
		awk "BEGIN { exit !($w > 1 + $RES && $w > $width && $m > $good && $m < $bad) }" || continue
		next=$m width=$w
	done
	[ "$next" = - ] && break
	measure "$next"
done

# --- summary --------------------------------------------------------------------
# The headline is in offered packets/s (what the search varies); the achieved
# rates follow: a capturer that takes more CPU leaves less to tcpreplay.
desc=() hows=() rates=() names=()
for c in "${capturers[@]}"; do
	[ "$c" = none ] && continue
	read -r good bad < <(bracket "$c")
	names+=("$c")
	if [ "$bad" = - ]; then
		hows+=(above) rates+=("$good")
		desc+=("$c: no drop up to $good pps offered ($(field "$c" "$good" 4) pps, $(field "$c" "$good" 5) Mbit/s achieved)")
	else
		hows+=(at) rates+=("$bad")
		desc+=("$c: clean at $good pps offered ($(field "$c" "$good" 4) achieved), dropping at $bad ($(field "$c" "$bad" 4) pps, $(field "$c" "$bad" 5) Mbit/s achieved)")
	fi
done
line=""
for i in "${!names[@]}"; do
	if [ "$i" = 0 ]; then line="${names[i]} starts dropping ${hows[i]} ${rates[i]} pps"; else line+=", ${names[i]} ${hows[i]} ${rates[i]} pps"; fi
done
if [ ${#names[@]} -ge 2 ] && [ "${rates[1]}" -gt 0 ]; then
	ratio=$(calc "sprintf(\"%.2f\", ${rates[0]} / ${rates[1]})")
	case ${hows[0]}-${hows[1]} in
	at-at) line+=", ratio $ratio" ;;
	above-at) line+=", ratio above $ratio" ;;
	at-above) line+=", ratio below $ratio" ;;
	above-above) line+=" (neither dropped)" ;;
	esac
fi
echo
echo "$line"
(
	IFS='|'
	d=${desc[*]}
	echo "(${d//|/; }; dropping: more than $TOLERANCE% of delivered packets lost, median of $REPEAT; $REPLAYS tcpreplay --pps in parallel," \
		"$(basename "$file")${SEGMENT:+" cut to $SEGMENT-byte TCP segments"}, average frame $frame bytes, $BUFFER_KIB KiB buffer, snaplen $SNAPLEN, filter '$FILTER')"
)

#!/usr/bin/env bash
# compare.sh - offline speed of hellowatch as a ratio to the bare gopacket
# read loop (bench/readloop, the read limit), measured in the same run with
# the two alternating, and beside it cat, the read loop over a mapping of the
# file (readloop -mmap) and tshark, on the same benchmark capture.
#
# Usage (as root, Debian; `make bench` runs it):
#   bench/compare.sh [FILE.pcap ...]
# With no FILE it uses $BENCH_DIR/bench-200M.pcap and $BENCH_DIR/bench-1G.pcap
# (BENCH_DIR defaults to /var/tmp/hellowatch-bench, outside the repo) and makes
# the missing ones with shared/bench/make-bench-pcap.sh first.
#
# Environment:
#   BENCH_DIR=/var/tmp/hellowatch-bench   capture cache and results
#   SIZES="200M 1G"       captures to use/make when no FILE is given
#   RUNS=7                rounds; each round runs every tool once, in turn
#   TSHARK_RUNS=1         timed runs for tshark (slow: ~60 MB/s), after the rounds
#   TOOLS="cat readloop readloop-mmap hellowatch tshark"   which to run
#   HELLOWATCH_BIN=       use this binary instead of building ./cmd/hellowatch
#   HELLOWATCH_ARGS=      extra arguments, e.g. "--max-flows 65536"
#   MAKE_BENCH_PCAP=      path of make-bench-pcap.sh (default: shared/ beside
#                         the repo, else /work/shared/bench/make-bench-pcap.sh)
#
# Every run reads the file from the page cache (one untimed `cat` warms it,
# and one untimed run of each tool comes first). The tools run in turn, round
# after round, so that a machine whose speed drifts slows them alike; the
# ratio hellowatch/readloop is taken round by round and its median is the
# figure to quote (first in the output), with its min-max. Absolute figures
# (wall seconds, MB/s) hold for this machine only; the first line names it
# (lscpu model, cores, load). Wall time is measured around the process; peak
# RSS is /usr/bin/time -v's "Maximum resident set size" (for readloop -mmap
# it counts the whole mapped file, which that loop never hands back).
# hellowatch's JSON goes to a file (a few MB) so that its handshakes can be
# counted; tshark's SNI column likewise.
# Results: ratios, then a table on stdout, and a TSV in $BENCH_DIR/results/.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/var/tmp/hellowatch-bench}
SIZES=${SIZES:-"200M 1G"}
RUNS=${RUNS:-7}
TSHARK_RUNS=${TSHARK_RUNS:-1}
TOOLS=${TOOLS:-"cat readloop readloop-mmap hellowatch tshark"}
HELLOWATCH_BIN=${HELLOWATCH_BIN:-}
HELLOWATCH_ARGS=${HELLOWATCH_ARGS:-}
GO=${GO:-go}

die() { echo "compare: $*" >&2; exit 1; }
log() { echo "compare: $*" >&2; }

if [ -z "${MAKE_BENCH_PCAP:-}" ]; then
	for c in "$repo/../shared/bench/make-bench-pcap.sh" /work/shared/bench/make-bench-pcap.sh; do
		[ -x "$c" ] && { MAKE_BENCH_PCAP=$c; break; }
	done
fi

# --- tools --------------------------------------------------------------------
need=()
[ -x /usr/bin/time ] || need+=(time)
case " $TOOLS " in *" tshark "*) command -v tshark >/dev/null || need+=(tshark) ;; esac
if [ ${#need[@]} -gt 0 ]; then
	[ "$(id -u)" = 0 ] || die "missing ${need[*]}; install them or run as root"
	log "installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q "${need[@]}" >/dev/null
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/hw-compare.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- captures -----------------------------------------------------------------
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
	mkdir -p "$BENCH_DIR"
	for s in $SIZES; do
		f="$BENCH_DIR/bench-$s.pcap"
		if [ ! -s "$f" ]; then
			[ -n "${MAKE_BENCH_PCAP:-}" ] || die "no $f and no make-bench-pcap.sh (set MAKE_BENCH_PCAP)"
			[ "$(id -u)" = 0 ] || die "making $f needs root (network namespaces, tcpdump)"
			log "making $f with $MAKE_BENCH_PCAP (nice -n 10)"
			t0=$(date +%s)
			nice -n 10 "$MAKE_BENCH_PCAP" "$f" "$s" >"$BENCH_DIR/make-bench-$s.log" 2>&1 ||
				{ tail -20 "$BENCH_DIR/make-bench-$s.log" >&2; rm -f "$f"; die "make-bench-pcap.sh failed"; }
			log "made $f in $(( $(date +%s) - t0 )) s (log: $BENCH_DIR/make-bench-$s.log)"
		fi
		files+=("$f")
	done
fi

# --- binaries -----------------------------------------------------------------
log "building bench/readloop"
(cd "$repo" && GOTOOLCHAIN=local "$GO" build -trimpath -o "$work/readloop" ./bench/readloop) ||
	die "cannot build bench/readloop"
hw=""
case " $TOOLS " in
*" hellowatch "*)
	if [ -n "$HELLOWATCH_BIN" ]; then
		hw=$HELLOWATCH_BIN
	else
		log "building ./cmd/hellowatch"
		# Two tries: a build cache shared with concurrent builds can fail once.
		if (cd "$repo" && GOTOOLCHAIN=local CGO_ENABLED=1 "$GO" build -trimpath -o "$work/hellowatch" ./cmd/hellowatch) 2>"$work/build.err" ||
			(cd "$repo" && GOTOOLCHAIN=local CGO_ENABLED=1 "$GO" build -trimpath -o "$work/hellowatch" ./cmd/hellowatch) 2>"$work/build.err"; then
			hw=$work/hellowatch
		else
			log "cmd/hellowatch does not build yet; skipping it:"
			sed 's/^/    /' "$work/build.err" | head -10 >&2
		fi
	fi
	;;
esac

# --- helpers ------------------------------------------------------------------
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "nan"; exit } if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# timed NAME OUTFILE CMD... : one run; appends "wall_s rss_kb" to $work/NAME.runs
timed() {
	local name=$1 out=$2 t0 t1 rc=0
	shift 2
	t0=$(date +%s%N)
	/usr/bin/time -v -o "$work/time.txt" "$@" >"$out" 2>"$work/$name.err" || rc=$?
	t1=$(date +%s%N)
	if [ $rc != 0 ]; then
		log "$name exited $rc:"
		tail -5 "$work/$name.err" >&2
		return $rc
	fi
	local rss
	rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time.txt")
	echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }') $rss" >>"$work/$name.runs"
}

# --- one capture --------------------------------------------------------------
results_dir=$BENCH_DIR/results
mkdir -p "$results_dir"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
cpu=$(lscpu 2>/dev/null | sed -nE 's/^Model name: *//p' | head -1)
cpu=${cpu:-unknown CPU}

# run_tool TOOL : one timed run of TOOL; returns non-zero if it failed
run_tool() {
	case $1 in
	cat) timed cat /dev/null cat "$f" ;;
	readloop) timed readloop "$work/readloop.out" "$work/readloop" "$f" ;;
	readloop-mmap) timed readloop-mmap "$work/readloop-mmap.out" "$work/readloop" -mmap "$f" ;;
	hellowatch)
		# shellcheck disable=SC2086  # HELLOWATCH_ARGS is a word list
		timed hellowatch "$work/hw.json" "$hw" -r "$f" --format json $HELLOWATCH_ARGS
		;;
	tshark)
		timed tshark "$work/tshark.txt" tshark -n -r "$f" -o tcp.desegment_tcp_streams:TRUE \
			-Y 'tls.handshake.type==1' -T fields -E separator=/t -e ip.src -e ipv6.src -e tcp.srcport \
			-e ip.dst -e ipv6.dst -e tcp.dstport -e tls.handshake.extensions_server_name
		;;
	*) die "unknown tool $1" ;;
	esac
}

# pair_ratios A B : per-round wall-time ratios A/B, one per line
pair_ratios() {
	[ -f "$work/$1.runs" ] && [ -f "$work/$2.runs" ] || return 0
	paste -d' ' <(cut -d' ' -f1 "$work/$1.runs") <(cut -d' ' -f1 "$work/$2.runs") |
		awk 'NF == 2 && $2 > 0 { printf "%.4f\n", $1 / $2 }'
}

# ratio_line A B : "A/B = median (min-max over N rounds)"
ratio_line() {
	local r n med lo hi
	r=$(pair_ratios "$1" "$2")
	[ -n "$r" ] || return 0
	n=$(echo "$r" | wc -l)
	med=$(echo "$r" | median)
	lo=$(echo "$r" | sort -g | head -1)
	hi=$(echo "$r" | sort -g | tail -1)
	printf '  %-26s %6.2fx   (min %.2f, max %.2f; %d rounds, same run, alternating)\n' "$1 / $2" "$med" "$lo" "$hi" "$n"
}

for f in "${files[@]}"; do
	[ -s "$f" ] || die "no capture at $f"
	bytes=$(stat -c %s "$f")
	rm -f "$work"/*.runs
	echo
	echo "== $(basename "$f"): $bytes bytes; $cpu, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $RUNS rounds (tshark $TSHARK_RUNS)"
	cat "$f" >/dev/null # warm the page cache
	"$work/readloop" "$f" >"$work/readloop.first"
	packets=$(sed -nE 's/.*packets=([0-9]+).*/\1/p' "$work/readloop.first")
	hw_hellos=- hw_nosni=- hw_missing=- ts_hellos=- ts_nosni=-

	# The tools of the rounds: all but tshark, and hellowatch only if built.
	round_tools=()
	for tool in $TOOLS; do
		case $tool in
		tshark) ;;
		hellowatch) [ -n "$hw" ] && round_tools+=("$tool") ;;
		*) round_tools+=("$tool") ;;
		esac
	done
	# One untimed warm-up run of each.
	for tool in "${round_tools[@]}"; do
		run_tool "$tool" || die "$tool failed"
	done
	rm -f "$work"/*.runs
	for i in $(seq 1 "$RUNS"); do
		for tool in "${round_tools[@]}"; do
			run_tool "$tool" || die "$tool failed in round $i"
			printf '  round %d/%d %-14s %s s\n' "$i" "$RUNS" "$tool" "$(tail -1 "$work/$tool.runs" | cut -d' ' -f1)" >&2
		done
	done
	case " $TOOLS " in
	*" tshark "*)
		for i in $(seq 1 "$TSHARK_RUNS"); do
			run_tool tshark || break
			printf '  tshark run %d/%d: %s s\n' "$i" "$TSHARK_RUNS" "$(tail -1 "$work/tshark.runs" | cut -d' ' -f1)" >&2
		done
		;;
	esac
	if [ -f "$work/hellowatch.runs" ]; then
		hw_hellos=$(grep -c . "$work/hw.json" || true)
		hw_nosni=$(grep -c '"server_name":null' "$work/hw.json" || true)
		hw_missing=$(grep -c '"id":"missing_sni"' "$work/hw.json" || true)
	fi
	if [ -f "$work/tshark.runs" ]; then
		ts_hellos=$(wc -l <"$work/tshark.txt")
		ts_nosni=$(awk -F'\t' '$7 == ""' "$work/tshark.txt" | wc -l)
	fi
	matched=""
	if [ -f "$work/tshark.runs" ] && [ -f "$work/hellowatch.runs" ]; then
		matched=$(awk -F'\t' -f "$repo/bench/match-hellos.awk" "$work/hw.json" "$work/tshark.txt" 2>"$work/match.err")
	fi

	echo "ratios of wall time, round by round (medians):"
	ratio_line hellowatch readloop
	ratio_line hellowatch readloop-mmap
	ratio_line readloop-mmap readloop
	ratio_line readloop cat
	if [ -f "$work/tshark.runs" ] && [ -f "$work/hellowatch.runs" ]; then
		awk -v a="$(cut -d' ' -f1 "$work/tshark.runs" | median)" -v b="$(cut -d' ' -f1 "$work/hellowatch.runs" | median)" -v n="$TSHARK_RUNS" \
			'BEGIN { printf "  %-26s %6.1fx   (medians; tshark %d run(s), after the rounds)\n", "tshark / hellowatch", a / b, n }'
	fi

	tsv=$results_dir/compare-$(basename "$f" .pcap)-$stamp.tsv
	printf 'tool\truns\twall_s\tbest_s\tMB_per_s\tMpkts_per_s\tpeak_rss_MB\n' >"$tsv"
	echo "on this machine ($cpu, $(nproc) cores):"
	printf '  %-14s %4s %9s %9s %9s %11s %12s\n' tool runs wall_s best_s MB/s Mpkts/s peak_RSS_MB
	for tool in $TOOLS; do
		[ -f "$work/$tool.runs" ] || { printf '  %-14s %4s %9s\n' "$tool" 0 "(skipped)"; continue; }
		n=$(wc -l <"$work/$tool.runs")
		w=$(cut -d' ' -f1 "$work/$tool.runs" | median)
		r=$(cut -d' ' -f2 "$work/$tool.runs" | median)
		best=$(cut -d' ' -f1 "$work/$tool.runs" | sort -g | head -1)
		line=$(awk -v w="$w" -v m="$best" -v b="$bytes" -v p="$packets" -v r="$r" \
			'BEGIN { printf "%.3f\t%.3f\t%.0f\t%.3f\t%.1f", w, m, b / 1e6 / w, p / 1e6 / w, r / 1024 }')
		printf '%s\t%s\t%s\n' "$tool" "$n" "$line" >>"$tsv"
		# shellcheck disable=SC2086
		printf '  %-14s %4s %9s %9s %9s %11s %12s\n' "$tool" "$n" $line
	done
	echo "packets: $packets (bench/readloop); file: $bytes bytes"
	echo "ClientHellos: hellowatch $hw_hellos JSON lines ($hw_nosni without SNI, $hw_missing missing_sni findings);" \
		"tshark $ts_hellos (tls.handshake.type==1, desegmented; $ts_nosni without SNI)"
	if [ -n "$matched" ]; then
		echo "$matched"
		sed 's/^/  /' "$work/match.err" | head -10
	fi
	{
		echo "# machine=$cpu cores=$(nproc) packets=$packets bytes=$bytes hw_hellos=$hw_hellos hw_nosni=$hw_nosni hw_missing_sni=$hw_missing ts_hellos=$ts_hellos ts_nosni=$ts_nosni"
		pair_ratios hellowatch readloop | tr '\n' ' ' | sed 's/^/# hellowatch_over_readloop_per_round=/'
		echo
	} >>"$tsv"
	echo "results: $tsv"
done

# samplelib.sh: helpers shared by make-tunnel-samples.sh and
# make-across-samples.sh (sourced, not run). The caller sets WORK, OUT, LOG,
# SAMPLES, NAMESPACES and PIDS=() before sourcing, and calls lib_cleanup from
# its EXIT trap.

# start CMD...: run in the background, remember the pid in LAST.
start() {
	"$@" >>"$LOG" 2>&1 &
	LAST=$!
	PIDS+=("$LAST")
}

# stop PID...: TERM and reap.
stop() {
	local p
	for p in "$@"; do
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
		forget "$p"
	done
}

# forget PID: drop a reaped pid from PIDS so cleanup never signals a reused id.
forget() {
	local q keep=()
	for q in "${PIDS[@]}"; do [ "$q" = "$1" ] || keep+=("$q"); done
	PIDS=("${keep[@]}")
}

lib_cleanup() {
	local p ns
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
	if [ "${KEEP_WORK:-}" = "" ]; then rm -rf "$WORK"; else echo "work dir kept: $WORK"; fi
}

# waitlisten PORT NS: wait until something listens on TCP PORT in NS.
waitlisten() {
	local i
	for i in $(seq 100); do
		ip netns exec "$2" ss -Hltn "( sport = :$1 )" | grep -q . && return 0
		sleep 0.05
	done
	echo "$(basename "$0"): nothing listens on port $1 in $2" >&2
	tail -20 "$LOG" >&2
	exit 1
}

# waitlink DEV NS: wait until a device exists in NS (a tunnel endpoint made it).
waitlink() {
	local i
	for i in $(seq 100); do
		ip -n "$2" link show "$1" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "$(basename "$0"): no device $1 in $2" >&2
	tail -20 "$LOG" >&2
	exit 1
}

# cap_start NAME IFACE NS FILTER...: start tcpdump writing $OUT/NAME.
cap_start() {
	local name=$1 iface=$2 ns=$3
	shift 3
	CAPERR=$WORK/$name.tcpdump.err
	ip netns exec "$ns" tcpdump -U -n -Z root -s 0 -i "$iface" -w "$OUT/$name" "$@" 2>"$CAPERR" &
	CAPPID=$!
	PIDS+=("$CAPPID")
	local i
	for i in $(seq 100); do
		grep -qs listening "$CAPERR" && break
		sleep 0.05
	done
	sleep 0.3
}

# cap_stop: give TPACKET_V3 time to hand over the tail, then stop tcpdump.
cap_stop() {
	sleep 1.2
	kill -INT "$CAPPID" 2>/dev/null || true
	wait "$CAPPID" 2>/dev/null || true
	forget "$CAPPID"
}

# nginx_start NAME NS PORT...: start nginx in NS with http-level config from
# stdin; the pid lands in LAST.
nginx_start() {
	local name=$1 ns=$2 d=$WORK/nginx-$1 p
	shift 2
	mkdir -p "$d/logs" "$d/tmp"
	{
		cat <<EOF
user root;
worker_processes 1;
daemon off;
pid $d/nginx.pid;
error_log $d/logs/error.log info;
events { worker_connections 256; }
http {
    access_log off;
    default_type text/plain;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
EOF
		cat
		echo "}"
	} >"$d/nginx.conf"
	start ip netns exec "$ns" nginx -p "$d" -c "$d/nginx.conf" -e "$d/logs/error.log"
	for p in "$@"; do waitlisten "$p" "$ns"; done
}

# veth NS1 DEV1 NS2 DEV2: a veth pair between two namespaces, up, offloads
# off (wire-sized segments with real checksums in the capture).
veth() {
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
	local x
	for x in "$1 $2" "$3 $4"; do
		set -- $x
		ip -n "$1" link set "$2" up
		ip netns exec "$1" ethtool -K "$2" tso off gso off gro off tx off rx off >>"$LOG" 2>&1 || true
	done
}

# --- flows and the manifest -----------------------------------------------------
# flow CLIENT SERVER TUNNEL PARAMS SNI FINDING [NOTE]: the next TCP
# connection in the current sample file ($CURRENT; in the order of their
# first packets) is expected to be this one. SNI "-" means no server_name
# extension.
FLOWS=()
flow() {
	local IFS=$'\x1f'
	FLOWS+=("$CURRENT$IFS$*")
}

# flows FILE [TSHARK ARGS]: one line per TCP connection in FILE, in the order
# of their first packet: the innermost client and server address:port,
# whether the SYN carried data and whether the client's first packet after the
# SYN (the ACK of the SYN-ACK) did, the ClientHello's SNI and the number of
# client data segments up to the one that completed it, the ServerHello
# count, TLS alerts, RSTs and FINs (with who sent them, their innermost IP
# TTL / hop limit and the time since the client's first data segment), the
# server's SYN-ACK TTL, and the layers of the connection's first packet up
# to TCP (frame.protocols without "ethertype").
flows() {
	local f=$1
	shift
	tshark -r "$f" "$@" -Y tcp -T fields -E occurrence=a -E aggregator='|' \
		-e tcp.stream -e frame.protocols -e ip.src -e ip.dst -e ipv6.src -e ipv6.dst \
		-e ip.ttl -e ipv6.hlim -e tcp.srcport -e tcp.dstport -e tcp.flags.syn \
		-e tcp.flags.ack -e tcp.flags.reset -e tcp.flags.fin -e tcp.len \
		-e tls.handshake.type -e tls.handshake.extensions_server_name \
		-e tls.alert_message.desc -e tls.record.content_type -e frame.time_relative 2>/dev/null |
		awk -F'\t' '
		function last(s,   a, n) { n = split(s, a, "|"); return a[n] }
		function has(list, v) { return ("|" list "|") ~ ("\\|" v "\\|") }
		function app(s, v) { return s == "" ? v : s "," v }
		{
			st = $1; protos = $2; n = split(protos, p, ":")
			fam = ""; outer = ""
			for (i = 1; i <= n; i++) {
				if (p[i] == "tcp") break
				if (p[i] == "ip" || p[i] == "ipv6") fam = p[i]
			}
			# the layers up to TCP, as tshark names them (ethertype dropped)
			for (i = 1; i <= n && p[i] != "tcp"; i++)
				if (p[i] != "ethertype") outer = (outer == "" ? p[i] : outer ":" p[i])
			if (fam == "ip") { src = last($3); dst = last($4); ttl = last($7) }
			else { src = "[" last($5) "]"; dst = "[" last($6) "]"; ttl = last($8) }
			a = src ":" $9; b = dst ":" $10
			syn = $11; ack = $12; rst = $13; fin = $14; len = $15 + 0; t = $20
			if (!(st in cli)) {
				order[++ns] = st; enc[st] = outer
				if (syn == 1 && ack == 0) { cli[st] = a; srv[st] = b } else { cli[st] = a; srv[st] = b; nosyn[st] = 1 }
			}
			dir = (a == cli[st]) ? "c" : "s"
			if (dir == "c" && syn == 1 && len > 0) dsyn[st] = len
			if (dir == "c" && syn == 0 && !(st in firstc)) { firstc[st] = 1; if (len > 0) dack[st] = len }
			if (dir == "s" && syn == 1 && ack == 1 && !(st in sattl)) sattl[st] = ttl
			if (dir == "c" && len > 0) { cdata[st]++; if (!(st in t0)) t0[st] = t }
			if (dir == "c" && has($16, 1) && !(st in sni)) {
				sni[st] = ($17 == "" ? "-" : $17); segs[st] = cdata[st]
			}
			if (dir == "s" && has($16, 2)) sh[st]++
			if (has($19, 21)) al[st] = app(al[st], dir ":" ($18 == "" ? "encrypted" : $18))
			if (rst == 1) rs[st] = app(rs[st], dir "(ttl " ttl ", +" sprintf("%.3f", t - t0[st]) "s)")
			if (fin == 1 && !(st in fins)) fins[st] = dir "(+" sprintf("%.3f", t - t0[st]) "s)"
		}
		END {
			for (i = 1; i <= ns; i++) {
				st = order[i]
				printf "%s > %s\t%s\tsni=%s hello_segments=%s%s%s serverhello=%d alerts=%s rst=%s fin=%s synack_ttl=%s%s\n",
					cli[st], srv[st], enc[st], (st in sni ? sni[st] : "? (no ClientHello)"), segs[st] + 0,
					(st in dsyn ? " data_on_syn=" dsyn[st] : ""), (st in dack ? " data_on_third_packet=" dack[st] : ""),
					sh[st], (al[st] == "" ? "none" : al[st]), (rs[st] == "" ? "none" : rs[st]),
					(st in fins ? fins[st] : "none"), (st in sattl ? sattl[st] : "-"), (st in nosyn ? " (no SYN seen)" : "")
			}
		}'
}

# manifest_add FILE [TSHARK ARGS]: check FILE's connections against the
# flows recorded for it (count and SNI; a mismatch fails the run at the end)
# and append them to $MANIFEST.
MISMATCH=0
manifest_add() {
	local file=$1 f=$SAMPLES/$1
	shift
	local lines=() mine=() i want got x
	mapfile -t lines < <(flows "$f" "$@")
	for x in "${FLOWS[@]}"; do
		[ "${x%%$'\x1f'*}" = "$file" ] && mine+=("${x#*$'\x1f'}")
	done
	if [ "${#lines[@]}" != "${#mine[@]}" ]; then
		echo "!! $file: ${#lines[@]} TCP connections in the capture, ${#mine[@]} expected" >&2
		MISMATCH=1
	fi
	for i in "${!mine[@]}"; do
		local e=() l
		IFS=$'\x1f' read -r -a e <<<"${mine[$i]}"
		l=${lines[$i]:-"(missing)	?	sni=(missing)"}
		want=${e[4]}
		got=$(sed -n 's/.*sni=\([^ ]*\).*/\1/p' <<<"$l")
		if [ "$want" != "$got" ]; then
			echo "!! $file flow $((i + 1)): SNI $got, expected $want" >&2
			MISMATCH=1
		fi
		# file flow client server tunnel tunnel_params inner_flow expected_sni
		# expected_finding tshark_encapsulation tshark_observed note
		printf '%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$file" $((i + 1)) \
			"${e[0]}" "${e[1]}" "${e[2]}" "${e[3]}" "$(cut -f1 <<<"$l")" "$want" "${e[5]}" \
			"$(cut -f2 <<<"$l")" "$(cut -f3 <<<"$l")" "${e[6]:-}" >>"$MANIFEST"
	done
}

# readme_section TITLE BODYFILE: replace the section "## TITLE" of
# samples/README.md (up to the next "## " heading) with the heading and
# BODYFILE, or append it when the README has no such section.
readme_section() {
	local title=$1 body=$2 readme=$SAMPLES/README.md
	awk -v title="## $1" -v body="$body" '
		function emit(  l) { print title; print ""; while ((getline l < body) > 0) print l; print ""; done = 1 }
		$0 == title { emit(); skip = 1; next }
		skip && /^## / { skip = 0 }
		!skip { print }
		END { if (!done) { print ""; emit() } }' "$readme" | cat -s >"$readme.new"
	mv "$readme.new" "$readme"
}

#!/usr/bin/env bash
# make-samples.sh rebuilds every capture in samples/ with real software
# (nginx, HAProxy, Caddy, OpenSSL, curl, Go crypto/tls and the edge test
# upstream of internal/edge) on loopback and in network namespaces it creates,
# and regenerates samples/README.md with a tshark summary of each capture.
#
# Run as root on Debian 12 from anywhere: samples/make-samples.sh
# It is idempotent (it removes its own namespaces and temp files first and on
# exit) and sends no traffic anywhere but loopback and its own namespaces.
# Ports used on loopback: 8080 (proxy), 8443 (the captured upstream), 9443
# (the real TLS backend behind the edge).
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "make-samples.sh: must run as root (tcpdump, netns)" >&2; exit 1; }
SAMPLES=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$SAMPLES/.." && pwd)
START=$(date +%s)

# --- tools -------------------------------------------------------------------
missing=()
for pair in nginx:nginx haproxy:haproxy caddy:caddy openssl:openssl curl:curl \
	tcpdump:tcpdump tshark:tshark mergecap:wireshark-common ip:iproute2 \
	ss:iproute2 ethtool:ethtool; do
	command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if ((${#missing[@]})); then
	echo "== apt-get install ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
command -v go >/dev/null || { echo "make-samples.sh: need the Go toolchain (go.mod's version) on PATH" >&2; exit 1; }
# The Debian nginx package starts a service on :80; it does not disturb us,
# but stop it if it holds one of our ports.

WORK=$(mktemp -d /tmp/hw-samples.XXXXXX)
OUT=$WORK/out
mkdir -p "$OUT"
LOG=$WORK/log
PIDS=()
NAMESPACES=(hwc hws hvc hvs)

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
	if [ "${KEEP_WORK:-}" = "" ]; then rm -rf "$WORK"; else echo "work dir kept: $WORK"; fi
}
trap cleanup EXIT
for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done

for port in 8080 8443 9443; do
	if ss -Hltn "( sport = :$port )" | grep -q .; then
		echo "make-samples.sh: port $port is busy on this host" >&2
		exit 1
	fi
done

echo "== building edge, tlsclient, mangle"
(cd "$REPO" && GOFLAGS=-buildvcs=false go build -o "$WORK/edge" ./internal/edge/cmd/edge &&
	GOFLAGS=-buildvcs=false go build -o "$WORK/tlsclient" ./samples/internal/tlsclient &&
	GOFLAGS=-buildvcs=false go build -o "$WORK/mangle" ./samples/internal/mangle)

# --- certificates ------------------------------------------------------------
CERT=$WORK/abc.crt KEY=$WORK/abc.key PEM=$WORK/abc.pem
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	-keyout "$KEY" -out "$CERT" -subj /CN=abc.example.com \
	-addext subjectAltName=DNS:abc.example.com 2>>"$LOG"
cat "$CERT" "$KEY" >"$PEM"
# An unrelated CA for proxy_ssl_verify: abc's self-signed cert does not chain to it.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	-keyout "$WORK/ca.key" -out "$WORK/ca.crt" -subj "/CN=hellowatch samples CA" 2>>"$LOG"

# --- helpers -----------------------------------------------------------------
declare -A DESC
ORDER=()

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

# waitlisten PORT [NS]: wait until something listens on TCP PORT.
waitlisten() {
	local i pre=()
	[ -n "${2:-}" ] && pre=(ip netns exec "$2")
	for i in $(seq 100); do
		"${pre[@]}" ss -Hltn "( sport = :$1 )" | grep -q . && return 0
		sleep 0.05
	done
	echo "make-samples.sh: nothing listens on port $1 ${2:-}" >&2
	tail -20 "$LOG" >&2
	exit 1
}

# cap_start NAME IFACE [NS] -- FILTER...: start tcpdump writing $OUT/NAME.
# LINKTYPE=... selects -y.
cap_start() {
	local name=$1 iface=$2 ns=$3 pre=()
	shift 4
	[ -n "$ns" ] && pre=(ip netns exec "$ns")
	CAPERR=$WORK/$name.tcpdump.err
	"${pre[@]}" tcpdump -U -n -Z root -s 0 -i "$iface" ${LINKTYPE:+-y "$LINKTYPE"} \
		-w "$OUT/$name" "$@" 2>"$CAPERR" &
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
	sleep 1
	kill -INT "$CAPPID" 2>/dev/null || true
	wait "$CAPPID" 2>/dev/null || true
	forget "$CAPPID"
}

# nginx_start NAME PORT...: start nginx with http-level config from stdin;
# the pid lands in LAST. NS=... runs it in a namespace.
nginx_start() {
	local name=$1 d=$WORK/nginx-$1 p
	shift
	mkdir -p "$d/logs" "$d/tmp"
	{
		cat <<EOF
user root;
worker_processes 1;
daemon off;
pid $d/nginx.pid;
error_log $d/logs/error.log info;
events { worker_connections 64; }
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
	start nginx -p "$d" -c "$d/nginx.conf" -e "$d/logs/error.log"
	for p in "$@"; do waitlisten "$p"; done
}

# proxy_conf UPSTREAM [DIRECTIVES]: the incident's reverse proxy on :8080.
proxy_conf() {
	cat <<EOF
upstream abc.example.com { server $1; }
server {
    listen 127.0.0.1:8080;
    location / {
        proxy_pass https://abc.example.com/;
        ${2:-}
    }
}
EOF
}

# tls_server LISTEN [DIRECTIVES]: nginx serving abc.example.com over TLS.
tls_server() {
	cat <<EOF
server {
    listen $1 ssl;
    server_name abc.example.com;
    ssl_certificate $CERT;
    ssl_certificate_key $KEY;
    ${2:-}
    location / { return 200 "abc ok\n"; }
}
EOF
}

# get URL [CURL ARGS]: one request, log the status.
get() {
	local url=$1
	shift
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@" "$url" 2>>"$LOG") || true
	echo "   $url -> ${code:-000}" | tee -a "$LOG"
}

# sample NAME DESCRIPTION: announce a sample and record its README line.
sample() {
	echo "== $1"
	ORDER+=("$1")
	DESC[$1]=$2
}

# The real TLS backend for abc.example.com behind the edge, for the whole run.
nginx_start backend 9443 <<EOF
$(tls_server 127.0.0.1:9443)
$(tls_server "[::1]:9443")
EOF
BACKEND=$LAST

# --- the incident ------------------------------------------------------------
sample incident-missing-sni.pcap "THE incident: curl -> nginx 1.22 (\`upstream abc.example.com { server 127.0.0.1:8443; }\`, \`proxy_pass https://abc.example.com/;\`, no \`proxy_ssl_server_name\`) -> edge -mode cloudflare. Two requests, both 502: SNI-less ClientHello, server answers \`15 03 03 00 02 02 28\` (fatal handshake_failure) and FIN. Captured on lo, tcp port 8443 (the upstream leg only)."
start "$WORK/edge" -listen 127.0.0.1:8443 -mode cloudflare -names abc.example.com -backend 127.0.0.1:9443
EDGE=$LAST
waitlisten 8443
nginx_start incident 8080 < <(proxy_conf 127.0.0.1:8443)
PROXY=$LAST
cap_start incident-missing-sni.pcap lo "" -- tcp port 8443
get http://127.0.0.1:8080/
get http://127.0.0.1:8080/
cap_stop
stop "$PROXY"

sample incident-fixed.pcap "The fix: same as incident-missing-sni.pcap plus \`proxy_ssl_server_name on;\`: the hello carries SNI abc.example.com, the edge relays it to a real nginx TLS server (self-signed cert) -> 200. The second request resumes the first one's session."
nginx_start fixed 8080 < <(proxy_conf 127.0.0.1:8443 "proxy_ssl_server_name on;")
PROXY=$LAST
cap_start incident-fixed.pcap lo "" -- tcp port 8443
get http://127.0.0.1:8080/
get http://127.0.0.1:8080/
cap_stop
stop "$PROXY" "$EDGE"

# --- other SNI-strict servers ------------------------------------------------
sample haproxy-strict-sni.pcap "HAProxy 2.6 \`bind 127.0.0.1:8443 ssl crt abc.pem strict-sni\`, nginx proxy without SNI -> fatal unrecognized_name (112), 502."
cat >"$WORK/haproxy.cfg" <<EOF
global
    log stderr local0 info
defaults
    mode http
    log global
    timeout connect 5s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:8443 ssl crt $PEM strict-sni
    http-request return status 200 content-type text/plain string ok
EOF
start haproxy -db -f "$WORK/haproxy.cfg"
HAP=$LAST
waitlisten 8443
nginx_start haproxy-proxy 8080 < <(proxy_conf 127.0.0.1:8443)
PROXY=$LAST
cap_start haproxy-strict-sni.pcap lo "" -- tcp port 8443
get http://127.0.0.1:8080/
cap_stop
stop "$PROXY" "$HAP"

sample nginx-reject-handshake.pcap "nginx upstream whose default server has \`ssl_reject_handshake on;\` (abc.example.com is a named server), nginx proxy without SNI -> fatal unrecognized_name (112), 502."
nginx_start reject 8443 <<EOF
server { listen 127.0.0.1:8443 ssl default_server; ssl_reject_handshake on; }
$(tls_server 127.0.0.1:8443)
EOF
UP=$LAST
nginx_start reject-proxy 8080 < <(proxy_conf 127.0.0.1:8443)
PROXY=$LAST
cap_start nginx-reject-handshake.pcap lo "" -- tcp port 8443
get http://127.0.0.1:8080/
cap_stop
stop "$PROXY"

sample resumed-no-sni.pcap "Surprise 1, session resumption hides the bug: upstream as in nginx-reject-handshake.pcap; the nginx proxy's location /with has \`proxy_ssl_server_name on;\`, location /without does not, same upstream peer. GET /with (SNI, full handshake, 200), then GET /without: the SNI-less hello offers the stored session (TLS 1.2, nginx 1.22 proxy defaults; session_ticket extension) and is resumed (200) instead of refused: its ServerHello is followed at once by ChangeCipherSpec, no Certificate."
nginx_start resumed-proxy 8080 <<EOF
upstream abc.example.com { server 127.0.0.1:8443; }
server {
    listen 127.0.0.1:8080;
    location /with { proxy_pass https://abc.example.com/; proxy_ssl_server_name on; }
    location /without { proxy_pass https://abc.example.com/; }
}
EOF
PROXY=$LAST
cap_start resumed-no-sni.pcap lo "" -- tcp port 8443
get http://127.0.0.1:8080/with
get http://127.0.0.1:8080/without
cap_stop
stop "$PROXY" "$UP"

sample caddy-no-sni.pcap "Caddy 2.6 (\`tls abc.crt abc.key\`, admin off, auto_https disable_redirects) on 127.0.0.1:8443; nginx proxy without SNI -> Go crypto/tls refuses (see tshark line), 502; then curl -k with SNI -> 200 for contrast."
mkdir -p "$WORK/caddy"
cat >"$WORK/caddy/Caddyfile" <<EOF
{
    admin off
    auto_https disable_redirects
    storage file_system $WORK/caddy/data
    skip_install_trust
}
https://abc.example.com:8443 {
    bind 127.0.0.1
    tls $CERT $KEY
    respond "caddy ok"
}
EOF
HOME=$WORK/caddy XDG_DATA_HOME=$WORK/caddy XDG_CONFIG_HOME=$WORK/caddy \
	start caddy run --config "$WORK/caddy/Caddyfile" --adapter caddyfile
CADDY=$LAST
waitlisten 8443
nginx_start caddy-proxy 8080 < <(proxy_conf 127.0.0.1:8443)
PROXY=$LAST
cap_start caddy-no-sni.pcap lo "" -- tcp port 8443
get http://127.0.0.1:8080/
get https://abc.example.com:8443/ -k --resolve abc.example.com:8443:127.0.0.1
cap_stop
stop "$PROXY" "$CADDY"

# --- established handshakes with ALPN ----------------------------------------
nginx_start alpn 8443 <<EOF
$(tls_server "127.0.0.1:8443 http2" "ssl_protocols TLSv1.2 TLSv1.3;")
EOF
UP=$LAST
sample tls12-alpn.pcap "curl --http2 --tlsv1.2 --tls-max 1.2 -k to nginx (listen ssl http2): TLS 1.2 handshake with ALPN h2,http/1.1 -> h2, 200."
cap_start tls12-alpn.pcap lo "" -- tcp port 8443
get https://abc.example.com:8443/ -k --http2 --tlsv1.2 --tls-max 1.2 --resolve abc.example.com:8443:127.0.0.1
cap_stop
sample tls13-alpn.pcap "curl --http2 --tlsv1.3 -k to the same nginx: TLS 1.3 handshake with ALPN h2,http/1.1 -> h2 (in the encrypted EncryptedExtensions), 200."
cap_start tls13-alpn.pcap lo "" -- tcp port 8443
get https://abc.example.com:8443/ -k --http2 --tlsv1.3 --resolve abc.example.com:8443:127.0.0.1
cap_stop

sample client-rejects-cert.pcap "curl without -k to nginx's self-signed abc.example.com, once forced to TLS 1.2 and once to TLS 1.3: curl sends a plaintext fatal unknown_ca (48) in both (surprise 3)."
cap_start client-rejects-cert.pcap lo "" -- tcp port 8443
get https://abc.example.com:8443/ --tlsv1.2 --tls-max 1.2 --resolve abc.example.com:8443:127.0.0.1
get https://abc.example.com:8443/ --tlsv1.3 --resolve abc.example.com:8443:127.0.0.1
cap_stop

sample nginx-proxy-verify.pcap "Surprise 2: nginx proxy with \`proxy_ssl_server_name on; proxy_ssl_verify on;\` and a trusted CA that did not sign abc's cert: the handshake completes, nginx closes at once without a request (encrypted close_notify, no certificate alert), 502."
nginx_start verify-proxy 8080 <<EOF
$(proxy_conf 127.0.0.1:8443 "proxy_ssl_server_name on; proxy_ssl_verify on; proxy_ssl_trusted_certificate $WORK/ca.crt;")
EOF
PROXY=$LAST
cap_start nginx-proxy-verify.pcap lo "" -- tcp port 8443
get http://127.0.0.1:8080/
cap_stop
stop "$PROXY" "$UP"

sample protocol-version.pcap "nginx 1.22 proxy (default proxy_ssl_protocols TLSv1 TLSv1.1 TLSv1.2, \`proxy_ssl_server_name on;\`) to an nginx upstream with \`ssl_protocols TLSv1.3;\` -> fatal protocol_version (70), 502."
nginx_start tls13only 8443 <<EOF
$(tls_server 127.0.0.1:8443 "ssl_protocols TLSv1.3;")
EOF
UP=$LAST
nginx_start version-proxy 8080 < <(proxy_conf 127.0.0.1:8443 "proxy_ssl_server_name on;")
PROXY=$LAST
cap_start protocol-version.pcap lo "" -- tcp port 8443
get http://127.0.0.1:8080/
cap_stop
stop "$PROXY" "$UP"

# --- custom edges: RST, FIN, silence -----------------------------------------
for mode in rst fin silent; do
	case $mode in
	rst) what="closes with SO_LINGER 0 right after the SNI-less hello: RST, no TLS answer; nginx 502 (peer closed connection in SSL handshake (104))" ;;
	fin) what="closes right after the SNI-less hello without a byte: FIN, no TLS answer; nginx 502 (peer closed connection in SSL handshake)" ;;
	silent) what="reads the SNI-less hello and never answers; nginx (proxy_connect_timeout 2s) gives up after 2 s with FIN and returns 504" ;;
	esac
	sample "no-sni-$mode.pcap" "edge -mode $mode behind the incident's nginx proxy (no SNI): the edge $what."
	start "$WORK/edge" -listen 127.0.0.1:8443 -mode "$mode" -names abc.example.com -backend 127.0.0.1:9443
	EDGE=$LAST
	waitlisten 8443
	nginx_start "proxy-$mode" 8080 < <(proxy_conf 127.0.0.1:8443 "proxy_connect_timeout 2s;")
	PROXY=$LAST
	cap_start "no-sni-$mode.pcap" lo "" -- tcp port 8443
	get http://127.0.0.1:8080/
	cap_stop
	stop "$PROXY" "$EDGE"
done

sample plaintext-upstream.pcap "nginx \`proxy_pass https://\` (no SNI) to a plain-HTTP nginx port: the ClientHello is answered with \`HTTP/1.1 400 Bad Request\` (not TLS), nginx logs wrong version number, 502."
nginx_start plain 8443 <<EOF
server { listen 127.0.0.1:8443; location / { return 200 "plain ok\n"; } }
EOF
UP=$LAST
nginx_start plain-proxy 8080 < <(proxy_conf 127.0.0.1:8443)
PROXY=$LAST
cap_start plaintext-upstream.pcap lo "" -- tcp port 8443
get http://127.0.0.1:8080/
cap_stop
stop "$PROXY" "$UP"

# --- link layers and address families ----------------------------------------
sample ipv6.pcap "Over ::1: curl -k with SNI abc.example.com -> edge (cloudflare mode, [::1]:8443) relays to nginx [::1]:9443 -> 200; then nginx proxy with \`upstream abc.example.com { server [::1]:8443; }\` and no SNI -> fatal handshake_failure (40), 502."
start "$WORK/edge" -listen "[::1]:8443" -mode cloudflare -names abc.example.com -backend "[::1]:9443"
EDGE=$LAST
waitlisten 8443
nginx_start ipv6-proxy 8080 < <(proxy_conf "[::1]:8443")
PROXY=$LAST
cap_start ipv6.pcap lo "" -- tcp port 8443
get "https://abc.example.com:8443/" -k --resolve "abc.example.com:8443:[::1]"
get http://127.0.0.1:8080/
cap_stop
stop "$PROXY" "$EDGE"

# The incident again, written by tcpdump -i any with both cooked header versions.
start "$WORK/edge" -listen 127.0.0.1:8443 -mode cloudflare -names abc.example.com -backend 127.0.0.1:9443
EDGE=$LAST
waitlisten 8443
nginx_start any-proxy 8080 < <(proxy_conf 127.0.0.1:8443 "proxy_ssl_server_name on;")
PROXY=$LAST
sample sll2-any.pcap "\`tcpdump -i any -y LINUX_SLL2\` (DLT 276): curl -k with SNI via the edge to nginx (established, 200), then the fixed nginx proxy (SNI abc.example.com, established, 200)."
LINKTYPE=LINUX_SLL2 cap_start sll2-any.pcap any "" -- tcp port 8443
get "https://abc.example.com:8443/" -k --resolve abc.example.com:8443:127.0.0.1
get http://127.0.0.1:8080/
cap_stop
stop "$PROXY"
nginx_start any-proxy-nosni 8080 < <(proxy_conf 127.0.0.1:8443)
PROXY=$LAST
sample sll-any.pcap "\`tcpdump -i any -y LINUX_SLL\` (DLT 113): the incident (nginx proxy without SNI -> fatal handshake_failure 40, 502) and one curl -k with SNI (established)."
LINKTYPE=LINUX_SLL cap_start sll-any.pcap any "" -- tcp port 8443
get http://127.0.0.1:8080/
get "https://abc.example.com:8443/" -k --resolve abc.example.com:8443:127.0.0.1
cap_stop
stop "$PROXY" "$EDGE"

# --- network namespaces: split hello (small MSS) and VLAN ---------------------
# hwc (client, 10.99.0.1) <-veth hw0|hw1-> hws (server, 10.99.0.2). The
# server's route advertises MSS 100, so the client's ~1.5 KB Go ClientHello
# (X25519MLKEM768 key share) spans ~16 segments. Offloads are off so the
# capture shows wire-sized segments with real checksums.
ip netns add hwc
ip netns add hws
ip link add hw0 netns hwc type veth peer name hw1 netns hws
ip -n hwc addr add 10.99.0.1/24 dev hw0
ip -n hws addr add 10.99.0.2/24 dev hw1
for x in "hwc hw0" "hws hw1"; do
	set -- $x
	ip -n "$1" link set lo up
	ip -n "$1" link set "$2" mtu 1500 up
	ip netns exec "$1" ethtool -K "$2" tso off gso off gro off tx off rx off >>"$LOG" 2>&1 || true
done
ip -n hws route replace 10.99.0.0/24 dev hw1 proto kernel scope link src 10.99.0.2 advmss 100

sample split-hello.pcap "Two netns joined by a veth (MTU 1500, Ethernet, offloads off); the server's route has advmss 100. Go crypto/tls client (samples/internal/tlsclient, X25519MLKEM768) -> edge (cloudflare mode, crypto/tls termination): hello 1 with SNI abc.example.com (established, ALPN http/1.1), hello 2 without SNI (fatal handshake_failure 40). Each ClientHello spans ~16 TCP segments."
start ip netns exec hws "$WORK/edge" -listen 10.99.0.2:8443 -mode cloudflare -names abc.example.com
EDGE=$LAST
waitlisten 8443 hws
cap_start split-hello.pcap hw0 hwc -- tcp port 8443
ip netns exec hwc "$WORK/tlsclient" -addr 10.99.0.2:8443 -sni abc.example.com >>"$LOG" 2>&1 || true
ip netns exec hwc "$WORK/tlsclient" -addr 10.99.0.2:8443 >>"$LOG" 2>&1 || true
cap_stop
stop "$EDGE"

sample reordered.pcap "split-hello.pcap rewritten by samples/internal/mangle -mode reorder: in each flow the ClientHello segments after the first are written in reverse order (bytes unchanged, timestamps kept in file order)."
"$WORK/mangle" -mode reorder -in "$OUT/split-hello.pcap" -out "$OUT/reordered.pcap"
sample retransmitted.pcap "split-hello.pcap rewritten by mangle -mode retransmit: in each flow an exact duplicate of hello segment 2 after segment 3, and after the last hello segment an overlapping retransmission (second half of segment 1 + first half of segment 2, real bytes, checksums recomputed)."
"$WORK/mangle" -mode retransmit -in "$OUT/split-hello.pcap" -out "$OUT/retransmitted.pcap"
sample lossy.pcap "split-hello.pcap rewritten by mangle -mode lose: hello segment 2 of each flow dropped (capture loss: the server still answered), so the ClientHello can never be reassembled."
"$WORK/mangle" -mode lose -in "$OUT/split-hello.pcap" -out "$OUT/lossy.pcap"

# vlan.pcap: hvc <-veth hv0|hv1-> hvs with 802.1Q VLAN 42 sub-interfaces,
# captured on the parent veth so every frame carries the tag. Kernels without
# 8021q (like the one these samples were first made on) get a real veth
# capture of the same exchange tagged afterwards by tcprewrite.
ip netns add hvc
ip netns add hvs
ip link add hv0 netns hvc type veth peer name hv1 netns hvs
VLAN=kernel
for x in "hvc hv0 10.98.0.1" "hvs hv1 10.98.0.2"; do
	set -- $x
	ip -n "$1" link set lo up
	ip -n "$1" link set "$2" up
	ip netns exec "$1" ethtool -K "$2" tso off gso off gro off tx off rx off >>"$LOG" 2>&1 || true
	if [ $VLAN = kernel ] && ip -n "$1" link add link "$2" name "$2.42" type vlan id 42 2>>"$LOG"; then
		ip -n "$1" addr add "$3/24" dev "$2.42"
		ip -n "$1" link set "$2.42" up
	else
		VLAN=tcprewrite
		ip -n "$1" addr add "$3/24" dev "$2"
	fi
done
if [ $VLAN = kernel ]; then
	sample vlan.pcap "802.1Q VLAN 42 between two netns (veth sub-interfaces hv0.42/hv1.42), captured on the parent veth hv0: Go tlsclient -> edge (cloudflare mode): with SNI (established), without SNI (fatal handshake_failure 40)."
	VFILTER=(vlan and tcp port 8443)
else
	sample vlan.pcap "802.1Q VLAN 42: this kernel has no 8021q (\`ip link add ... type vlan\` fails), so a real capture on veth hv0 between two netns (Go tlsclient -> edge in cloudflare mode: with SNI, established; without SNI, fatal handshake_failure 40; default MSS, so each Go hello spans 2 segments) was tagged with \`tcprewrite --enet-vlan=add --enet-vlan-tag=42\`. On a kernel with 8021q the script captures real tagged frames instead."
	VFILTER=(tcp port 8443)
fi
# Wait for the address to leave IPv4 DAD-free setup and the veth carrier.
sleep 0.5
start ip netns exec hvs "$WORK/edge" -listen 10.98.0.2:8443 -mode cloudflare -names abc.example.com
EDGE=$LAST
waitlisten 8443 hvs
cap_start vlan-raw.pcap hv0 hvc -- "${VFILTER[@]}"
ip netns exec hvc "$WORK/tlsclient" -addr 10.98.0.2:8443 -sni abc.example.com >>"$LOG" 2>&1 || true
ip netns exec hvc "$WORK/tlsclient" -addr 10.98.0.2:8443 >>"$LOG" 2>&1 || true
cap_stop
stop "$EDGE"
if [ $VLAN = kernel ]; then
	mv "$OUT/vlan-raw.pcap" "$OUT/vlan.pcap"
else
	tcprewrite --enet-vlan=add --enet-vlan-tag=42 --enet-vlan-pri=0 --enet-vlan-cfi=0 \
		--infile="$OUT/vlan-raw.pcap" --outfile="$OUT/vlan.pcap" >>"$LOG" 2>&1
fi

sample pcapng-mixed.pcapng "\`mergecap -F pcapng\` of incident-missing-sni.pcap (interface 0, Ethernet from lo) and sll2-any.pcap (interface 1, LINUX_SLL2): one pcapng file with two interfaces of different link types."
mergecap -F pcapng -w "$OUT/pcapng-mixed.pcapng" "$OUT/incident-missing-sni.pcap" "$OUT/sll2-any.pcap"

stop "$BACKEND"

# --- install and describe -------------------------------------------------------
summary() {
	# One tshark pass per file: packets, ClientHello SNIs, ServerHellos, alerts.
	tshark -o tcp.reassemble_out_of_order:TRUE -r "$1" -T fields -E occurrence=a -E aggregator=, \
		-e ip.src -e ipv6.src -e tls.handshake.type -e tls.handshake.extensions_server_name \
		-e tls.alert_message.level -e tls.alert_message.desc -e tls.record.content_type 2>/dev/null |
		awk -F'\t' '
		function has(list, v) { return ("," list ",") ~ ("," v ",") }
		{ n++; src = ($1 != "" ? $1 : $2)
		  if (has($3, 1)) { hellos = hellos (hellos == "" ? "" : ", ") ($4 == "" ? "(none)" : $4) }
		  if (has($3, 2)) sh++
		  if (has($7, 21)) { a = ($6 == "" ? "encrypted alert" : "level " $5 " desc " $6) " from " src
		                     alerts = alerts (alerts == "" ? "" : "; ") a } }
		END { printf "%d packets; ClientHello SNI: %s; ServerHellos: %d; alerts: %s", n,
		      (hellos == "" ? "no ClientHello decoded" : hellos), sh, (alerts == "" ? "none" : alerts) }'
}

for name in "${ORDER[@]}"; do
	cp "$OUT/$name" "$SAMPLES/$name"
done

# The README's later "## " sections belong to the other make-*-samples.sh
# scripts: keep them.
OTHERS=$(awk '/^## /{f=1} f' "$SAMPLES/README.md" 2>/dev/null || true)
{
	cat <<'EOF'
# samples

Small captures made with real software on loopback and in network namespaces
by `make-samples.sh` (run it as root on Debian 12; it rebuilds every file
here and this README in well under 3 minutes). No bytes are hand-edited,
except that `reordered`, `retransmitted` and `lossy` are real captures
rewritten by `internal/mangle` (permuted, repeated or dropped real segments).
Ports: 8443 is the captured upstream, 8080 the nginx reverse proxy, 9443 the
real nginx TLS backend behind the edge (`internal/edge`).

Each entry: what it shows and how it was made, then what
`tshark -o tcp.reassemble_out_of_order:TRUE -r FILE -Y tls.handshake.type==1 -T fields -e tls.handshake.extensions_server_name`,
`-Y tls.handshake.type==2` and `-Y tls.alert_message` report (without the
out-of-order option tshark decodes no ClientHello in `reordered.pcap`; it
never decodes one in `lossy.pcap`, whose hello lacks a segment) (alert level 2 = fatal; desc 40
handshake_failure, 48 unknown_ca, 70 protocol_version, 80 internal_error,
112 unrecognized_name; "encrypted alert" = an alert record tshark cannot read).

EOF
	for name in "${ORDER[@]}"; do
		printf -- '- `%s` (%s bytes): %s\n  - tshark: %s\n' "$name" "$(stat -c %s "$SAMPLES/$name")" "${DESC[$name]}" "$(summary "$SAMPLES/$name")"
	done
	echo
	echo "Made on $(. /etc/os-release && echo "$PRETTY_NAME") with $(nginx -v 2>&1 | sed 's/.*: //'), $(haproxy -v | head -1 | awk '{print "HAProxy " $3}'), Caddy $(caddy version | awk '{print $1}'), $(openssl version | awk '{print $1, $2}'), curl $(curl -V | head -1 | awk '{print $2}'), $(go version | awk '{print $3}'), tcpdump $(tcpdump --version 2>&1 | head -1 | awk '{print $3}')."
	if [ -n "$OTHERS" ]; then
		echo
		printf '%s\n' "$OTHERS"
	fi
} >"$SAMPLES/README.md"

echo "== done in $(($(date +%s) - START)) s; nginx and client log: see $LOG (KEEP_WORK=1 keeps it)"

#!/usr/bin/env bash
# make-across-samples.sh makes the captures of issue 13, whose causes only
# show across handshakes: split post-quantum hellos that an SNI router drops
# (sni-router-*.pcap), resets that a firewall sends in the server's name
# (firewall-sni-reset*.pcap), and a mixed crowd of clients to one upstream
# (mixed-crowd.pcap). It writes samples/MANIFEST-across.tsv: one line per TCP
# connection with its client, the path, the expected SNI and finding, and
# what tshark sees (SNI, hello segments, alerts, RSTs with their TTL and time,
# the server's SYN-ACK TTL).
#
# Three namespaces in a row: hwtn-ac (clients) -- hwtn-ar (the router: HAProxy,
# or IP forwarding with iptables) -- hwtn-as (nginx 1.22 with TLS 1.2/1.3,
# abc.example.com and blocked.example.com, ssl_reject_handshake in the
# default server). Client side 198.18.41.0/26, server side 198.18.41.64/26;
# veths with offloads off, MTU 1500: a Go 1.26 ClientHello (X25519MLKEM768,
# ~1.5 KB) spans two segments.
#
# Run as root on Debian 12: samples/make-across-samples.sh
# Idempotent; sends nothing anywhere but its own namespaces.
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "make-across-samples.sh: must run as root (tcpdump, netns)" >&2; exit 1; }
SAMPLES=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$SAMPLES/.." && pwd)
START=$(date +%s)

missing=()
for pair in nginx:nginx haproxy:haproxy openssl:openssl curl:curl tcpdump:tcpdump \
	tshark:tshark ip:iproute2 tc:iproute2 ss:iproute2 ethtool:ethtool iptables:iptables; do
	command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if ((${#missing[@]})); then
	echo "== apt-get install ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
command -v go >/dev/null || { echo "make-across-samples.sh: need the Go toolchain (go.mod's version) on PATH" >&2; exit 1; }

WORK=$(mktemp -d /tmp/hw-across-samples.XXXXXX)
OUT=$WORK/out
mkdir -p "$OUT"
LOG=$WORK/log
PIDS=()
C=hwtn-ac R=hwtn-ar S=hwtn-as
NAMESPACES=("$C" "$R" "$S")
MANIFEST=$WORK/MANIFEST-across.tsv
# shellcheck source=internal/samplelib.sh
. "$SAMPLES/internal/samplelib.sh"
trap lib_cleanup EXIT
for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done

echo "== building tlsclient"
(cd "$REPO" && GOFLAGS=-buildvcs=false go build -o "$WORK/tlsclient" ./samples/internal/tlsclient)

CERT=$WORK/abc.crt KEY=$WORK/abc.key
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	-keyout "$KEY" -out "$CERT" -subj /CN=abc.example.com \
	-addext subjectAltName=DNS:abc.example.com,DNS:blocked.example.com 2>>"$LOG"

# --- namespaces ----------------------------------------------------------------------
for ns in $C $R $S; do
	ip netns add $ns
	ip -n $ns link set lo up
done
veth $C hwtnac0 $R hwtnar0
veth $R hwtnar1 $S hwtnas0
ip -n $C addr add 198.18.41.1/26 dev hwtnac0
ip -n $R addr add 198.18.41.2/26 dev hwtnar0
ip -n $R addr add 198.18.41.65/26 dev hwtnar1
ip -n $S addr add 198.18.41.66/26 dev hwtnas0
ip -n $C route add default via 198.18.41.2
ip -n $S route add default via 198.18.41.65
ip netns exec $R sysctl -qw net.ipv4.ip_forward=1
for ns in $C $R $S; do ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1; done
# Neighbours resolved up front: no ARP in the captures.
mac() { ip netns exec "$1" cat "/sys/class/net/$2/address"; }
ip -n $C neigh replace 198.18.41.2 lladdr "$(mac $R hwtnar0)" dev hwtnac0
ip -n $R neigh replace 198.18.41.1 lladdr "$(mac $C hwtnac0)" dev hwtnar0
ip -n $R neigh replace 198.18.41.66 lladdr "$(mac $S hwtnas0)" dev hwtnar1
ip -n $S neigh replace 198.18.41.65 lladdr "$(mac $R hwtnar1)" dev hwtnas0

nginx_start upstream $S 443 <<EOF
server {
    listen 198.18.41.66:443 ssl default_server;
    ssl_reject_handshake on;
    ssl_protocols TLSv1.2 TLSv1.3;
}
server {
    listen 198.18.41.66:443 ssl;
    server_name abc.example.com blocked.example.com;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate $CERT;
    ssl_certificate_key $KEY;
    location / { return 200 "ok\n"; }
}
EOF
UPSTREAM="nginx 1.22 198.18.41.66:443 (TLS 1.2+1.3, ssl_reject_handshake default server)"

declare -A DESC
ORDER=()
sample() {
	echo "== $1"
	ORDER+=("$1")
	DESC[$1]=$2
	CURRENT=$1
}

# curlc URL [ARGS]: curl from the client namespace, logged.
curlc() {
	local url=$1 code
	shift
	code=$(ip netns exec $C curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" "$url" 2>>"$LOG") || true
	echo "   curl $* $url -> ${code:-000}" | tee -a "$LOG"
}
goc() { # ARGS: Go tlsclient from the client namespace
	if ip netns exec $C "$WORK/tlsclient" "$@" >>"$LOG" 2>&1; then echo "   tlsclient $* -> ok"; else echo "   tlsclient $* -> failed"; fi
}
sslc() { # ARGS: openssl s_client from the client namespace
	if ip netns exec $C timeout 5 openssl s_client -brief "$@" </dev/null >>"$LOG" 2>&1; then echo "   s_client $* -> ok"; else echo "   s_client $* -> failed"; fi
}

# --- the SNI router (HAProxy) ------------------------------------------------------------
# haproxy_router ACCEPT_RULE: HAProxy 2.6 in the router namespace, a TCP
# frontend on 198.18.41.2:443 that routes abc.example.com by req.ssl_sni to
# the upstream and everything else to a backend that rejects.
haproxy_router() {
	cat >"$WORK/haproxy.cfg" <<EOF
global
    log stderr local0 info
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 5s
    timeout client 10s
    timeout server 10s
frontend sni_router
    bind 198.18.41.2:443
    tcp-request inspect-delay 5s
    tcp-request content accept if $1
    use_backend abc if { req.ssl_sni -i abc.example.com }
    default_backend reject
backend abc
    server upstream 198.18.41.66:443
backend reject
    tcp-request content reject
EOF
	start ip netns exec $R haproxy -db -f "$WORK/haproxy.cfg"
	HAP=$LAST
	waitlisten 443 $R
}

# router_flows PATH PARAMS BROKEN: four Go hellos with X25519MLKEM768 (two
# segments) and four classic ones (curl, openssl, Go with tlsmlkem=0),
# interleaved, all with SNI abc.example.com through the router. BROKEN is the
# finding expected for the split ones.
router_flows() {
	local path=$1 params=$2 broken=$3 i
	for i in 1 2 3 4; do
		flow "Go 1.26 crypto/tls (tlsclient${SPLIT:+ $SPLIT}, X25519MLKEM768: ~1.5 KB hello, 2 segments)" "HAProxy 2.6 -> $UPSTREAM" "$path" "$params" abc.example.com "$broken"
		# shellcheck disable=SC2086
		goc -addr 198.18.41.2:443 -sni abc.example.com $SPLIT
		case $i in
		1)
			flow "curl 7.88 (OpenSSL 3.0, ~517-byte hello)" "HAProxy 2.6 -> $UPSTREAM" "$path" "$params" abc.example.com none
			curlc https://abc.example.com/ -k --resolve abc.example.com:443:198.18.41.2
			;;
		2)
			flow "Go 1.26 crypto/tls (tlsclient, GODEBUG=tlsmlkem=0: classic one-segment hello)" "HAProxy 2.6 -> $UPSTREAM" "$path" "$params" abc.example.com none
			# shellcheck disable=SC2086
			GODEBUG=tlsmlkem=0 goc -addr 198.18.41.2:443 -sni abc.example.com $SPLIT
			;;
		3)
			flow "openssl 3.0 s_client -servername abc.example.com" "HAProxy 2.6 -> $UPSTREAM" "$path" "$params" abc.example.com none
			sslc -connect 198.18.41.2:443 -servername abc.example.com
			;;
		4)
			flow "curl 7.88 --curves X25519 (OpenSSL 3.0)" "HAProxy 2.6 -> $UPSTREAM" "$path" "$params" abc.example.com none
			curlc https://abc.example.com/ -k --curves X25519 --resolve abc.example.com:443:198.18.41.2
			;;
		esac
	done
}

MISCONF='{ req.len gt 0 }'
sample sni-router-split-hello.pcap "HAProxy 2.6 TCP frontend routing on \`req.ssl_sni\` with the misconfiguration of FIELD-NOTES note 7: \`tcp-request inspect-delay 5s\` + \`tcp-request content accept if { req.len gt 0 }\` (it decides as soon as any byte arrived), \`use_backend abc if { req.ssl_sni -i abc.example.com }\`, \`default_backend reject\` (\`tcp-request content reject\`). Go tlsclient \`-split 1448 -split-delay 200ms\` writes its X25519MLKEM768 hello as a full first segment and the last ~80 bytes 200 ms later: HAProxy sees no SNI in the first segment and rejects (FIN right after it, RST when the rest arrives). Classic one-segment hellos (curl, curl --curves X25519, openssl s_client, Go with GODEBUG=tlsmlkem=0), same SNI, same router: routed, established. Captured on the client's veth."
haproxy_router "$MISCONF"
SPLIT="-split 1448 -split-delay 200ms"
cap_start sni-router-split-hello.pcap hwtnac0 $C tcp port 443
router_flows "HAProxy SNI router (accept if req.len gt 0)" "hwtn-ac -> HAProxy 198.18.41.2:443 -> 198.18.41.66:443; second hello segment 200 ms late (client writes it in two parts)" large_hello_dropped
cap_stop
stop "$HAP"

sample sni-router-tbf.pcap "The same misconfigured HAProxy router, but every client writes its hello in one piece and the network makes the second segment late: \`tc qdisc add dev hwtnac0 root tbf rate 20kbit burst 1600 latency 2s\` on the client's uplink (the first 1514-byte frame drains the bucket; the next ~140-byte one waits ~50 ms). Go X25519MLKEM768 hellos are rejected as in sni-router-split-hello.pcap; classic one-segment hellos work."
haproxy_router "$MISCONF"
SPLIT=
ip netns exec $C tc qdisc add dev hwtnac0 root tbf rate 20kbit burst 1600 latency 2s
cap_start sni-router-tbf.pcap hwtnac0 $C tcp port 443
router_flows "HAProxy SNI router (accept if req.len gt 0)" "hwtn-ac -> HAProxy 198.18.41.2:443 -> 198.18.41.66:443; client uplink tc tbf rate 20kbit burst 1600" large_hello_dropped
cap_stop
ip netns exec $C tc qdisc del dev hwtnac0 root
stop "$HAP"

sample sni-router-fixed.pcap "The usual fix: \`tcp-request content accept if { req.ssl_hello_type 1 }\` (inspect-delay 5s) instead of \`req.len gt 0\`, the same clients as sni-router-split-hello.pcap (split Go hellos, 200 ms gap)."
haproxy_router '{ req.ssl_hello_type 1 }'
SPLIT="-split 1448 -split-delay 200ms"
cap_start sni-router-fixed.pcap hwtnac0 $C tcp port 443
router_flows "HAProxy SNI router (accept if req.ssl_hello_type 1)" "hwtn-ac -> HAProxy 198.18.41.2:443 -> 198.18.41.66:443; second hello segment 200 ms late" none
cap_stop
stop "$HAP"
SPLIT=

# --- the firewall that resets on the SNI -----------------------------------------------
sample firewall-sni-reset.pcap "A router (IP forwarding, no proxy) with \`iptables -A FORWARD -p tcp --dport 443 -m string --string blocked.example.com --algo bm -j REJECT --reject-with tcp-reset\`: a hello naming blocked.example.com is dropped and the router answers with a RST in the server's name: its IP TTL is the router's own 64, where the server's packets (SYN-ACK) arrive with 63 (one hop), and it comes a fraction of a millisecond after the hello. The server never sees that hello. Hellos naming abc.example.com pass to the same server. Clients curl, Go (X25519MLKEM768: only the first segment holds the name) and openssl s_client, each with both names. Captured on the client's veth."
ip netns exec $R iptables -A FORWARD -p tcp --dport 443 -m string --string blocked.example.com --algo bm -j REJECT --reject-with tcp-reset
PATHD="router with iptables string REJECT --reject-with tcp-reset"
PARAMS="hwtn-ac 198.18.41.1 -> router 198.18.41.2/.65 -> 198.18.41.66:443; rule on \"blocked.example.com\""
cap_start firewall-sni-reset-server-side.pcap hwtnas0 $S tcp port 443
SCAP=$CAPPID
cap_start firewall-sni-reset.pcap hwtnac0 $C tcp port 443
for client in curl go openssl; do
	for name in blocked.example.com abc.example.com; do
		want=none
		[ $name = blocked.example.com ] && want=middlebox_reset
		case $client in
		curl)
			flow "curl 7.88 (OpenSSL 3.0)" "$UPSTREAM" "$PATHD" "$PARAMS" $name $want
			curlc "https://$name/" -k --resolve "$name:443:198.18.41.66"
			;;
		go)
			flow "Go 1.26 crypto/tls (tlsclient, X25519MLKEM768)" "$UPSTREAM" "$PATHD" "$PARAMS" $name $want
			goc -addr 198.18.41.66:443 -sni $name
			;;
		openssl)
			flow "openssl 3.0 s_client -servername $name" "$UPSTREAM" "$PATHD" "$PARAMS" $name $want
			sslc -connect 198.18.41.66:443 -servername $name
			;;
		esac
	done
done
cap_stop
CAPPID=$SCAP cap_stop
ip netns exec $R iptables -F FORWARD
sample firewall-sni-reset-server-side.pcap "The same six connections as firewall-sni-reset.pcap captured at the same time on the server's veth (hwtnas0): for the blocked name the server sees SYN, SYN-ACK, ACK and no hello, and sends no RST. For Go the hello's second segment (without the name) passes the firewall and arrives out of order; the server answers with a duplicate ACK, which the client side sees after the router's RST, with TTL 63."
# (its flows are the same as the client side's; recorded again for the manifest)
for client in curl go openssl; do
	for name in blocked.example.com abc.example.com; do
		want=none note= sni=$name
		if [ $name = blocked.example.com ]; then
			want=middlebox_reset sni="?" note="server side: the client sent SNI blocked.example.com; the router dropped the hello (its first segment) and reset the client"
		fi
		case $client in
		curl) flow "curl 7.88 (OpenSSL 3.0)" "$UPSTREAM" "$PATHD" "$PARAMS" "$sni" $want "$note" ;;
		go) flow "Go 1.26 crypto/tls (tlsclient, X25519MLKEM768)" "$UPSTREAM" "$PATHD" "$PARAMS" "$sni" $want "$note" ;;
		openssl) flow "openssl 3.0 s_client -servername $name" "$UPSTREAM" "$PATHD" "$PARAMS" "$sni" $want "$note" ;;
		esac
	done
done

# --- a mixed crowd to one upstream --------------------------------------------------------
sample mixed-crowd.pcap "30 handshakes to one upstream (the nginx with ssl_reject_handshake in the default server) through the router (plain forwarding), in a fixed interleaved order, from ten client set-ups: curl (by name, with --http2, or to the IP literal), Go tlsclient (X25519MLKEM768, with and without -sni; and with GODEBUG=tlsmlkem=0), openssl s_client (-servername or -noservername), and an nginx 1.22 reverse proxy (TLS 1.2 only, session reuse off) with and without \`proxy_ssl_server_name\`. 9 send no SNI (curl to the IP literal, Go without -sni, openssl -noservername, the proxy without proxy_ssl_server_name) and fail with fatal unrecognized_name (112); the 21 with SNI work. Hello size, segment count, TLS versions offered and ALPN vary on both sides: only the SNI's presence separates failures from successes."
nginx_start crowd-proxy $C 8080 <<EOF
upstream abc.example.com { server 198.18.41.66:443; }
server {
    listen 127.0.0.1:8080;
    proxy_ssl_session_reuse off;
    location /sni { proxy_pass https://abc.example.com/; proxy_ssl_server_name on; }
    location /nosni { proxy_pass https://abc.example.com/; }
}
EOF
PROXY=$LAST
PATHD="router (plain IP forwarding)"
PARAMS="198.18.41.1 -> 198.18.41.66:443 via 198.18.41.2"
crowd() { # KIND: one handshake of that kind of client
	case $1 in
	curl) flow "curl 7.88" "$UPSTREAM" "$PATHD" "$PARAMS" abc.example.com none
		curlc https://abc.example.com/ -k --resolve abc.example.com:443:198.18.41.66 ;;
	curl-h2) flow "curl 7.88 --http2 (ALPN h2,http/1.1)" "$UPSTREAM" "$PATHD" "$PARAMS" abc.example.com none
		curlc https://abc.example.com/ -k --http2 --resolve abc.example.com:443:198.18.41.66 ;;
	curl-ip) flow "curl 7.88 to https://198.18.41.66/ (IP literal: no SNI)" "$UPSTREAM" "$PATHD" "$PARAMS" - missing_sni "fatal unrecognized_name (112)"
		curlc https://198.18.41.66/ -k ;;
	go) flow "Go 1.26 crypto/tls (tlsclient, X25519MLKEM768, 2 segments)" "$UPSTREAM" "$PATHD" "$PARAMS" abc.example.com none
		goc -addr 198.18.41.66:443 -sni abc.example.com ;;
	go-nosni) flow "Go 1.26 crypto/tls (tlsclient, no -sni, X25519MLKEM768)" "$UPSTREAM" "$PATHD" "$PARAMS" - missing_sni "fatal unrecognized_name (112)"
		goc -addr 198.18.41.66:443 ;;
	go-classic) flow "Go 1.26 crypto/tls (tlsclient, GODEBUG=tlsmlkem=0)" "$UPSTREAM" "$PATHD" "$PARAMS" abc.example.com none
		GODEBUG=tlsmlkem=0 goc -addr 198.18.41.66:443 -sni abc.example.com -alpn h2,http/1.1 ;;
	openssl) flow "openssl 3.0 s_client -servername abc.example.com" "$UPSTREAM" "$PATHD" "$PARAMS" abc.example.com none
		sslc -connect 198.18.41.66:443 -servername abc.example.com ;;
	openssl-nosni) flow "openssl 3.0 s_client -noservername" "$UPSTREAM" "$PATHD" "$PARAMS" - missing_sni "fatal unrecognized_name (112)"
		sslc -connect 198.18.41.66:443 -noservername ;;
	proxy) flow "nginx 1.22 proxy_pass https:// + proxy_ssl_server_name on (TLS 1.2 only)" "$UPSTREAM" "$PATHD" "$PARAMS" abc.example.com none
		curlc http://127.0.0.1:8080/sni ;;
	proxy-nosni) flow "nginx 1.22 proxy_pass https:// without proxy_ssl_server_name (TLS 1.2 only)" "$UPSTREAM" "$PATHD" "$PARAMS" - missing_sni "fatal unrecognized_name (112); nginx 502"
		curlc http://127.0.0.1:8080/nosni ;;
	esac
}
CROWD=(curl go proxy openssl-nosni go-classic curl-h2 proxy-nosni go openssl curl
	go-nosni proxy curl-ip go-classic curl openssl go proxy-nosni curl-h2 proxy
	openssl-nosni go curl go-nosni openssl go-classic proxy curl-ip curl proxy-nosni)
cap_start mixed-crowd.pcap hwtnac0 $C tcp port 443
for kind in "${CROWD[@]}"; do crowd "$kind"; done
cap_stop
stop "$PROXY"

# --- install, verify, describe ---------------------------------------------------------------
for name in "${ORDER[@]}"; do cp "$OUT/$name" "$SAMPLES/$name"; done
printf 'file\tflow\tclient\tserver\tpath\tpath_params\tflow (tshark)\texpected_sni\texpected_finding\tlayers (tshark)\ttshark_observed\tnote\n' >"$MANIFEST"
for name in "${ORDER[@]}"; do manifest_add "$name"; done
cp "$MANIFEST" "$SAMPLES/MANIFEST-across.tsv"

# ttls FILE: the IP TTLs of the server's SYN-ACKs and of the RSTs the client received.
ttls() {
	local synack rst
	synack=$(tshark -r "$1" -Y 'tcp.flags.syn==1 && tcp.flags.ack==1' -T fields -e ip.ttl 2>/dev/null | sort | uniq -c | awk '{printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1}')
	rst=$(tshark -r "$1" -Y 'tcp.flags.reset==1 && tcp.srcport==443' -T fields -e ip.ttl 2>/dev/null | sort | uniq -c | awk '{printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1}')
	echo "SYN-ACK TTL ${synack:-none}; RST from port 443 TTL ${rst:-none}"
}
{
	echo "Made by \`make-across-samples.sh\` (root, Debian 12): client, router and"
	echo "server namespaces in a row. Per-connection details (client, path,"
	echo "expected SNI and finding, what tshark sees: hello segments, alerts, RSTs"
	echo "with TTL and delay, the SYN-ACK's TTL) are in \`MANIFEST-across.tsv\`."
	echo "In the manifest, expected_sni \`-\` means a hello without a server_name"
	echo "extension and \`?\` a connection whose hello never reached this capture"
	echo "point; expected_finding is the finding the diagnosis should name (\`none\`"
	echo "for a working handshake); tshark_observed is computed from the file by"
	echo "\`flows\` in \`internal/samplelib.sh\` (tshark fields, innermost IP layer),"
	echo "and the script fails when its SNI or connection count disagrees."
	echo
	for name in "${ORDER[@]}"; do
		snis=$(tshark -r "$SAMPLES/$name" -Y tls.handshake.type==1 -T fields -e tls.handshake.extensions_server_name 2>/dev/null |
			awk '{ s = s (s == "" ? "" : ", ") ($0 == "" ? "(none)" : $0) } END { print s }')
		printf -- '- `%s` (%s bytes): %s\n  - tshark: %s packets; ClientHello SNI: %s; %s\n' "$name" "$(stat -c %s "$SAMPLES/$name")" "${DESC[$name]}" \
			"$(tshark -r "$SAMPLES/$name" 2>/dev/null | wc -l)" "${snis:-none decoded}" "$(ttls "$SAMPLES/$name")"
	done
	echo
	echo "Made on $(. /etc/os-release && echo "$PRETTY_NAME"), Linux $(uname -r), with $(nginx -v 2>&1 | sed 's/.*: //'), $(haproxy -v | head -1 | awk '{print "HAProxy " $3}'), $(iptables -V), $(openssl version | awk '{print $1, $2}'), curl $(curl -V | head -1 | awk '{print $2}'), $(go version | awk '{print $3}'), tcpdump $(tcpdump --version 2>&1 | head -1 | awk '{print $3}')."
} >"$WORK/readme.part"
readme_section "Across handshakes: split hellos, middlebox resets, a mixed crowd (issue 13)" "$WORK/readme.part"

echo "== done in $(($(date +%s) - START)) s; log: $LOG (KEEP_WORK=1 keeps it)"
exit $MISMATCH

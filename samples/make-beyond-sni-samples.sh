#!/usr/bin/env bash
# make-beyond-sni-samples.sh rebuilds the samples of issue 20 ("beyond the
# missing SNI"): client certificates required or from an untrusted CA,
# certificates for another name, expired or not yet valid, a missing SNI
# behind nginx proxy_ssl_verify, ALPN refusals, TLS 1.3's hidden answers and
# ClientHellos whose first TCP segment carries 1-5 bytes — each made with
# real software (nginx, HAProxy, openssl s_server/s_client, curl, Go
# crypto/tls via internal/tlsprobe and internal/tlsserve), TLS 1.2 and 1.3
# where both exist, each with a working twin. It writes, in samples/:
#   beyond-*.pcap                 the captures (upstream leg only)
#   beyond-*.nginx-error.log      the error log of nginx when nginx was the client
#   beyond-*.nginx-upstream-error.log  the error log of nginx when it was the server
#   beyond-*.keylog               SSLKEYLOGFILE secrets when curl, Go or openssl
#                                 took part (tshark -o tls.keylog_file:FILE decrypts)
#   MANIFEST-beyond-sni.tsv       one row per handshake: software, version, the
#                                 expected first finding, what tshark sees
# and its section of README.md.
#
# Run as root on Debian 12 from anywhere: samples/make-beyond-sni-samples.sh
# Loopback only: servers on 127.0.0.20:20443 (captured; 127.0.0.20:443 for
# the split hellos), the nginx proxy on 127.0.0.20:20080 (driven by curl, not
# captured). Idempotent; takes ~5 min on an idle machine.
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "make-beyond-sni-samples.sh: must run as root (tcpdump)" >&2; exit 1; }
SAMPLES=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$SAMPLES/.." && pwd)
START=$(date +%s)

# --- tools -------------------------------------------------------------------
missing=()
for pair in nginx:nginx haproxy:haproxy openssl:openssl curl:curl \
	tcpdump:tcpdump tshark:tshark ss:iproute2; do
	command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if ((${#missing[@]})); then
	echo "== apt-get install ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
command -v go >/dev/null || { echo "make-beyond-sni-samples.sh: need the Go toolchain (go.mod's version) on PATH" >&2; exit 1; }

ADDR=127.0.0.20
UP=20443 # the captured upstream
PX=20080 # the nginx proxy's plain-HTTP side
WORK=$(mktemp -d /tmp/hw-beyond-sni.XXXXXX)
OUT=$WORK/out
mkdir -p "$OUT"
LOG=$WORK/log
KEYS=$WORK/all.keylog # every program that can appends its secrets here
: >"$KEYS"
PIDS=()
NAMESPACES=() # loopback only
# start, stop, forget, lib_cleanup, readme_section
# shellcheck source=internal/samplelib.sh
. "$SAMPLES/internal/samplelib.sh"
trap lib_cleanup EXIT
trap 'exit 1' INT TERM
trap 'echo "make-beyond-sni-samples.sh: line $LINENO: $BASH_COMMAND failed" >&2' ERR

for port in $UP $PX; do
	if ss -Hltn "( sport = :$port )" | grep -q .; then
		echo "make-beyond-sni-samples.sh: port $port is busy on this host" >&2
		exit 1
	fi
done

echo "== building tlsprobe, tlsserve, wiresummary"
for p in tlsprobe tlsserve wiresummary; do
	(cd "$REPO" && GOFLAGS=-buildvcs=false go build -o "$WORK/$p" "./samples/internal/$p")
done

# --- certificates ------------------------------------------------------------
# One CA the clients and servers trust; leaves for the right name, another
# name, expired (validity ended 30 days ago), not yet valid (starts in 30
# days); a client certificate from the CA; a rogue CA the servers and clients
# do not trust, with a client certificate and an abc.example.com leaf of its own.
C=$WORK/certs
mkdir -p "$C/newcerts"
: >"$C/index.txt"
echo 1000 >"$C/serial"
cat >"$C/ca.cnf" <<EOF
[ ca ]
default_ca = hw
[ hw ]
dir = $C
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
serial = \$dir/serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[ anything ]
commonName = supplied
[ server ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = \$ENV::SAN
[ client ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
EOF
mkca() { # mkca NAME CN
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
		-keyout "$C/$1.key" -out "$C/$1.crt" -subj "/CN=$2" 2>>"$LOG"
}
utc() { date -u -d "$1" +%Y%m%d%H%M%SZ; }
# leaf NAME CA EXTENSIONS CN SAN START END
leaf() {
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$C/$1.key" -out "$C/$1.csr" -subj "/CN=$4" 2>>"$LOG"
	SAN=${5:-DNS:none.invalid} openssl ca -config "$C/ca.cnf" -batch -notext \
		-cert "$C/$2.crt" -keyfile "$C/$2.key" -in "$C/$1.csr" -out "$C/$1.crt" \
		-extensions "$3" -startdate "$6" -enddate "$7" >>"$LOG" 2>&1
	cat "$C/$1.crt" "$C/$1.key" >"$C/$1.pem"
}
NOW=$(utc '-1 hour')
LATER=$(utc '+90 days')
mkca ca "hellowatch beyond-sni CA"
mkca rogue "hellowatch rogue CA"
leaf abc ca server abc.example.com DNS:abc.example.com "$NOW" "$LATER"
leaf other ca server other.example.com DNS:other.example.com "$NOW" "$LATER"
leaf expired ca server abc.example.com DNS:abc.example.com "$(utc '-60 days')" "$(utc '-30 days')"
leaf future ca server abc.example.com DNS:abc.example.com "$(utc '+30 days')" "$(utc '+60 days')"
leaf client ca client "hellowatch client" "" "$NOW" "$LATER"
leaf expiredclient ca client "hellowatch expired client" "" "$(utc '-60 days')" "$(utc '-30 days')"
leaf rogueclient rogue client "hellowatch rogue client" "" "$NOW" "$LATER"
leaf rogueabc rogue server abc.example.com DNS:abc.example.com "$NOW" "$LATER"

# --- helpers -----------------------------------------------------------------
# listening PORT: wait until something listens on TCP PORT (samplelib's
# waitlisten looks in a namespace).
listening() {
	local i
	for i in $(seq 100); do
		ss -Hltn "( sport = :$1 )" | grep -q . && return 0
		sleep 0.05
	done
	echo "make-beyond-sni-samples.sh: nothing listens on port $1" >&2
	tail -20 "$LOG" >&2
	exit 1
}

# nginx_lo NAME PORT...: start nginx with http-level config from stdin;
# the pid lands in LAST, the error log's path in NGXLOG (samplelib's
# nginx_start runs it in a namespace).
nginx_lo() {
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
    ssl_protocols TLSv1.2 TLSv1.3; # nginx 1.22's default has no TLS 1.3
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
EOF
		cat
		echo "}"
	} >"$d/nginx.conf"
	NGXLOG=$d/logs/error.log
	start nginx -p "$d" -c "$d/nginx.conf" -e "$NGXLOG"
	for p in "$@"; do listening "$p"; done
}

# nginx_server CERT [DIRECTIVES]: an nginx upstream for abc.example.com on
# $ADDR:$UP presenting CERT; SRVLOG names its error log.
nginx_server() {
	local cert=$1
	shift
	nginx_lo "up-$cert-$RANDOM" $UP <<EOF
server {
    listen $ADDR:$UP ssl;
    server_name abc.example.com;
    ssl_certificate $C/$cert.crt;
    ssl_certificate_key $C/$cert.key;
    ${1:-}
    location / { return 200 "abc ok\n"; }
}
EOF
	SERVER_PID=$LAST
	SRVLOG=$NGXLOG
}

# nginx_proxy TLS DIRECTIVES: the incident's reverse proxy on $ADDR:$PX,
# proxy_pass https://abc.example.com/ (upstream $ADDR:$UP) speaking TLS 1.2
# or 1.3 only; CLILOG names its error log.
nginx_proxy() {
	nginx_lo "proxy-$RANDOM" $PX <<EOF
upstream abc.example.com { server $ADDR:$UP; }
server {
    listen $ADDR:$PX;
    location / {
        proxy_pass https://abc.example.com/;
        proxy_ssl_protocols TLSv$1;
        $2
    }
}
EOF
	PROXY_PID=$LAST
	CLILOG=$NGXLOG
}

# tlsver 1.2|1.3: the flags each client takes to speak only that version.
curl_tls() { [ "$1" = 1.2 ] && echo "--tlsv1.2 --tls-max 1.2" || echo "--tlsv1.3"; }

# Clients. Each prints one line: what the client reported.
# run_proxy: GET through the nginx proxy.
run_proxy() {
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://$ADDR:$PX/" 2>>"$LOG") || true
	echo "nginx answered its client HTTP ${code:-000}"
}
# run_curl TLS [CURL ARGS]: curl straight to the upstream, verifying with the CA.
run_curl() {
	local v=$1 code err rc=0
	shift
	# shellcheck disable=SC2046
	code=$(SSLKEYLOGFILE=$KEYS curl -sS -o /dev/null -w '%{http_code}' --max-time 10 $(curl_tls "$v") \
		--cacert "$C/ca.crt" --resolve "abc.example.com:$UP:$ADDR" "$@" "https://abc.example.com:$UP/" 2>"$WORK/curl.err") || rc=$?
	err=$(sed -n 1p "$WORK/curl.err")
	echo "curl exit $rc, HTTP ${code:-000}${err:+; $err}"
}
# run_go TLS [TLSPROBE ARGS]: the Go client, verifying with the CA.
run_go() {
	local v=$1
	shift
	"$WORK/tlsprobe" -addr "$ADDR:$UP" -min "$v" -max "$v" -keylog "$KEYS" "$@" 2>&1 | tr '\n' ' ' | sed 's/ *$//'
	echo
}
# run_sclient TLS: openssl s_client -verify_return_error -verify_hostname,
# one GET (Connection: close) on stdin.
run_sclient() {
	local v=$1 rc=0 err
	printf 'GET / HTTP/1.1\r\nHost: abc.example.com\r\nConnection: close\r\n\r\n' |
		timeout 10 openssl s_client -connect "$ADDR:$UP" -servername abc.example.com -CAfile "$C/ca.crt" \
			-verify_return_error -verify_hostname abc.example.com "-tls1_${v#1.}" -keylogfile "$KEYS" -quiet \
			>"$WORK/sclient.out" 2>"$WORK/sclient.err" || rc=$?
	local out
	out=$(sed -n 1p "$WORK/sclient.out" | tr -d '\r')
	err=$(grep -E 'verify error|error:|alert' "$WORK/sclient.err" | head -3 | tr '\n' ' ' | sed 's/ *$//')
	echo "s_client exit $rc${out:+; $out}${err:+; $err}"
}

# Bookkeeping. begin NAME DESCRIPTION starts a capture; conn records one
# handshake of it (and runs its client); end stops the capture and files the
# logs. CLILOG / SRVLOG name the nginx logs to cut (empty: none).
declare -A DESC
ORDER=()
ROWS=() # file \t flow \t client \t server \t tls \t expected \t nginx-line \t client-result
begin() {
	CUR=$1
	FLOW=0
	echo "== $CUR"
	ORDER+=("$CUR")
	DESC[$CUR]=$2
	CLIOFF=0 SRVOFF=0
	[ -n "${CLILOG:-}" ] && CLIOFF=$(stat -c %s "$CLILOG")
	[ -n "${SRVLOG:-}" ] && SRVOFF=$(stat -c %s "$SRVLOG")
	local err=$WORK/$CUR.tcpdump.err i
	# --immediate-mode: with TPACKET_V3's blocks, a tcpdump stopped while the
	# machine is busy can lose all but the first packets (seen: a lone SYN).
	tcpdump -U --immediate-mode -n -Z root -s 0 -i lo -w "$OUT/$CUR.pcap" host $ADDR and tcp port $UP 2>"$err" &
	CAPPID=$!
	PIDS+=("$CAPPID")
	for i in $(seq 100); do
		grep -qs listening "$err" && break
		sleep 0.05
	done
	sleep 0.3
}
# conn TLS EXPECTED SNI CLIENT SERVER -- COMMAND...: the next connection of
# the capture (SNI "-": the hello has none; the manifest check compares it
# with what tshark decodes).
conn() {
	local v=$1 want=$2 sni=$3 client=$4 server=$5 res
	shift 6
	FLOW=$((FLOW + 1))
	res=$("$@") || true
	echo "   [$FLOW] $res" | tee -a "$LOG"
	ROWS+=("$CUR.pcap	$FLOW	$client	$server	TLS $v	$sni	$want	$res")
}
end() {
	# TPACKET_V3 hands the tail over late: stop tcpdump > 1 s after the last packet.
	sleep 1.2
	kill -INT "$CAPPID" 2>/dev/null || true
	wait "$CAPPID" 2>/dev/null || true
	forget "$CAPPID"
	# Every connection made must be in the file, up to its FIN or RST.
	local got
	got=$(tshark -r "$OUT/$CUR.pcap" -Y 'tcp.flags.fin == 1 || tcp.flags.reset == 1' -T fields -e tcp.stream 2>/dev/null | sort -u | wc -l)
	if [ "$got" != "$FLOW" ]; then
		echo "make-beyond-sni-samples.sh: $CUR.pcap holds $got closed connections of $FLOW: capture lost packets, run again" >&2
		exit 1
	fi
	if [ -n "${CLILOG:-}" ]; then tail -c +$((CLIOFF + 1)) "$CLILOG" >"$OUT/$CUR.nginx-error.log"; fi
	if [ -n "${SRVLOG:-}" ]; then tail -c +$((SRVOFF + 1)) "$SRVLOG" >"$OUT/$CUR.nginx-upstream-error.log"; fi
	# The secrets of this capture's sessions only, picked by client random.
	local r
	: >"$OUT/$CUR.keylog"
	for r in $(tshark -r "$OUT/$CUR.pcap" -Y tls.handshake.type==1 -T fields -e tls.handshake.random 2>/dev/null | tr -d :); do
		grep -i " $r " "$KEYS" >>"$OUT/$CUR.keylog" || true
	done
	[ -s "$OUT/$CUR.keylog" ] || rm -f "$OUT/$CUR.keylog"
}

NGINX_V=$(nginx -v 2>&1 | sed 's/.*nginx\//nginx /')
HAPROXY_V="HAProxy $(haproxy -v | awk 'NR == 1 {print $3}')"
OPENSSL_V=$(openssl version | awk '{print "OpenSSL", $2}')
CURL_V="curl $(curl -V | awk 'NR == 1 {print $2}')"
GO_V="Go $(go env GOVERSION | sed 's/^go//') crypto/tls"
PROXY="$NGINX_V proxy_pass https"

# === 1. a client certificate required, none sent ==============================
# and 2. a client certificate from an untrusted CA, with the working twins.
# openssl s_server -Verify 1 (a certificate is required) ----------------------
# The CertificateRequest lists the CA, so a Go client sends only a
# certificate issued by it (see beyond-ccert-unlisted-nginx-go): Go's
# rejected certificate here is an expired one from the right CA. (With
# -no_ca_names, OpenSSL 3.0 sends an empty certificate_authorities extension
# in TLS 1.3 and Go answers decode_error (50).)
start openssl s_server -accept "$ADDR:$UP" -cert "$C/abc.crt" -key "$C/abc.key" -CAfile "$C/ca.crt" \
	-Verify 1 -verify_return_error -www -keylogfile "$KEYS"
SERVER_PID=$LAST
listening $UP
CLILOG="" SRVLOG=""
SRV="$OPENSSL_V s_server -Verify 1 -CAfile ca"
for v in 1.2 1.3; do
	t=tls${v/./}
	begin "beyond-ccert-required-openssl-curl-$t" "curl (no --cert) to \`openssl s_server -Verify 1\`: the server asks for a client certificate, the client sends none."
	conn $v client_certificate_required abc.example.com "$CURL_V (no --cert)" "$SRV" -- run_curl $v
	end
	begin "beyond-ccert-rejected-openssl-curl-$t" "curl --cert with a certificate from a CA the server does not trust, to \`openssl s_server -Verify 1\`."
	conn $v client_certificate_rejected abc.example.com "$CURL_V --cert rogue-client" "$SRV" -- run_curl $v --cert "$C/rogueclient.crt" --key "$C/rogueclient.key"
	end
	begin "beyond-ccert-ok-openssl-curl-$t" "Working twin: curl --cert with a certificate from the server's CA, to \`openssl s_server -Verify 1\`."
	conn $v none abc.example.com "$CURL_V --cert client" "$SRV" -- run_curl $v --cert "$C/client.crt" --key "$C/client.key"
	end
	begin "beyond-ccert-expired-openssl-go-$t" "Go client with an expired client certificate from the server's CA, to \`openssl s_server -Verify 1\`."
	conn $v client_certificate_rejected abc.example.com "$GO_V (expired client certificate)" "$SRV" -- run_go $v -sni abc.example.com -ca "$C/ca.crt" -cert "$C/expiredclient.crt" -key "$C/expiredclient.key"
	end
	begin "beyond-ccert-ok-openssl-go-$t" "Working twin: Go client with a certificate from the server's CA, to \`openssl s_server -Verify 1\`."
	conn $v none abc.example.com "$GO_V (client certificate)" "$SRV" -- run_go $v -sni abc.example.com -ca "$C/ca.crt" -cert "$C/client.crt" -key "$C/client.key"
	end
done
stop "$SERVER_PID"

# HAProxy verify required -------------------------------------------------------
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
    bind $ADDR:$UP ssl crt $C/abc.pem ca-file $C/ca.crt verify required
    http-request return status 200 content-type text/plain string ok
EOF
start haproxy -db -f "$WORK/haproxy.cfg"
SERVER_PID=$LAST
listening $UP
SRVLOG=""
SRV="$HAPROXY_V bind ssl ca-file ca verify required"
for v in 1.2 1.3; do
	t=tls${v/./}
	nginx_proxy $v "proxy_ssl_server_name on;"
	begin "beyond-ccert-required-haproxy-nginx-$t" "nginx proxy without \`proxy_ssl_certificate\` to HAProxy \`verify required\`: no client certificate."
	conn $v client_certificate_required abc.example.com "$PROXY, no proxy_ssl_certificate" "$SRV" -- run_proxy
	end
	stop "$PROXY_PID"
	CLILOG=""
	begin "beyond-ccert-required-haproxy-go-$t" "Go client without a certificate to HAProxy \`verify required\`."
	conn $v client_certificate_required abc.example.com "$GO_V (no Certificates)" "$SRV" -- run_go $v -sni abc.example.com -ca "$C/ca.crt"
	end
	nginx_proxy $v "proxy_ssl_server_name on; proxy_ssl_certificate $C/rogueclient.crt; proxy_ssl_certificate_key $C/rogueclient.key;"
	begin "beyond-ccert-rejected-haproxy-nginx-$t" "nginx proxy whose \`proxy_ssl_certificate\` comes from a CA HAProxy does not trust (HAProxy \`verify required\`, ca-file = the samples CA)."
	conn $v client_certificate_rejected abc.example.com "$PROXY, proxy_ssl_certificate rogue-client" "$SRV" -- run_proxy
	end
	stop "$PROXY_PID"
	nginx_proxy $v "proxy_ssl_server_name on; proxy_ssl_certificate $C/client.crt; proxy_ssl_certificate_key $C/client.key;"
	begin "beyond-ccert-ok-haproxy-nginx-$t" "Working twin: nginx proxy with \`proxy_ssl_certificate\` from HAProxy's CA."
	conn $v none abc.example.com "$PROXY, proxy_ssl_certificate client" "$SRV" -- run_proxy
	end
	stop "$PROXY_PID"
done
CLILOG=""
stop "$SERVER_PID"

# nginx ssl_verify_client on: nginx does not fail the handshake (its verify
# callback accepts everything); it completes it and answers HTTP 400 ("No
# required SSL certificate was sent" / "The SSL certificate error") inside
# the encrypted stream. ssl_verify_client optional is the same on the wire
# up to the response (200).
nginx_server abc "ssl_client_certificate $C/ca.crt; ssl_verify_client on;"
SRV="$NGINX_V ssl_verify_client on"
for v in 1.2 1.3; do
	t=tls${v/./}
	begin "beyond-ccert-required-nginx-go-$t" "Go client without a certificate to nginx \`ssl_verify_client on\`: the handshake completes (empty client Certificate), nginx answers HTTP 400 inside."
	conn $v client_certificate_required abc.example.com "$GO_V (no Certificates)" "$SRV" -- run_go $v -sni abc.example.com -ca "$C/ca.crt"
	end
	begin "beyond-ccert-unlisted-nginx-go-$t" "Go client holding only a certificate from a CA that is not in nginx's CertificateRequest list, to nginx \`ssl_verify_client on\`: Go sends an empty Certificate (it sends only a certificate the server's list accepts), nginx answers HTTP 400 inside."
	conn $v client_certificate_required abc.example.com "$GO_V (rogue-client certificate, not listed)" "$SRV" -- run_go $v -sni abc.example.com -ca "$C/ca.crt" -cert "$C/rogueclient.crt" -key "$C/rogueclient.key"
	end
	begin "beyond-ccert-rejected-nginx-curl-$t" "curl --cert with a certificate from a CA nginx does not trust, to nginx \`ssl_verify_client on\`: the handshake completes, nginx answers HTTP 400 (The SSL certificate error) inside."
	conn $v client_certificate_rejected abc.example.com "$CURL_V --cert rogue-client" "$SRV" -- run_curl $v --cert "$C/rogueclient.crt" --key "$C/rogueclient.key"
	end
	begin "beyond-ccert-ok-nginx-go-$t" "Working twin: Go client with a certificate from nginx's CA."
	conn $v none abc.example.com "$GO_V (client certificate)" "$SRV" -- run_go $v -sni abc.example.com -ca "$C/ca.crt" -cert "$C/client.crt" -key "$C/client.key"
	end
done
stop "$SERVER_PID"
nginx_server abc "ssl_client_certificate $C/ca.crt; ssl_verify_client optional;"
for v in 1.2 1.3; do
	t=tls${v/./}
	begin "beyond-ccert-optional-nginx-go-$t" "Working: Go client without a certificate to nginx \`ssl_verify_client optional\`: CertificateRequest, empty client Certificate, 200 — the same records as beyond-ccert-required-nginx-go but for the response's size."
	conn $v none abc.example.com "$GO_V (no Certificates)" "$NGINX_V ssl_verify_client optional" -- run_go $v -sni abc.example.com -ca "$C/ca.crt"
	end
done
stop "$SERVER_PID"
SRVLOG=""

# === 3, 4. server certificates: another name, expired, not yet valid, untrusted ===
# One nginx upstream per certificate; clients nginx (proxy_ssl_verify on),
# curl, Go and openssl s_client, all trusting the CA and expecting abc.example.com.
VERIFY="proxy_ssl_server_name on; proxy_ssl_name abc.example.com; proxy_ssl_verify on; proxy_ssl_trusted_certificate $C/ca.crt;"
certcase() { # certcase CASE CERT WHAT EXPECT12 EXPECT13 CLIENTS...
	local case=$1 cert=$2 what=$3 e12=$4 e13=$5 v t e cl
	shift 5
	nginx_server "$cert"
	local srv="$NGINX_V ssl_certificate $cert"
	for v in 1.2 1.3; do
		t=tls${v/./}
		e=$e12
		[ $v = 1.3 ] && e=$e13
		for cl in "$@"; do
			case $cl in
			nginx)
				nginx_proxy $v "$VERIFY"
				begin "beyond-$case-nginx-nginx-$t" "nginx proxy (\`proxy_ssl_verify on; proxy_ssl_name abc.example.com; proxy_ssl_server_name on;\`, trusted CA) to an nginx upstream whose certificate is $what."
				conn $v "${e%%/*}" abc.example.com "$PROXY, proxy_ssl_verify on" "$srv" -- run_proxy
				end
				stop "$PROXY_PID"
				CLILOG=""
				;;
			curl)
				begin "beyond-$case-nginx-curl-$t" "curl --cacert (SNI abc.example.com) to nginx whose certificate is $what."
				conn $v "$(pick "$e" curl)" abc.example.com "$CURL_V --cacert ca" "$srv" -- run_curl $v
				end
				;;
			go)
				begin "beyond-$case-nginx-go-$t" "Go client (RootCAs = the CA, ServerName abc.example.com) to nginx whose certificate is $what."
				conn $v "$(pick "$e" go)" abc.example.com "$GO_V RootCAs ca" "$srv" -- run_go $v -sni abc.example.com -ca "$C/ca.crt"
				end
				;;
			openssl)
				begin "beyond-$case-nginx-openssl-$t" "\`openssl s_client -verify_return_error -verify_hostname abc.example.com -CAfile ca\` to nginx whose certificate is $what."
				conn $v "$(pick "$e" openssl)" abc.example.com "$OPENSSL_V s_client -verify_return_error -verify_hostname" "$srv" -- run_sclient $v
				end
				;;
			esac
		done
	done
	stop "$SERVER_PID"
	SRVLOG=""
}
# pick "A/go=B/curl=C" CLIENT: the expected finding for that client (A by default).
pick() {
	local spec=$1 cl=$2 part
	IFS=/ read -ra parts <<<"$spec"
	for part in "${parts[@]:1}"; do
		[ "${part%%=*}" = "$cl" ] && { echo "${part#*=}"; return; }
	done
	echo "${parts[0]}"
}
# TLS 1.3 encrypts the certificate: what the diagnosis can see of a rejection
# is Go's alert-sized record in place of its Finished (untrusted_certificate,
# inferred), an OpenSSL client's plaintext alert (untrusted_certificate;
# certificate_expired when curl's alert is certificate_expired (45)) or
# nginx's and curl's close right after the handshake (closed_after_handshake).
certcase name other "for other.example.com (SAN DNS:other.example.com)" \
	certificate_name_mismatch "closed_after_handshake/go=untrusted_certificate/openssl=untrusted_certificate" nginx curl go openssl
certcase expired expired "expired (validity ended 30 days before the capture)" \
	certificate_expired "closed_after_handshake/go=untrusted_certificate/curl=certificate_expired" nginx curl go
certcase notyet future "not yet valid (validity starts 30 days after the capture)" \
	certificate_not_yet_valid "closed_after_handshake/go=untrusted_certificate/curl=untrusted_certificate" nginx curl go
certcase untrusted rogueabc "for abc.example.com but signed by a CA the client does not trust" \
	"closed_after_handshake/go=untrusted_certificate" "closed_after_handshake/go=untrusted_certificate" nginx go
certcase certok abc "for abc.example.com from the trusted CA (working twin)" none none nginx curl go openssl

# === 7. TLS 1.3 (and 1.2) Finished followed at once by a close ====================
nginx_server abc
for v in 1.2 1.3; do
	t=tls${v/./}
	begin "beyond-close-after-handshake-nginx-go-$t" "Go client (tlsprobe -close) completes the handshake with nginx (valid certificate) and closes at once without a request: close_notify, FIN. The twin of Go's TLS 1.3 encrypted alert in place of its Finished."
	conn $v closed_after_handshake abc.example.com "$GO_V, closes after the handshake" "$NGINX_V" -- run_go $v -sni abc.example.com -ca "$C/ca.crt" -close
	end
done
stop "$SERVER_PID"
SRVLOG=""

# === 5. no SNI + proxy_ssl_verify on: the default server's certificate ============
nginx_lo up-two-servers $UP <<EOF
server {
    listen $ADDR:$UP ssl default_server;
    server_name other.example.com;
    ssl_certificate $C/other.crt;
    ssl_certificate_key $C/other.key;
    location / { return 200 "other ok\n"; }
}
server {
    listen $ADDR:$UP ssl;
    server_name abc.example.com;
    ssl_certificate $C/abc.crt;
    ssl_certificate_key $C/abc.key;
    location / { return 200 "abc ok\n"; }
}
EOF
SERVER_PID=$LAST
SRVLOG=$NGXLOG
SRV="$NGINX_V, default server other.example.com + server abc.example.com"
for v in 1.2 1.3; do
	t=tls${v/./}
	nginx_proxy $v "proxy_ssl_verify on; proxy_ssl_trusted_certificate $C/ca.crt;"
	begin "beyond-nosni-verify-nginx-nginx-$t" "nginx proxy with \`proxy_ssl_verify on\` and no \`proxy_ssl_server_name\`: no SNI, so the upstream answers with its default server's certificate (other.example.com); nginx closes after the handshake and returns 502. The root cause is the missing SNI."
	conn $v missing_sni - "$PROXY, proxy_ssl_verify on, no proxy_ssl_server_name" "$SRV" -- run_proxy
	end
	stop "$PROXY_PID"
	nginx_proxy $v "proxy_ssl_server_name on; proxy_ssl_verify on; proxy_ssl_trusted_certificate $C/ca.crt;"
	begin "beyond-nosni-verify-fixed-nginx-nginx-$t" "Working twin: the same plus \`proxy_ssl_server_name on;\`: SNI abc.example.com, the right certificate, 200."
	conn $v none abc.example.com "$PROXY, proxy_ssl_verify on, proxy_ssl_server_name on" "$SRV" -- run_proxy
	end
	stop "$PROXY_PID"
done
CLILOG=""
stop "$SERVER_PID"
SRVLOG=""

# === 6. ALPN ==========================================================================
# Go crypto/tls server (net/http) with NextProtos exactly as given.
gosrv() { # gosrv ALPN
	start "$WORK/tlsserve" -listen "$ADDR:$UP" -cert "$C/abc.crt" -key "$C/abc.key" -alpn "$1" -keylog "$KEYS"
	SERVER_PID=$LAST
	listening $UP
}
gosrv http/1.1
for v in 1.2 1.3; do
	t=tls${v/./}
	begin "beyond-alpn-go-h1-go-h2-$t" "Go net/http server with NextProtos [http/1.1], Go client offering only h2 (as a gRPC client does): crypto/tls refuses with no_application_protocol."
	conn $v alpn_mismatch abc.example.com "$GO_V, NextProtos [h2]" "$GO_V net/http, NextProtos [http/1.1]" -- run_go $v -sni abc.example.com -ca "$C/ca.crt" -alpn h2
	end
done
stop "$SERVER_PID"
gosrv h2,http/1.1
for v in 1.2 1.3; do
	t=tls${v/./}
	begin "beyond-alpn-ok-go-h2-go-h2-$t" "Working twin: Go server with NextProtos [h2 http/1.1], Go client offering only h2: h2 selected, one HTTP/2 GET."
	conn $v none abc.example.com "$GO_V, NextProtos [h2]" "$GO_V net/http, NextProtos [h2 http/1.1]" -- run_go $v -sni abc.example.com -ca "$C/ca.crt" -alpn h2
	end
done
stop "$SERVER_PID"
gosrv h2
for v in 1.2 1.3; do
	t=tls${v/./}
	begin "beyond-alpn-fallback-go-h2-go-h1-$t" "Working (FIELD-NOTES note 6): Go server with NextProtos [h2] only, Go client offering only http/1.1: crypto/tls lets it in without ALPN (no ALPN in the ServerHello / EncryptedExtensions), HTTP/1.1 GET, 200."
	conn $v none abc.example.com "$GO_V, NextProtos [http/1.1]" "$GO_V net/http, NextProtos [h2]" -- run_go $v -sni abc.example.com -ca "$C/ca.crt" -alpn http/1.1
	end
done
stop "$SERVER_PID"

nginx_server abc
SRV="$NGINX_V listen ssl (no http2)"
for v in 1.2 1.3; do
	t=tls${v/./}
	begin "beyond-alpn-nginx-h1-go-h2-$t" "nginx 1.22 without http2 (\`listen ... ssl;\`), Go client offering only h2: nginx refuses with no_application_protocol."
	conn $v alpn_mismatch abc.example.com "$GO_V, NextProtos [h2]" "$SRV" -- run_go $v -sni abc.example.com -ca "$C/ca.crt" -alpn h2
	end
	begin "beyond-alpn-ok-nginx-h1-go-h2h1-$t" "Working twin: the same nginx, Go client offering h2 and http/1.1: http/1.1 selected, 200."
	conn $v none abc.example.com "$GO_V, NextProtos [h2 http/1.1]" "$SRV" -- run_go $v -sni abc.example.com -ca "$C/ca.crt" -alpn h2,http/1.1
	end
done
stop "$SERVER_PID"
SRVLOG=""

# A server that ignores ALPN (openssl s_server without -alpn): the ServerHello
# (TLS 1.2) carries no ALPN; the h2-only client closes after the handshake as
# grpc-go does ("missing selected ALPN property"). Under TLS 1.3 the missing
# ALPN is inside the encrypted EncryptedExtensions.
start openssl s_server -accept "$ADDR:$UP" -cert "$C/abc.crt" -key "$C/abc.key" -www -keylogfile "$KEYS"
SERVER_PID=$LAST
listening $UP
for v in 1.2 1.3; do
	t=tls${v/./}
	e=alpn_mismatch
	[ $v = 1.3 ] && e=closed_after_handshake
	begin "beyond-alpn-none-openssl-go-h2-$t" "\`openssl s_server -www\` (no -alpn: ALPN ignored), Go client offering only h2 and requiring it (tlsprobe -require-alpn, as grpc-go): no ALPN selected, the client closes right after the handshake."
	conn $v $e abc.example.com "$GO_V, NextProtos [h2], requires h2" "$OPENSSL_V s_server -www (no -alpn)" -- run_go $v -sni abc.example.com -ca "$C/ca.crt" -alpn h2 -require-alpn
	end
done
stop "$SERVER_PID"

# === 8. a ClientHello whose first TCP segment carries 1-5 bytes ===================
# nginx upstream: default server ssl_reject_handshake on, named abc.example.com.
# Per file: [1] an ordinary hello with SNI (established), [2] the split hello
# with SNI (established), [3] the split hello without SNI (refused, 112).
# On port 443: tshark finds TLS on other ports by a heuristic that needs the
# whole record header in the first segment, so on 20443 it decodes none of
# the hellos whose header is split (on 443, as in the field, it does).
if ss -Hltn "( sport = :443 )" | awk '{print $4}' | grep -qE "^($ADDR|0\.0\.0\.0|\*|\[::\]):443$"; then
	echo "make-beyond-sni-samples.sh: $ADDR:443 is busy on this host" >&2
	exit 1
fi
UP=443
nginx_lo up-reject $UP <<EOF
server { listen $ADDR:$UP ssl default_server; ssl_reject_handshake on; }
server {
    listen $ADDR:$UP ssl;
    server_name abc.example.com;
    ssl_certificate $C/abc.crt;
    ssl_certificate_key $C/abc.key;
    location / { return 200 "abc ok\n"; }
}
EOF
SERVER_PID=$LAST
SRVLOG=$NGXLOG
SRV="$NGINX_V, default server ssl_reject_handshake on + server abc.example.com"
for split in 5 2 1 1,2,2 1,1,1,1,1; do
	case $split in
	5) what="the 5-byte record header alone, then the rest" ;;
	2) what="2 bytes (the record header split across segments), then the rest" ;;
	1) what="1 byte, then the rest" ;;
	1,2,2) what="the record header over three segments (1, 2, 2 bytes), then the rest" ;;
	1,1,1,1,1) what="the record header one byte per segment, then the rest" ;;
	esac
	begin "beyond-split-hello-${split//,/-}" "Go client (TLS 1.3, X25519MLKEM768 hello of ~1.5 KB) to nginx; TCP_NODELAY, 50 ms between writes. [1] an ordinary hello with SNI abc.example.com (established); [2] a hello with SNI whose first segments carry $what (established); [3] the same split without SNI: nginx's default server refuses with unrecognized_name (112)."
	conn 1.3 none abc.example.com "$GO_V, hello in one write" "$SRV" -- run_go 1.3 -sni abc.example.com -ca "$C/ca.crt"
	conn 1.3 none abc.example.com "$GO_V, hello split $split+rest" "$SRV" -- run_go 1.3 -sni abc.example.com -ca "$C/ca.crt" -split $split
	conn 1.3 missing_sni - "$GO_V, no SNI, hello split $split+rest" "$SRV" -- run_go 1.3 -split $split
	end
done
stop "$SERVER_PID"
SRVLOG=""

# --- install and describe --------------------------------------------------------
# The beyond- prefix is this script's: drop what an earlier run left.
rm -f "$SAMPLES"/beyond-*
for name in "${ORDER[@]}"; do
	cp "$OUT/$name".* "$SAMPLES/"
done

# nginxline LOG: the lines nginx wrote about the TLS side, without time and pid.
nginxline() {
	[ -s "$1" ] || return 0
	grep -E '\[(emerg|alert|crit|error|warn)\]|upstream|SSL|handshake' "$1" |
		grep -vE 'signal|exiting|exit|worker process|using the|start|gracefully|reopen' |
		sed -E 's/^[0-9\/]+ [0-9:]+ //; s/ [0-9]+#[0-9]+: (\*[0-9]+ )?/ /' | tr '\n' '\v' | sed 's/\v$//; s/\v/ || /g'
}

# The manifest, checked against what tshark decodes: one connection per
# conn, in order, each with one ClientHello and the SNI it was made with.
MANIFEST=$SAMPLES/MANIFEST-beyond-sni.tsv
BAD=0
{
	printf 'file\tflow\tclient\tserver\ttls_version\texpected_sni\texpected_finding\twire\tnginx_error_log\tclient_result\tnginx_upstream_error_log\tdescription\n'
	for row in "${ROWS[@]}"; do
		IFS=$'\t' read -r file flow client server tls sni want res <<<"$row"
		name=${file%.pcap}
		keyarg=()
		[ -f "$SAMPLES/$name.keylog" ] && keyarg=(-keys "$SAMPLES/$name.keylog")
		wire=$("$WORK/wiresummary" "${keyarg[@]}" "$SAMPLES/$file" | sed -n "${flow}p" | sed -E 's/^\[[0-9]+\] //')
		# tcp.stream counts from 0 in the order of the connections' first packets.
		hellos=$(tshark -r "$SAMPLES/$file" -Y "tcp.stream == $((flow - 1)) && tls.handshake.type == 1" \
			-T fields -e tls.handshake.extensions_server_name 2>/dev/null) || true
		if [ "$(grep -c '' <<<"$hellos")" != 1 ] || [ "${hellos:--}" != "$sni" ]; then
			echo "!! $file flow $flow: tshark decodes ClientHello SNI [$(tr '\n' ' ' <<<"$hellos")], expected one with $sni" >&2
			BAD=1
		fi
		ngx="" ngxup=""
		[ -f "$SAMPLES/$name.nginx-error.log" ] && ngx=$(nginxline "$SAMPLES/$name.nginx-error.log") || true
		[ -f "$SAMPLES/$name.nginx-upstream-error.log" ] && ngxup=$(nginxline "$SAMPLES/$name.nginx-upstream-error.log") || true
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$file" "$flow" "$client" "$server" "$tls" "$sni" "$want" \
			"$wire" "${ngx:--}" "$res" "${ngxup:--}" "${DESC[$name]}"
	done
} >"$MANIFEST"

# The README section (samplelib's readme_section replaces it in place).
PART=$WORK/readme.part
{
	cat <<'EOF'
Made by `make-beyond-sni-samples.sh` (root, Debian 12, loopback only, ~5
min on an idle machine): client certificates required, untrusted or
expired; server certificates for another name, expired, not yet valid or
from an untrusted CA; a missing SNI behind nginx `proxy_ssl_verify on`;
ALPN refusals; a close right after the handshake; ClientHellos whose first
TCP segment holds 1-5 bytes. Real nginx, HAProxy, openssl
s_server/s_client, curl and Go crypto/tls (`internal/tlsprobe` client,
`internal/tlsserve` net/http server), TLS 1.2 and 1.3, each with a working
twin. Certificates come from `openssl req`/`openssl ca` at run time
(expired and not-yet-valid ones by `-startdate`/`-enddate`, 30 days either
side of the capture). Servers listen on 127.0.0.20:20443 (captured; the
split-hello samples on 127.0.0.20:443: on other ports tshark's TLS
heuristic needs the whole record header in the first segment, so it
decodes none of the hellos whose header is split); nginx as a client is a
reverse proxy on 127.0.0.20:20080 driven by curl (not captured).

`MANIFEST-beyond-sni.tsv` has one row per handshake (flow = the n-th TCP
connection of the file): client and server software, TLS version, the SNI
sent (`-`: none; the script checks it against tshark), the expected first
finding (`none` for a working handshake), the records tshark sees
(`wire`), the line nginx logged as the client, what the client reported,
the lines nginx logged as the server (for the whole capture) and a
description. Next to each capture: `NAME.nginx-error.log` (nginx as the
client), `NAME.nginx-upstream-error.log` (nginx as the server) and
`NAME.keylog` (SSLKEYLOGFILE secrets written by curl, Go or openssl;
`tshark -o tls.keylog_file:NAME.keylog` shows what TLS 1.3 hides;
hellowatch does not read them).

`wire` notation (`internal/wiresummary`): `C`/`S` = client/server, one
item per TCP segment, records of a segment joined by `+`, each with its
record length; `app(N)` is an application_data record (under TLS 1.3 every
encrypted record), `enc_alert`/`enc_handshake` TLS 1.2 encrypted records,
`seg(N)` a segment that completes no record, `retx(N)` a TCP
retransmission (loopback under load retransmits now and then); `{...}` is
what the keylog decrypts. Each entry below: the capture, then per
handshake `[flow] client -> server: expected first finding; what the
client reported`.

EOF
	for name in "${ORDER[@]}"; do
		printf -- '- `%s.pcap` (%s bytes): %s\n' "$name" "$(stat -c %s "$SAMPLES/$name.pcap")" "${DESC[$name]}"
		awk -F'\t' -v f="$name.pcap" '$1 == f { printf "  - [%s] %s -> %s: `%s`; %s\n", $2, $3, $4, $7, $10 }' "$MANIFEST"
	done
	echo
	echo "Made on $(. /etc/os-release && echo "$PRETTY_NAME") with $NGINX_V, $HAPROXY_V, $OPENSSL_V, $CURL_V, $(go version | awk '{print $3}'), $(tshark -v | awk 'NR == 1 {print "tshark", $3}'), tcpdump $(tcpdump --version 2>&1 | awk 'NR == 1 {print $3}')."
} >"$PART"
readme_section "Beyond SNI: certificates, client certificates, ALPN, split hellos (issue 20)" "$PART"

[ $BAD = 0 ] || { echo "make-beyond-sni-samples.sh: the captures disagree with the manifest (see !! above)" >&2; exit 1; }
echo "== done in $(($(date +%s) - START)) s: ${#ORDER[@]} captures, ${#ROWS[@]} handshakes; log: $LOG (KEEP_WORK=1 keeps it)"

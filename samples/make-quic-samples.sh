#!/bin/sh
# make-quic-samples.sh rebuilds samples/quic-*.pcap: QUIC (HTTP/3)
# handshakes made by real software on loopback only. Run as root on Debian
# 12. Server: Caddy 2.6 (Debian package; HTTP/3 is on by default for HTTPS
# sites; `tls internal` for a local CA) and, for the Retry, a quic-go server
# (samples/internal/quicclient -listen -retry). Clients: headless Chromium
# and samples/internal/quicclient (quic-go v0.65). With sample names as
# arguments, only those are rebuilt.
set -eu
ONLY=" $* "
cd "$(dirname "$0")"
OUT=$(pwd)
need() { command -v "$1" >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }; }
need caddy caddy
need chromium chromium
need tcpdump tcpdump
need tshark tshark
GO=${GO:-/usr/local/go/bin/go}
WORK=$(mktemp -d)
PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
(cd .. && "$GO" build -o "$WORK/quicclient" ./samples/internal/quicclient)

cat >"$WORK/Caddyfile" <<CADDY
{
	admin off
	skip_install_trust
	http_port 8081
	storage file_system $WORK/caddy
}
example.test:443 {
	bind 127.0.0.1
	tls internal
	respond "hello over HTTP/3"
}
CADDY
HOME=$WORK caddy run --config "$WORK/Caddyfile" --adapter caddyfile >"$WORK/caddy.log" 2>&1 &
PIDS="$PIDS $!"
sleep 3

# capture NAME FILTER COMMAND...: one capture of one scenario on lo.
capture() {
	name=$1 filter=$2
	shift 2
	case "$ONLY" in "  " | *" $name "*) ;; *) return 0 ;; esac
	tcpdump -i lo -U -s 0 -w "$OUT/$name" "$filter" >/dev/null 2>&1 &
	tp=$!
	sleep 1
	"$@" >"$WORK/$name.out" 2>&1 || true
	sleep 1.5
	kill "$tp"
	wait "$tp" 2>/dev/null || true
	echo "$name: $(head -c 200 "$WORK/$name.out" | tr '\n' ' ')"
}

# 1. Chromium, HTTP/3 forced to example.test (post-quantum hello: several Initials).
capture quic-chromium-h3.pcap 'udp port 443' \
	timeout 15 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$WORK/chrome" \
	--enable-quic --origin-to-force-quic-on=example.test:443 \
	--host-resolver-rules='MAP example.test 127.0.0.1' --ignore-certificate-errors \
	--no-first-run --disable-background-networking --disable-component-update \
	--dump-dom https://example.test/
# 2. quic-go without SNI (dialling an IP address): Caddy refuses.
capture quic-go-no-sni.pcap 'udp port 443' "$WORK/quicclient" -addr 127.0.0.1:443 -pq=false
# 3. quic-go with a name Caddy does not serve.
capture quic-go-unknown-name.pcap 'udp port 443' "$WORK/quicclient" -addr 127.0.0.1:443 -sni other.test -pq=false
# 4. quic-go with SNI and X25519MLKEM768: a ClientHello spanning two Initials, established.
capture quic-go-pq-hello.pcap 'udp port 443' "$WORK/quicclient" -addr 127.0.0.1:443 -sni example.test
# 5. A quic-go server that forces a Retry; quic-go client with SNI.
"$WORK/quicclient" -listen 127.0.0.1:4433 -name example.test -retry >"$WORK/retry-server.log" 2>&1 &
PIDS="$PIDS $!"
sleep 1
capture quic-go-retry.pcap 'udp port 4433' "$WORK/quicclient" -addr 127.0.0.1:4433 -sni example.test -pq=false
# 6. Two connections one after the other from one UDP socket (as an HTTP/3
# client's shared transport makes them): the same 4-tuple, two records.
capture quic-go-shared-socket.pcap 'udp port 443' "$WORK/quicclient" -addr 127.0.0.1:443 -sni example.test -pq=false -n 2
# 7. Version Negotiation: a quic-go server that speaks only QUIC v1. A client
# offering v2 then v1 starts over in v1 after the server's Version
# Negotiation (established); one offering only v2 gives up (refused).
"$WORK/quicclient" -listen 127.0.0.1:4434 -name example.test -versions v1 >"$WORK/vn-server.log" 2>&1 &
PIDS="$PIDS $!"
sleep 1
capture quic-go-version-negotiation.pcap 'udp port 4434' sh -c "
	'$WORK/quicclient' -addr 127.0.0.1:4434 -sni example.test -pq=false -versions v2,v1
	'$WORK/quicclient' -addr 127.0.0.1:4434 -sni example.test -pq=false -versions v2"

for f in quic-chromium-h3.pcap quic-go-no-sni.pcap quic-go-unknown-name.pcap quic-go-pq-hello.pcap quic-go-retry.pcap quic-go-shared-socket.pcap quic-go-version-negotiation.pcap; do
	[ -f "$OUT/$f" ] || continue
	echo "== $f ($(stat -c %s "$OUT/$f") bytes)"
	tshark -r "$OUT/$f" -d udp.port==4433,quic -d udp.port==4434,quic -T fields -e frame.number -e quic.long.packet_type -e tls.handshake.type \
		-e tls.handshake.extensions_server_name -e quic.cc.error_code 2>/dev/null | head -20
done

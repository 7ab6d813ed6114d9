#!/usr/bin/env bash
# capture-hellos.sh: record real ClientHellos from real software into
# tlsparse/testdata/hellos/<name>.bin (the raw TLS records the client sent
# until its ClientHello was complete). Loopback only: a one-shot listener on
# 127.0.0.1 saves what each client sends and then closes the connection.
#
# Re-run on a fresh Debian machine as root:
#   apt-get install -y openssl curl nginx python3 golang   # chromium optional
#   scripts/capture-hellos.sh
# then: go test ./tlsparse -run Golden -update
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=tlsparse/testdata/hellos
mkdir -p "$OUT"
PORT=${PORT:-44330}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

# listen NAME: accept one connection on 127.0.0.1:$PORT, read records until
# the first handshake message (the ClientHello) is complete, save them.
listen() {
	python3 - "$OUT/$1.bin" "$PORT" <<'PY' &
import socket, sys
out, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(1); s.settimeout(15)
c, _ = s.accept(); c.settimeout(5)
buf, hs = b"", b""
def records(b):
    i, body = 0, b""
    while i + 5 <= len(b):
        n = int.from_bytes(b[i+3:i+5], "big")
        if i + 5 + n > len(b): break
        if b[i] == 22: body += b[i+5:i+5+n]
        i += 5 + n
    return i, body
while True:
    d = c.recv(65536)
    if not d: break
    buf += d
    end, body = records(buf)
    if len(body) >= 4 and len(body) >= 4 + int.from_bytes(body[1:4], "big"):
        buf = buf[:end]; break
open(out, "wb").write(buf)
c.close(); s.close()
PY
	LPID=$!
	sleep 0.3
}
done_listen() { wait "$LPID" 2>/dev/null || { echo "capture $1 failed" >&2; rm -f "$OUT/$1.bin"; }; }

capture() { # capture NAME command...
	local name=$1; shift
	listen "$name"
	timeout 10 "$@" >/dev/null 2>&1 </dev/null || true
	done_listen "$name"
	printf '%-40s %5d bytes\n' "$name" "$(stat -c %s "$OUT/$name.bin" 2>/dev/null || echo 0)"
}

A=127.0.0.1:$PORT
capture openssl-tls13-sni        openssl s_client -connect $A -servername hello.test -tls1_3
capture openssl-tls13-nosni      openssl s_client -connect $A -noservername -tls1_3
capture openssl-tls12-sni-alpn   openssl s_client -connect $A -servername hello.test -tls1_2 -alpn h2,http/1.1
capture openssl-tls11            openssl s_client -connect $A -servername hello.test -tls1_1 -cipher DEFAULT@SECLEVEL=0
capture openssl-tls10            openssl s_client -connect $A -noservername -tls1 -cipher DEFAULT@SECLEVEL=0
capture openssl-default-alpn     openssl s_client -connect $A -servername hello.test -alpn h2,http/1.1
capture openssl-groups-p256      openssl s_client -connect $A -servername hello.test -groups P-256:X25519
capture openssl-status-ticket    openssl s_client -connect $A -servername hello.test -status -sess_out "$WORK/sess"
if openssl list -kem-algorithms 2>/dev/null | grep -qi mlkem; then
	capture openssl-x25519mlkem768 openssl s_client -connect $A -servername hello.test -groups X25519MLKEM768:X25519
fi
capture curl-default             curl -sk --resolve hello.test:$PORT:127.0.0.1 https://hello.test:$PORT/
capture curl-http11-tls12        curl -sk --http1.1 --tlsv1.2 --tls-max 1.2 --resolve hello.test:$PORT:127.0.0.1 https://hello.test:$PORT/
capture curl-ip-literal          curl -sk https://127.0.0.1:$PORT/
capture go-default               go run ./tlsparse/testdata/goclient -addr $A -sni hello.test -alpn h2,http/1.1
capture go-nosni-tls12           go run ./tlsparse/testdata/goclient -addr $A -tls12
capture go-ip-sni                go run ./tlsparse/testdata/goclient -addr $A -sni 127.0.0.1

# nginx as a reverse-proxy client, without and with proxy_ssl_server_name.
if command -v nginx >/dev/null; then
	for mode in nosni sni; do
		conf=$WORK/nginx-$mode.conf
		mkdir -p "$WORK/ng-$mode/logs"
		sn=off; [ $mode = sni ] && sn=on
		cat >"$conf" <<NG
daemon off; pid $WORK/ng-$mode/nginx.pid; error_log $WORK/ng-$mode/logs/error.log;
events {}
http { access_log off;
  server { listen 127.0.0.1:$((PORT+1));
    location / { proxy_pass https://upstream.test; proxy_ssl_server_name $sn; proxy_connect_timeout 3s; proxy_read_timeout 3s; }
  }
  upstream upstream.test { server 127.0.0.1:$PORT; }
}
NG
		nginx -p "$WORK/ng-$mode" -c "$conf" &
		NPID=$!
		sleep 0.5
		capture nginx-proxy-$mode curl -s --max-time 5 http://127.0.0.1:$((PORT+1))/
		kill $NPID 2>/dev/null || true; wait $NPID 2>/dev/null || true
	done
fi

# Headless Chromium, if installed (apt-get install chromium).
CHROME=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$CHROME" ]; then
	capture chromium "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$(mktemp -d)" --host-resolver-rules="MAP hello.test 127.0.0.1" \
		--dump-dom https://hello.test:$PORT/
fi

#!/bin/sh
# Remakes nginx-<version>-openssl-<version>.log with the nginx and OpenSSL
# installed here: TestRealNginxErrorLog runs real nginx as a proxy in front of
# upstreams that fail in every way errlog knows (Go crypto/tls servers, the
# Cloudflare-like internal/edge in its alert/RST/FIN/silent modes, nginx
# ssl_reject_handshake, a plain-HTTP port, the stream module with
# proxy_ssl), sends one request through each and keeps nginx's own error log
# (less the lines naming this machine's kernel and limits). Then it
# regenerates the goldens that TestFixtures compares against.
set -eu
cd "$(dirname "$0")/.."
go test -count=1 -run 'TestRealNginxErrorLog' . -update
go test -count=1 -run 'TestFixtures' . -update

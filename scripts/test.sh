#!/usr/bin/env bash
# Quick start, second command: the whole test suite. Installs what the tests
# use (libpcap, nginx, HAProxy, Caddy, tcpdump, tshark, iproute2, tmux, staticcheck),
# then runs gofmt, go vet, staticcheck and every test under the race detector
# (the capture pipeline runs workers beside the reader), including the live
# end-to-end incident test, which needs root (it says "skipped" otherwise)
# and runs a hellowatch binary built with -race too.
#
# Started by a user, it re-runs itself as root with sudo (the live-capture
# and network-namespace tests need root); without sudo it goes on as the
# user and those tests skip.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_root "the live-capture and network-namespace tests need root" "$@"
trust_checkout
need_pkgs libpcap-dev gcc libc6-dev nginx libnginx-mod-stream haproxy caddy tcpdump tshark iproute2 ethtool openssl curl ca-certificates procps tmux
need_go
# Debian starts the packaged daemons; the tests run their own instances.
if is_root; then
	nginx -s stop 2>/dev/null || true
	pkill -x haproxy 2>/dev/null || true
	pkill -x caddy 2>/dev/null || true
fi
if ! command -v staticcheck >/dev/null; then
	echo "installing staticcheck" >&2
	go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
fi
echo "== gofmt" >&2
bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$bad" ]; then
	echo "gofmt would change: $bad" >&2
	exit 1
fi
echo "== go vet" >&2
go vet ./...
echo "== staticcheck" >&2
staticcheck ./...
echo "== build without cgo (files only)" >&2
CGO_ENABLED=0 go build -o /dev/null ./cmd/hellowatch
echo "== go test" >&2
go test -race -count=1 -timeout 15m "$@" $(go list ./... | grep -v /e2e)
echo "== end-to-end (live capture, real nginx)" >&2
go test -race -count=1 -timeout 5m -v "$@" ./e2e/

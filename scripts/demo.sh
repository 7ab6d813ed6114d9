#!/usr/bin/env bash
# Quick start, first command: build hellowatch and diagnose the shipped
# capture of the incident (nginx proxying to an SNI-strict upstream without
# proxy_ssl_server_name). Installs libpcap-dev, gcc and Go when missing.
# Runs as whoever starts it: reading a capture file needs no root, so only
# the package installation (when something is missing) goes through sudo.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_pkgs libpcap-dev gcc libc6-dev
need_go
mkdir -p bin
go build -o bin/hellowatch ./cmd/hellowatch
echo "\$ bin/hellowatch -r samples/incident-missing-sni.pcap" >&2
exec bin/hellowatch -r samples/incident-missing-sni.pcap --format text "$@"

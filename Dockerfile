# hellowatch container image.
#
#   docker build --build-arg VERSION=$(git describe --always --dirty) -t hellowatch .
#   docker run --rm hellowatch -r /usr/share/hellowatch/samples/incident-missing-sni.pcap
#   docker run --rm --network container:nginx --cap-add NET_RAW hellowatch -i eth0 tcp
#
# Builds with BuildKit (cache mounts) and with the daemon's built-in Dockerfile
# frontend (no "# syntax=" line, no heredocs). Offline check:
#   /work/shared/container/build-offline.sh --run . hellowatch:dev
#
# File capabilities. The binary gets FILE_CAPS with the effective bit, so a
# non-root user can open AF_PACKET sockets. The kernel refuses to exec a file
# whose effective bit is set when any of its permitted capabilities is missing
# from the process's bounding set ("operation not permitted", even for -r).
# Docker's default bounding set has NET_RAW but not NET_ADMIN, so the default
# here is NET_RAW alone, which is all libpcap needs to capture on Linux:
# `docker run IMAGE -r FILE` and `-i IFACE` then work without --cap-add.
# --build-arg FILE_CAPS=cap_net_raw,cap_net_admin=eip gives the tcpdump-style
# pair; that image then only starts where NET_ADMIN is granted
# (docker --cap-add NET_ADMIN, or securityContext.capabilities.add).

ARG GO_VERSION=1.26
ARG DEBIAN_RELEASE=bookworm

FROM golang:${GO_VERSION}-${DEBIAN_RELEASE} AS build
RUN set -eux; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libpcap-dev libcap2-bin; \
    rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
ARG FILE_CAPS=cap_net_raw=eip
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    set -eux; \
    CGO_ENABLED=1 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
        -o /out/usr/local/bin/hellowatch ./cmd/hellowatch; \
    setcap "${FILE_CAPS}" /out/usr/local/bin/hellowatch; \
    getcap /out/usr/local/bin/hellowatch; \
    mkdir -p /out/usr/share/hellowatch/samples; \
    test -f samples/incident-missing-sni.pcap || { echo "samples/incident-missing-sni.pcap missing" >&2; exit 1; }; \
    cp samples/incident-missing-sni.pcap /out/usr/share/hellowatch/samples/

FROM debian:${DEBIAN_RELEASE}-slim
# libpcap0.8 brings libdbus-1-3; everything else is in the base image.
RUN set -eux; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libpcap0.8; \
    rm -rf /var/lib/apt/lists/* /var/log/apt/* /var/log/dpkg.log /var/cache/debconf/*-old; \
    echo 'hellowatch:x:65532:65532:hellowatch:/nonexistent:/usr/sbin/nologin' >>/etc/passwd; \
    echo 'hellowatch:x:65532:' >>/etc/group
# COPY keeps the security.capability xattr set in the build stage (BuildKit).
COPY --from=build /out/ /
ARG VERSION=dev
LABEL org.opencontainers.image.title="hellowatch" \
      org.opencontainers.image.description="Passive TLS handshake analyzer" \
      org.opencontainers.image.version="${VERSION}"
# Sidecar defaults: JSON lines on stdout for the log pipeline. Interface,
# filter and metrics address come from args or HELLOWATCH_* variables.
ENV HELLOWATCH_FORMAT=json
EXPOSE 9102
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/hellowatch"]

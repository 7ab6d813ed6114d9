# hellowatch: build, image and benchmark entry points.
# Benchmarks and the offline image build run as root on Debian (network
# namespaces, tcpdump, dockerd); captures live outside the repo in BENCH_DIR.

GO        ?= go
BIN       ?= bin/hellowatch
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
IMAGE     ?= hellowatch:dev
BENCH_DIR ?= /var/tmp/hellowatch-bench
SHARED    ?= $(firstword $(wildcard $(CURDIR)/../shared) /work/shared)

export BENCH_DIR

.PHONY: all build test vet readloop image image-offline image-size bench bench-data bench-live deploy-check clean

all: build

build:
	CGO_ENABLED=1 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN) ./cmd/hellowatch

test:
	$(GO) test ./...

vet:
	$(GO) vet ./...

readloop:
	$(GO) build -trimpath -o bin/readloop ./bench/readloop

# With a running Docker engine (BuildKit):
image:
	DOCKER_BUILDKIT=1 docker build --build-arg VERSION=$(VERSION) -t $(IMAGE) .

# On a host with no registry: makes the base images locally, builds, smoke-tests.
SMOKE_RUN_ARGS ?= -r /usr/share/hellowatch/samples/incident-missing-sni.pcap
image-offline:
	SMOKE_RUN_ARGS="$(SMOKE_RUN_ARGS)" $(SHARED)/container/build-offline.sh --run . $(IMAGE) -- --build-arg VERSION=$(VERSION)

# Size of the image and what it adds on top of debian:bookworm-slim.
image-size:
	@docker image inspect -f '{{.Size}}' $(IMAGE) debian:bookworm-slim | \
	  awk 'NR == 1 { t = $$1 } NR == 2 { b = $$1 } END { printf "image %.1f MB, base %.1f MB, added %.1f MB\n", t / 1e6, b / 1e6, (t - b) / 1e6 }'

# Benchmark captures (200M and 1G) in $(BENCH_DIR), made once.
bench-data:
	@mkdir -p $(BENCH_DIR)
	@for s in 200M 1G; do \
	  f=$(BENCH_DIR)/bench-$$s.pcap; \
	  [ -s $$f ] || nice -n 10 $(SHARED)/bench/make-bench-pcap.sh $$f $$s || exit 1; \
	done

# Offline throughput: hellowatch vs tshark vs read loop vs cat (RUNS, TSHARK_RUNS, TOOLS, SIZES).
bench:
	MAKE_BENCH_PCAP=$(SHARED)/bench/make-bench-pcap.sh bench/compare.sh

# Live capture through a private veth pair: REPLAYS tcpreplays at the packet
# rates of RATES; THRESHOLD=1 searches where hellowatch and tcpdump start
# dropping (make bench-live THRESHOLD=1; bench/live.sh lists the settings).
bench-live: bench-data
	bench/live.sh

# YAML syntax of deploy/ (PyYAML), and the alerting rules if promtool is on PATH.
deploy-check:
	python3 -c 'import sys, yaml; [list(yaml.safe_load_all(open(f))) for f in sys.argv[1:]]; print("yaml ok:", *sys.argv[1:])' \
	  deploy/kubernetes/*.yaml deploy/docker-compose.yml deploy/prometheus/alerts.yml
	@if command -v promtool >/dev/null; then promtool check rules deploy/prometheus/alerts.yml; else echo "promtool not found: rules not checked"; fi

clean:
	rm -rf bin

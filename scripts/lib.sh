# shellcheck shell=bash
# Shared helpers for the Quick start scripts: install Debian packages and a
# Go toolchain when they are missing, and become root only for what needs
# it. Sourced, not run.

# me names the script in messages.
me=$(basename "$0")

# is_root reports whether the script runs as root.
is_root() { [ "$(id -u)" = 0 ]; }

# as_root runs a command as root: directly when root, else through sudo
# (and says so). Without root or sudo it stops and says what to do.
as_root() {
	if is_root; then
		"$@"
	elif command -v sudo >/dev/null; then
		echo "$me: running as root with sudo: $*" >&2
		sudo -- "$@"
	else
		echo "$me: this needs root, and sudo is not installed: $*" >&2
		echo "$me: run $me as root, or install sudo, or have an administrator run it" >&2
		exit 1
	fi
}

# need_root re-runs the whole script as root through sudo when it is not
# root (why says why, e.g. "the live-capture tests need root"). It returns
# when the script is root, or when there is no sudo: then the script goes on
# as the user (why tells what will be missing) and stops only where root is
# indispensable (as_root). Call it from the repository root with the
# script's arguments; a Go proxy or HTTP proxy setting is kept.
need_root() {
	local why=$1
	shift
	is_root && return
	if ! command -v sudo >/dev/null; then
		echo "$me: not root and sudo is not installed: $why, so they will skip" >&2
		return
	fi
	local keep="" v
	for v in GOPROXY GOFLAGS GOTOOLCHAIN GONOSUMDB GOPRIVATE http_proxy https_proxy no_proxy; do
		[ -n "${!v:-}" ] && keep="$keep,$v"
	done
	echo "$me: $why; re-running as root with sudo" >&2
	exec sudo ${keep:+"--preserve-env=${keep#,}"} -- "$PWD/scripts/$me" "$@"
}

# trust_checkout lets root's git read a checkout owned by the user who ran
# sudo (git refuses "dubious ownership" otherwise, and go build stamps the
# binary from git). It changes no config file.
trust_checkout() {
	if is_root && [ -n "${SUDO_USER:-}" ]; then
		export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0="$PWD"
	fi
}

# need_pkgs installs the Debian packages that are not installed yet (as
# root; through sudo when the script is not root).
need_pkgs() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		if ! is_root && ! command -v sudo >/dev/null; then
			echo "$me: needs these Debian packages: ${missing[*]}" >&2
			echo "$me: installing them needs root, and sudo is not installed: run $me as root, install sudo, or have an administrator run" >&2
			echo "    apt-get install -y --no-install-recommends ${missing[*]}" >&2
			exit 1
		fi
		echo "$me: installing ${missing[*]}" >&2
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
	fi
}

# go_version_ok reports whether the go on PATH is at least the go.mod version.
go_version_ok() {
	command -v go >/dev/null || return 1
	local want have
	want=$(awk '/^go /{print $2; exit}' go.mod)
	have=$(go env GOVERSION 2>/dev/null | sed 's/^go//')
	[ -n "$have" ] || return 1
	[ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n1)" = "$want" ]
}

# need_go puts a Go toolchain new enough for go.mod on PATH: /usr/local/go
# if present, else the official toolchain from the Go module proxy (the same
# zip that GOTOOLCHAIN downloads), cached under ~/.cache/hellowatch.
need_go() {
	export PATH="$PATH:/usr/local/go/bin:$HOME/go/bin"
	if go_version_ok; then
		return
	fi
	local v arch dir zip proxy
	v=$(awk '/^go /{print $2; exit}' go.mod)
	case "$(uname -m)" in
	x86_64) arch=amd64 ;;
	aarch64) arch=arm64 ;;
	*) arch=$(uname -m) ;;
	esac
	dir="$HOME/.cache/hellowatch/go$v"
	if [ ! -x "$dir/go/bin/go" ]; then
		need_pkgs curl unzip ca-certificates
		proxy=${GOPROXY:-https://proxy.golang.org}
		proxy=${proxy%%,*}
		zip="$dir.zip"
		mkdir -p "$dir"
		echo "$me: downloading Go $v from $proxy" >&2
		curl -fsSL -o "$zip" "$proxy/golang.org/toolchain/@v/v0.0.1-go$v.linux-$arch.zip"
		unzip -q -o "$zip" -d "$dir.tmp"
		rm -rf "$dir/go"
		mv "$dir.tmp/golang.org/toolchain@v0.0.1-go$v.linux-$arch" "$dir/go"
		rm -rf "$dir.tmp" "$zip"
	fi
	export PATH="$dir/go/bin:$PATH"
}

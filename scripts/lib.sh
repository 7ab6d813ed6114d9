# shellcheck shell=bash
# Shared helpers for the Quick start scripts: install Debian packages and a
# Go toolchain when they are missing. Sourced, not run.

SUDO=""
if [ "$(id -u)" != 0 ]; then
	SUDO=sudo
fi

# need_pkgs installs the Debian packages that are not installed yet.
need_pkgs() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "installing: ${missing[*]}" >&2
		export DEBIAN_FRONTEND=noninteractive
		$SUDO apt-get update -q >/dev/null
		$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
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
		echo "downloading Go $v from $proxy" >&2
		curl -fsSL -o "$zip" "$proxy/golang.org/toolchain/@v/v0.0.1-go$v.linux-$arch.zip"
		unzip -q -o "$zip" -d "$dir.tmp"
		rm -rf "$dir/go"
		mv "$dir.tmp/golang.org/toolchain@v0.0.1-go$v.linux-$arch" "$dir/go"
		rm -rf "$dir.tmp" "$zip"
	fi
	export PATH="$dir/go/bin:$PATH"
}

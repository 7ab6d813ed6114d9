#!/usr/bin/env bash
# make-tunnel-samples.sh makes the tunnel and TCP-handshake captures of
# issue 17 (samples/tunnel-*.pcap, tcp-fastopen.pcap, hello-on-ack.pcap) with
# real kernels and real TLS software, and writes samples/MANIFEST-tunnels.tsv
# (one line per TCP connection: what made it, the tunnel and its parameters,
# the expected SNI and finding, and what tshark sees in the file).
#
# Two network namespaces, hwtn-c (clients: curl, openssl s_client, Go
# crypto/tls) and hwtn-s (nginx 1.22, ssl_reject_handshake on in the default
# server, abc.example.com a named server), joined by the veth hwtnc0|hwtns0
# (198.18.40.0/24, 2001:db8:40::/64, offloads off). Each sample builds one
# tunnel between them and captures on the UNDERLAY veth, in hwtn-c.
#
# Which tunnels the kernel builds: this script asks the kernel first
# (`ip link add ... type X`). The kernel these samples were made on has
# VXLAN and SRv6 (seg6) but no ipip, sit, ip6_tunnel, ip_gre, ip6_gre,
# geneve, mpls_router or pppoe; for those, samples/internal/tunnel (a
# userspace endpoint on TUN/TAP: raw IP, UDP or AF_PACKET sockets) writes the
# tunnel header. IPv4-in-IPv6 and IPv6-in-IPv6 come from the kernel's SRv6
# H.Encaps.Red with one segment (no routing header: the outer IPv6 header's
# next header is 4 or 41, byte for byte what ip6tnl sends) and End.DX4 /
# End.DX6 on the other side. MANIFEST-tunnels.tsv says which made each file.
#
# Run as root on Debian 12: samples/make-tunnel-samples.sh
# Idempotent (removes its own namespaces first and on exit); sends nothing
# anywhere but its own namespaces.
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "make-tunnel-samples.sh: must run as root (tcpdump, netns)" >&2; exit 1; }
SAMPLES=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$SAMPLES/.." && pwd)
START=$(date +%s)

missing=()
for pair in nginx:nginx openssl:openssl curl:curl tcpdump:tcpdump tshark:tshark \
	ip:iproute2 tc:iproute2 ss:iproute2 ethtool:ethtool; do
	command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if ((${#missing[@]})); then
	echo "== apt-get install ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
command -v go >/dev/null || { echo "make-tunnel-samples.sh: need the Go toolchain (go.mod's version) on PATH" >&2; exit 1; }

WORK=$(mktemp -d /tmp/hw-tunnel-samples.XXXXXX)
OUT=$WORK/out
mkdir -p "$OUT"
LOG=$WORK/log
PIDS=()
C=hwtn-c S=hwtn-s
NAMESPACES=("$C" "$S")
MANIFEST=$WORK/MANIFEST-tunnels.tsv
# shellcheck source=internal/samplelib.sh
. "$SAMPLES/internal/samplelib.sh"
trap lib_cleanup EXIT
for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done

echo "== building tunnel, tlsclient"
(cd "$REPO" && GOFLAGS=-buildvcs=false go build -o "$WORK/tunnel" ./samples/internal/tunnel &&
	GOFLAGS=-buildvcs=false go build -o "$WORK/tlsclient" ./samples/internal/tlsclient)

CERT=$WORK/abc.crt KEY=$WORK/abc.key
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	-keyout "$KEY" -out "$CERT" -subj /CN=abc.example.com \
	-addext subjectAltName=DNS:abc.example.com 2>>"$LOG"

# --- the underlay ----------------------------------------------------------------
ip netns add $C
ip netns add $S
for ns in $C $S; do
	ip -n $ns link set lo up
	ip netns exec $ns sysctl -qw net.ipv6.conf.all.seg6_enabled=1 net.ipv6.conf.default.seg6_enabled=1 \
		net.ipv6.conf.all.forwarding=1 net.ipv4.ip_forward=1 net.ipv4.tcp_fastopen=3
done
veth $C hwtnc0 $S hwtns0
ip netns exec $C sysctl -qw net.ipv6.conf.hwtnc0.seg6_enabled=1
ip netns exec $S sysctl -qw net.ipv6.conf.hwtns0.seg6_enabled=1
ip -n $C addr add 198.18.40.1/24 dev hwtnc0
ip -n $S addr add 198.18.40.2/24 dev hwtns0
ip -n $S addr add 198.18.40.3/24 dev hwtns0
ip -n $S addr add 198.18.40.4/24 dev hwtns0
ip -n $C addr add 2001:db8:40::1/64 dev hwtnc0 nodad
ip -n $S addr add 2001:db8:40::2/64 dev hwtns0 nodad
MAC_C=$(ip netns exec $C cat /sys/class/net/hwtnc0/address)
MAC_S=$(ip netns exec $S cat /sys/class/net/hwtns0/address)
# Underlay neighbours resolved before any capture starts.
ip -n $C neigh replace 198.18.40.2 lladdr "$MAC_S" dev hwtnc0
ip -n $C neigh replace 198.18.40.3 lladdr "$MAC_S" dev hwtnc0
ip -n $C neigh replace 198.18.40.4 lladdr "$MAC_S" dev hwtnc0
ip -n $S neigh replace 198.18.40.1 lladdr "$MAC_C" dev hwtns0
ip -n $C neigh replace 2001:db8:40::2 lladdr "$MAC_S" dev hwtnc0
ip -n $S neigh replace 2001:db8:40::1 lladdr "$MAC_C" dev hwtns0

# The TLS server for every tunnel: any address, port 443; a SNI-less hello
# gets fatal unrecognized_name (112).
nginx_start tls $S 443 <<EOF
server {
    listen 443 ssl default_server;
    listen [::]:443 ssl default_server;
    ssl_reject_handshake on;
    ssl_protocols TLSv1.2 TLSv1.3;
}
server {
    listen 443 ssl;
    listen [::]:443 ssl;
    server_name abc.example.com;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate $CERT;
    ssl_certificate_key $KEY;
    location / { return 200 "abc ok\n"; }
}
EOF
SERVER="nginx 1.22 (TLS 1.2+1.3; ssl_reject_handshake default server)"

# --- helpers ---------------------------------------------------------------------
declare -A DESC
ORDER=()
sample() {
	echo "== $1"
	ORDER+=("$1")
	DESC[$1]=$2
	CURRENT=$1
}

# get URL [CURL ARGS]: one curl request from hwtn-c, logged.
get() {
	local url=$1 code
	shift
	code=$(ip netns exec $C curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" "$url" 2>>"$LOG") || true
	echo "   curl $url -> ${code:-000}" | tee -a "$LOG"
}

# tls_flows V4 [V6]: the three handshakes made in every tunnel, to the inner
# IPv4 address V4 (and a fourth over IPv6 to V6): curl with SNI (works), Go
# crypto/tls with SNI (X25519MLKEM768, a two-segment hello; works), openssl
# s_client -noservername (no SNI: fatal unrecognized_name 112).
tls_flows() {
	local v4=$1 v6=${2:-}
	flow "curl 7.88 (OpenSSL 3.0)" "$SERVER" "$TUN" "$PARAMS" abc.example.com none
	get https://abc.example.com/ -k --resolve "abc.example.com:443:$v4"
	flow "Go 1.26 crypto/tls (tlsclient, X25519MLKEM768)" "$SERVER" "$TUN" "$PARAMS" abc.example.com none "two-segment hello inside the tunnel"
	ip netns exec $C "$WORK/tlsclient" -addr "$v4:443" -sni abc.example.com >>"$LOG" 2>&1 || true
	flow "openssl 3.0 s_client -noservername" "$SERVER" "$TUN" "$PARAMS" - missing_sni "server: fatal unrecognized_name (112)"
	ip netns exec $C timeout 5 openssl s_client -connect "$v4:443" -noservername -brief </dev/null >>"$LOG" 2>&1 || true
	if [ -n "$v6" ]; then
		flow "curl 7.88 (OpenSSL 3.0), inner IPv6" "$SERVER" "$TUN" "$PARAMS" abc.example.com none
		get https://abc.example.com/ -k --resolve "abc.example.com:443:[$v6]"
	fi
}

# utun MODE DEV MTU L2 LOCAL_C LOCAL_S [ARGS]: a userspace tunnel endpoint
# in each namespace (samples/internal/tunnel), its device up with MTU. L2=1
# for the modes that carry Ethernet (TAP). Sets UPIDS.
utun() {
	local mode=$1 dev=$2 mtu=$3 l2=$4 lc=$5 ls=$6
	shift 6
	local ac=() as=()
	case $mode in
	mpls | pppoe) ac=(-link hwtnc0 -peer-mac "$MAC_S") as=(-link hwtns0 -peer-mac "$MAC_C") ;;
	*) ac=(-local "$lc" -remote "$ls") as=(-local "$ls" -remote "$lc") ;;
	esac
	start ip netns exec $C "$WORK/tunnel" -mode "$mode" -dev "$dev" "${ac[@]}" "$@"
	UPIDS=("$LAST")
	start ip netns exec $S "$WORK/tunnel" -mode "$mode" -dev "$dev" "${as[@]}" "$@"
	UPIDS+=("$LAST")
	waitlink "$dev" $C
	waitlink "$dev" $S
	if [ "${NOV6:-}" = 1 ]; then # a mirror port: no IPv6 chatter of its own
		ip netns exec $C sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=1"
		ip netns exec $S sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=1"
	fi
	ip -n $C link set "$dev" mtu "$mtu" up
	ip -n $S link set "$dev" mtu "$mtu" up
	L2=$l2
}

# inner DEV K [v6]: inner addresses of tunnel number K on DEV in both
# namespaces: 198.18.42.(4K+1) (client) and .(4K+2) (server), and with v6
# 2001:db8:40:K::1 and ::2. Sets V4 and V6 to the server's.
inner() {
	local dev=$1 k=$2 a b
	a=198.18.42.$((4 * k + 1)) b=198.18.42.$((4 * k + 2))
	if [ "${L2:-0}" = 1 ]; then
		ip -n $C addr add "$a/30" dev "$dev"
		ip -n $S addr add "$b/30" dev "$dev"
	else
		ip -n $C addr add "$a" peer "$b" dev "$dev"
		ip -n $S addr add "$b" peer "$a" dev "$dev"
	fi
	V4=$b V6=
	if [ "${3:-}" = v6 ]; then
		ip -n $C addr add "2001:db8:40:$k::1/64" dev "$dev" nodad
		ip -n $S addr add "2001:db8:40:$k::2/64" dev "$dev" nodad
		V6=2001:db8:40:$k::2
	fi
	sleep 0.3
}

# kernel_has TYPE: can this kernel make a link of TYPE?
kernel_has() {
	case $1 in
	vxlan) ip -n $C link add hwtnprobe type vxlan id 1 dstport 4789 local 198.18.40.1 remote 198.18.40.2 2>/dev/null ;;
	geneve) ip -n $C link add hwtnprobe type geneve id 1 remote 198.18.40.2 2>/dev/null ;;
	*) ip -n $C link add hwtnprobe type "$1" local 198.18.40.1 remote 198.18.40.2 2>/dev/null ;;
	esac || return 1
	ip -n $C link del hwtnprobe
}

UNDERLAY_FILTER=(not icmp6)
kernel_has vxlan || { echo "make-tunnel-samples.sh: this kernel has no VXLAN" >&2; exit 1; }
# The userspace endpoint makes the other tunnels on every kernel, so the
# files do not depend on the modules present; say which ones the kernel had.
KERNEL_TUNNELS=vxlan
for t in ipip sit ip6tnl gre gretap ip6gre geneve; do
	if kernel_has $t; then KERNEL_TUNNELS+=" $t"; fi
done
[ -d /proc/sys/net/mpls ] && KERNEL_TUNNELS+=" mpls_router"
echo "   kernel link types available: $KERNEL_TUNNELS"

K=0

# --- VXLAN (kernel) ----------------------------------------------------------------
vxlan_sample() { # NAME VNI PORT UNDERLAY(4|6) DESC
	local name=$1 vni=$2 port=$3 fam=$4
	local lc=198.18.40.1 ls=198.18.40.2 mtu=1450
	[ "$fam" = 6 ] && lc=2001:db8:40::1 ls=2001:db8:40::2 mtu=1430
	sample "$name" "$5"
	TUN="vxlan (kernel)"
	PARAMS="vni=$vni dstport=$port underlay=IPv$fam $lc<->$ls, mtu $mtu"
	ip -n $C link add hwtnvx type vxlan id "$vni" dstport "$port" local $lc remote $ls dev hwtnc0
	ip -n $S link add hwtnvx type vxlan id "$vni" dstport "$port" local $ls remote $lc dev hwtns0
	ip -n $C link set hwtnvx mtu $mtu up
	ip -n $S link set hwtnvx mtu $mtu up
	L2=1
	K=$((K + 1))
	inner hwtnvx $K v6
	cap_start "$name" hwtnc0 $C "${UNDERLAY_FILTER[@]}"
	tls_flows "$V4" "$V6"
	cap_stop
	ip -n $C link del hwtnvx
	ip -n $S link del hwtnvx
}
vxlan_sample tunnel-vxlan.pcap 42 4789 4 "Kernel VXLAN (\`ip link add ... type vxlan id 42 dstport 4789\`) between the namespaces over IPv4, inner Ethernet; inside: curl with SNI (200), Go crypto/tls with SNI (X25519MLKEM768, two inner segments; 200), openssl s_client -noservername (fatal unrecognized_name 112), curl over inner IPv6 (200)."
vxlan_sample tunnel-vxlan-flannel.pcap 1 8472 4 "Kernel VXLAN with Flannel's defaults: VNI 1, UDP port 8472 (not 4789: tshark needs \`-d udp.port==8472,vxlan\`); same four handshakes."
vxlan_sample tunnel-vxlan-ipv6.pcap 42 4789 6 "Kernel VXLAN id 42, port 4789 over an IPv6 underlay (2001:db8:40::1 <-> ::2); same four handshakes."

# --- VXLAN mirror: native flow and its copy -------------------------------------------
# jumbo on|off: a mirror target's underlay has a large MTU (AWS: 9001), so a
# copy of a full-sized frame plus the mirror headers is not fragmented; the
# mirrored flow itself keeps MTU 1500 through host routes. The collector is
# 198.18.40.4.
jumbo() {
	if [ "$1" = on ]; then
		ip -n $C link set hwtnc0 mtu 9000
		ip -n $S link set hwtns0 mtu 9000
		ip -n $C route add 198.18.40.2/32 dev hwtnc0 mtu 1500
		ip -n $S route add 198.18.40.1/32 dev hwtns0 mtu 1500
	else
		ip -n $C route del 198.18.40.2/32 dev hwtnc0
		ip -n $S route del 198.18.40.1/32 dev hwtns0
		ip -n $C link set hwtnc0 mtu 1500
		ip -n $S link set hwtns0 mtu 1500
	fi
}
sample tunnel-vxlan-mirror.pcap "Traffic mirroring as AWS VPC Traffic Mirroring delivers it: the handshakes go natively over the underlay (198.18.40.1 -> 198.18.40.2:443, MTU 1500) and \`tc ... action mirred egress mirror\` on hwtnc0 (egress and ingress, TCP port 443 only) copies every packet into a kernel VXLAN device (VNI 4242, port 4789) to the collector 198.18.40.4 (jumbo underlay, so no copy is fragmented), where a VXLAN device absorbs it. Each packet appears twice: native and VXLAN-wrapped."
TUN="none + vxlan mirror copy (kernel tc mirred)"
PARAMS="mirror: vni=4242 dstport=4789 198.18.40.1->198.18.40.4 (collector), underlay mtu 9000, mirrored flow mtu 1500"
jumbo on
ip -n $C link add hwtnmir type vxlan id 4242 dstport 4789 local 198.18.40.1 remote 198.18.40.4 dev hwtnc0
ip -n $S link add hwtnmir type vxlan id 4242 dstport 4789 local 198.18.40.4 remote 198.18.40.1 dev hwtns0
for ns in $C $S; do
	ip netns exec $ns sysctl -qw net.ipv6.conf.hwtnmir.disable_ipv6=1
	ip -n $ns link set hwtnmir mtu 8950 up
done
ip netns exec $C tc qdisc add dev hwtnc0 clsact
ip netns exec $C tc filter add dev hwtnc0 egress protocol ip u32 match ip dport 443 0xffff action mirred egress mirror dev hwtnmir
ip netns exec $C tc filter add dev hwtnc0 ingress protocol ip u32 match ip sport 443 0xffff action mirred egress mirror dev hwtnmir
cap_start tunnel-vxlan-mirror.pcap hwtnc0 $C "${UNDERLAY_FILTER[@]}"
tls_flows 198.18.40.2
cap_stop
ip netns exec $C tc qdisc del dev hwtnc0 clsact
ip -n $C link del hwtnmir
ip -n $S link del hwtnmir
jumbo off

# --- SRv6 reduced encapsulation: IPv4-in-IPv6 and IPv6-in-IPv6 (kernel) -------------
# seg6 K FAMILY(4|6) MODE NAME DESC: inner addresses on lo, a route into the
# tunnel on each side, and a seg6local End.DX4/DX6 SID that decapsulates.
seg6_sample() {
	local k=$1 fam=$2 mode=$3 name=$4
	sample "$name" "$5"
	local sidc=2001:db8:40:ff$k::c sids=2001:db8:40:ff$k::5 a b act
	if [ "$fam" = 4 ]; then
		a=198.18.43.$((4 * k + 1)) b=198.18.43.$((4 * k + 2)) act=End.DX4
		TUN="IPv4-in-IPv6 (kernel SRv6 $mode)"
	else
		a=2001:db8:40:f$k::1 b=2001:db8:40:f$k::2 act=End.DT6
		TUN="IPv6-in-IPv6 (kernel SRv6 $mode)"
	fi
	PARAMS="outer 2001:db8:40::1/::2 -> SID $sids (back: $sidc), seg6 mode $mode, one segment, decap $act"
	ip -n $C addr add "$a/$([ "$fam" = 4 ] && echo 32 || echo 128)" dev lo
	ip -n $S addr add "$b/$([ "$fam" = 4 ] && echo 32 || echo 128)" dev lo
	ip -n $C -6 route add "$sids/128" via 2001:db8:40::2 dev hwtnc0
	ip -n $S -6 route add "$sidc/128" via 2001:db8:40::1 dev hwtns0
	ip -n $C route add "$b" encap seg6 mode "$mode" segs "$sids" dev hwtnc0 src "$a"
	ip -n $S route add "$a" encap seg6 mode "$mode" segs "$sidc" dev hwtns0 src "$b"
	# End.DX4 hands the inner packet to nh4 (here the local inner address);
	# End.DX6 with a local nh6 finds no route, End.DT6 looks the inner
	# destination up in the local table (255) instead.
	if [ "$fam" = 4 ]; then
		ip -n $S -6 route add "$sids/128" encap seg6local action End.DX4 nh4 "$b" dev hwtns0
		ip -n $C -6 route add "$sidc/128" encap seg6local action End.DX4 nh4 "$a" dev hwtnc0
	else
		ip -n $S -6 route add "$sids/128" encap seg6local action End.DT6 table 255 dev hwtns0
		ip -n $C -6 route add "$sidc/128" encap seg6local action End.DT6 table 255 dev hwtnc0
	fi
	cap_start "$name" hwtnc0 $C "${UNDERLAY_FILTER[@]}"
	if [ "$fam" = 4 ]; then tls_flows "$b"; else tls_flows "[$b]"; fi
	cap_stop
}
seg6_sample 1 4 encap.red tunnel-4in6.pcap "IPv4 in IPv6 made by the kernel: SRv6 H.Encaps.Red with one segment (\`ip route add <inner> encap seg6 mode encap.red segs <SID>\`) adds a bare outer IPv6 header with next header 4 (no routing header: what \`ip6tnl mode ipip6\` sends); End.DX4 decapsulates on the far side. The kernel has no ip6_tunnel. curl with SNI, Go with SNI, openssl -noservername (112)."
seg6_sample 2 6 encap.red tunnel-6in6.pcap "IPv6 in IPv6 the same way (SRv6 H.Encaps.Red, outer next header 41; End.DT6 on the local table decapsulates): curl with SNI, Go with SNI, openssl -noservername (112), all over inner IPv6."
seg6_sample 3 4 encap tunnel-srv6.pcap "IPv4 in IPv6 with a segment routing header: SRv6 H.Encaps (\`mode encap\`, one segment), so a routing header (type 4, segments left 0) sits between the outer IPv6 header and the inner IPv4 one. Same three handshakes."

# --- userspace endpoints (samples/internal/tunnel) ------------------------------------
# usample NAME MODE DEV MTU L2 LOCAL_C LOCAL_S V6? TUNDESC PARAMS DESC [ARGS]
usample() {
	local name=$1 mode=$2 dev=$3 mtu=$4 l2=$5 lc=$6 ls=$7 v6=$8
	TUN=$9 PARAMS=${10}
	sample "$name" "${11}"
	shift 11
	utun "$mode" "$dev" "$mtu" "$l2" "$lc" "$ls" "$@"
	K=$((K + 1))
	if [ "$v6" = v6only ]; then
		inner "$dev" $K v6
		V4="[$V6]" V6=
	else
		inner "$dev" $K "$v6"
	fi
	cap_start "$name" hwtnc0 $C "${UNDERLAY_FILTER[@]}"
	tls_flows "$V4" "$V6"
	cap_stop
	stop "${UPIDS[@]}"
}
U="userspace endpoint (samples/internal/tunnel; this kernel has no"
usample tunnel-ipip.pcap ipip hwtnip 1480 0 198.18.40.1 198.18.40.2 - \
	"ipip: IPv4 in IPv4 (IP protocol 4), as Calico's IP-in-IP" "outer 198.18.40.1<->198.18.40.2 proto 4, mtu 1480" \
	"IPv4 in IPv4 (protocol 4, Calico's IP-in-IP) by the $U ipip). curl with SNI, Go with SNI, openssl -noservername (112)."
usample tunnel-sit.pcap sit hwtnsit 1480 0 198.18.40.1 198.18.40.2 v6only \
	"sit: IPv6 in IPv4 (6in4, IP protocol 41)" "outer 198.18.40.1<->198.18.40.2 proto 41, mtu 1480" \
	"IPv6 in IPv4 (6in4, protocol 41) by the $U sit): an IPv4 flow cannot ride it, so the three handshakes go to the inner IPv6 address."
usample tunnel-gre.pcap gre hwtngre 1476 0 198.18.40.1 198.18.40.2 v6 \
	"gre: GRE (RFC 2784, no key, no sequence) over IPv4, protocol type 0x0800/0x86DD" "outer 198.18.40.1<->198.18.40.2 proto 47, no key, mtu 1476" \
	"GRE without key or sequence number over IPv4 by the $U ip_gre); inner IPv4 and IPv6 (protocol types 0x0800, 0x86DD). Four handshakes as in tunnel-vxlan.pcap."
usample tunnel-gre-key.pcap gre hwtngre 1472 0 198.18.40.1 198.18.40.2 - \
	"gre: GRE with key (RFC 2890) over IPv4" "outer 198.18.40.1<->198.18.40.2 proto 47, key=42 (K bit), mtu 1472" \
	"GRE with key 42 (\`ip link add ... type gre key 42\` would send the same header) by the $U ip_gre). Three handshakes." -key 42
usample tunnel-gre-csum-key-seq.pcap gre hwtngre 1464 0 198.18.40.1 198.18.40.2 - \
	"gre: GRE with checksum, key and sequence number over IPv4" "outer 198.18.40.1<->198.18.40.2 proto 47, C+K+S bits, key=1000, seq from 0, mtu 1464" \
	"GRE with all three optional words: checksum (C), key 1000 (K), sequence number (S), by the $U ip_gre). Three handshakes." -key 1000 -seq -csum
usample tunnel-gretap.pcap gretap hwtngtap 1462 1 198.18.40.1 198.18.40.2 - \
	"gretap: GRE protocol 0x6558 (transparent Ethernet bridging) over IPv4, inner Ethernet" "outer 198.18.40.1<->198.18.40.2 proto 47, no key, mtu 1462" \
	"gretap: Ethernet frames in GRE (protocol type 0x6558) by the $U ip_gre) on a TAP; inner ARP too. Three handshakes."
usample tunnel-ip6gre.pcap ip6gre hwtng6 1452 0 2001:db8:40::1 2001:db8:40::2 - \
	"ip6gre: GRE over IPv6, inner IPv4" "outer 2001:db8:40::1<->2001:db8:40::2 next header 47, no key, mtu 1452" \
	"GRE over an IPv6 underlay (next header 47), inner IPv4, by the $U ip6_gre). Three handshakes."
usample tunnel-geneve.pcap geneve hwtngnv 1450 1 198.18.40.1 198.18.40.2 v6 \
	"geneve: GENEVE (RFC 8926) UDP 6081, protocol 0x6558 (inner Ethernet), no options" "vni=42 udp 6081->6081, opt_len=0, mtu 1450" \
	"GENEVE (UDP 6081, VNI 42, inner Ethernet as Linux geneve devices and Cilium send it, no options) by the $U geneve); the UDP source port is fixed at 6081 (Linux would hash the inner flow). Four handshakes." -vni 42
usample tunnel-geneve-options.pcap geneve hwtngnv 1418 1 198.18.40.1 198.18.40.2 - \
	"geneve: GENEVE with 32 bytes of options" "vni=43 udp 6081, opt_len=8 words: class 0x0108 types 1,2,3 (AWS GWLB-shaped, made-up values), mtu 1418" \
	"GENEVE with three option TLVs shaped like AWS Gateway Load Balancer's (class 0x0108, types 1-3; values made up), so the inner frame starts 40 bytes after the UDP header; by the $U geneve). Three handshakes." -vni 43 -gwlb-options
usample tunnel-mpls.pcap mpls hwtnmpls 1492 0 - - - \
	"mpls: MPLS over Ethernet (EtherType 0x8847), two-label stack" "labels 100,200 (S bit on 200), TTL 64, mtu 1492" \
	"MPLS: Ethernet type 0x8847, label stack 100 / 200 (bottom of stack), inner IPv4, by the $U mpls_router: \`/proc/sys/net/mpls\` is absent); frames written with AF_PACKET on the veth. Three handshakes." -labels 100,200
usample tunnel-pppoe.pcap pppoe hwtnppp 1492 0 - - v6 \
	"pppoe: PPPoE session stage (EtherType 0x8864), PPP protocol 0x0021/0x0057" "session 0x1234, no discovery stage captured, mtu 1492" \
	"PPPoE session frames (EtherType 0x8864, session 0x1234, PPP IPv4 0x0021 and IPv6 0x0057) by the $U pppoe); there is no discovery stage (PADI/PADO) in the capture, only session traffic. Four handshakes." -session 0x1234

# --- ERSPAN mirror (userspace GRE/ERSPAN II, kernel tc mirred) ------------------------
sample tunnel-erspan.pcap "ERSPAN type II as a switch's mirror session sends it: the handshakes go natively (198.18.40.1 -> 198.18.40.2:443) and \`tc ... action mirred egress mirror\` copies each packet (both directions, TCP port 443) into a TAP whose $U ip_gre/erspan) wraps it in GRE (protocol 0x88BE, sequence numbers) + ERSPAN II (session 7) to 198.18.40.2. Each packet appears twice."
TUN="none + erspan II mirror copy (kernel tc mirred, userspace GRE/ERSPAN)"
PARAMS="mirror: GRE proto 0x88BE S bit, ERSPAN ver 1 session 7, 198.18.40.1->198.18.40.4 (collector), underlay mtu 9000, mirrored flow mtu 1500"
jumbo on
NOV6=1 utun erspan hwtners 9000 1 198.18.40.1 198.18.40.4 -erspan-session 7
ip netns exec $C tc qdisc add dev hwtnc0 clsact
ip netns exec $C tc filter add dev hwtnc0 egress protocol ip u32 match ip dport 443 0xffff action mirred egress mirror dev hwtners
ip netns exec $C tc filter add dev hwtnc0 ingress protocol ip u32 match ip sport 443 0xffff action mirred egress mirror dev hwtners
cap_start tunnel-erspan.pcap hwtnc0 $C "${UNDERLAY_FILTER[@]}"
tls_flows 198.18.40.2
cap_stop
ip netns exec $C tc qdisc del dev hwtnc0 clsact
stop "${UPIDS[@]}"
jumbo off

# --- nested: kernel VXLAN riding a (userspace) GRE tunnel -----------------------------
sample tunnel-nested.pcap "Two layers: a kernel VXLAN (VNI 42, port 4789, inner Ethernet) whose underlay is a GRE tunnel (key 7, userspace endpoint) between the namespaces: Ethernet / IPv4 / GRE / IPv4 / UDP / VXLAN / Ethernet / IPv4 / TCP. Three handshakes."
TUN="gre (userspace) > vxlan (kernel)"
PARAMS="outer GRE key=7 198.18.40.1<->198.18.40.2 mtu 1472; VXLAN vni=42 dstport=4789 over the GRE addresses, mtu 1422"
utun gre hwtnng 1472 0 198.18.40.1 198.18.40.2 -key 7
K=$((K + 1))
inner hwtnng $K
GC=198.18.42.$((4 * K + 1)) GS=$V4
ip -n $C link add hwtnvx type vxlan id 42 dstport 4789 local "$GC" remote "$GS"
ip -n $S link add hwtnvx type vxlan id 42 dstport 4789 local "$GS" remote "$GC"
ip -n $C link set hwtnvx mtu 1422 up
ip -n $S link set hwtnvx mtu 1422 up
L2=1
K=$((K + 1))
inner hwtnvx $K
cap_start tunnel-nested.pcap hwtnc0 $C "${UNDERLAY_FILTER[@]}"
tls_flows "$V4"
cap_stop
ip -n $C link del hwtnvx
ip -n $S link del hwtnvx
stop "${UPIDS[@]}"

# --- TCP: the hello on the handshake's third packet, and on the SYN ------------------
sample hello-on-ack.pcap "The ClientHello on the TCP handshake's third packet, made by the kernel: Go crypto/tls over a blocking socket connected with sendto(MSG_FASTOPEN) (tlsclient -fastopen) to a server without TFO. Without a cookie the SYN carries only a TFO cookie request, and because the writer is waiting in sendmsg (sk_write_pending) the kernel holds back the ACK of the SYN-ACK and sends it with the first hello bytes (flags ACK|PSH). Native IPv4 over the veth, no tunnel. Go X25519MLKEM768 hello with SNI (first segment on the third packet, 200), Go with GODEBUG=tlsmlkem=0 (a classic one-segment hello) with SNI (the whole hello on the third packet, 200), Go without SNI (fatal 112)."
TUN=none PARAMS="tcp_fastopen=3 in both namespaces; server port 443 has no TFO"
cap_start hello-on-ack.pcap hwtnc0 $C tcp port 443
flow "Go 1.26 crypto/tls (tlsclient -fastopen, X25519MLKEM768)" "$SERVER" none "$PARAMS" abc.example.com none "hello's first segment on the ACK of the SYN-ACK"
ip netns exec $C "$WORK/tlsclient" -fastopen -addr 198.18.40.2:443 -sni abc.example.com >>"$LOG" 2>&1 || true
flow "Go 1.26 crypto/tls (tlsclient -fastopen, GODEBUG=tlsmlkem=0)" "$SERVER" none "$PARAMS" abc.example.com none "whole one-segment hello on the ACK of the SYN-ACK"
ip netns exec $C env GODEBUG=tlsmlkem=0 "$WORK/tlsclient" -fastopen -addr 198.18.40.2:443 -sni abc.example.com >>"$LOG" 2>&1 || true
flow "Go 1.26 crypto/tls (tlsclient -fastopen, no SNI)" "$SERVER" none "$PARAMS" - missing_sni "hello on the ACK of the SYN-ACK; server: fatal unrecognized_name (112)"
ip netns exec $C "$WORK/tlsclient" -fastopen -addr 198.18.40.2:443 >>"$LOG" 2>&1 || true
cap_stop

sample tcp-fastopen.pcap "TCP Fast Open (net.ipv4.tcp_fastopen=3 in both namespaces) to nginx \`listen 198.18.40.3:4443 ssl fastopen=16\` (tshark needs \`-d tcp.port==4443,tls\`): curl --tcp-fastopen twice (the first SYN asks for a cookie and the hello follows the handshake; the second SYN carries the whole 517-byte hello), Go tlsclient -fastopen (the cookie is cached: the SYN carries the first 1420 bytes of the 1.5 KB hello, the rest follows on the third packet), and curl --tcp-fastopen to the IP literal (no SNI) on the SYN (fatal 112)."
nginx_start tfo $S 4443 <<EOF
server {
    listen 198.18.40.3:4443 ssl fastopen=16 default_server;
    ssl_reject_handshake on;
    ssl_protocols TLSv1.2 TLSv1.3;
}
server {
    listen 198.18.40.3:4443 ssl;
    server_name abc.example.com;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate $CERT;
    ssl_certificate_key $KEY;
    location / { return 200 "abc ok\n"; }
}
EOF
TFO=$LAST
TSERVER="nginx 1.22 (listen ... fastopen=16, ssl_reject_handshake default server)"
TUN=none PARAMS="tcp_fastopen=3 in both namespaces; nginx fastopen=16"
cap_start tcp-fastopen.pcap hwtnc0 $C tcp port 4443
flow "curl 7.88 --tcp-fastopen (1st: no cookie yet)" "$TSERVER" none "$PARAMS" abc.example.com none "SYN asks for a cookie (TFO option, empty); hello after the handshake"
get https://abc.example.com:4443/ -k --tcp-fastopen --resolve abc.example.com:4443:198.18.40.3
flow "curl 7.88 --tcp-fastopen (2nd: cookie cached)" "$TSERVER" none "$PARAMS" abc.example.com none "whole hello on the SYN (with the cookie)"
get https://abc.example.com:4443/ -k --tcp-fastopen --resolve abc.example.com:4443:198.18.40.3
flow "Go 1.26 crypto/tls (tlsclient -fastopen, X25519MLKEM768)" "$TSERVER" none "$PARAMS" abc.example.com none "first 1420 hello bytes on the SYN, the rest on the third packet"
ip netns exec $C "$WORK/tlsclient" -fastopen -addr 198.18.40.3:4443 -sni abc.example.com >>"$LOG" 2>&1 || true
flow "curl 7.88 --tcp-fastopen to the IP literal (no SNI)" "$TSERVER" none "$PARAMS" - missing_sni "SNI-less hello on the SYN; server: fatal unrecognized_name (112)"
get https://198.18.40.3:4443/ -k --tcp-fastopen
cap_stop
stop "$TFO"

# --- install, verify, describe ------------------------------------------------------
# decode_args FILE: the tshark options FILE needs (ports tshark does not know).
decode_args() {
	case $1 in
	tunnel-vxlan-flannel.pcap) echo "-d udp.port==8472,vxlan" ;;
	tcp-fastopen.pcap) echo "-d tcp.port==4443,tls" ;;
	esac
}
for name in "${ORDER[@]}"; do cp "$OUT/$name" "$SAMPLES/$name"; done
printf 'file\tflow\tclient\tserver\ttunnel\ttunnel_params\tinner_flow (tshark)\texpected_sni\texpected_finding\tlayers (tshark frame.protocols, first packet)\ttshark_observed\tnote\n' >"$MANIFEST"
for name in "${ORDER[@]}"; do
	manifest_add "$name" $(decode_args "$name")
done
cp "$MANIFEST" "$SAMPLES/MANIFEST-tunnels.tsv"

{
	echo "Made by \`make-tunnel-samples.sh\` (root, Debian 12): two namespaces joined by a"
	echo "veth, one tunnel per file, captured on the underlay. Per-connection details"
	echo "(client, tunnel parameters, expected SNI and finding, what tshark sees) are"
	echo "in \`MANIFEST-tunnels.tsv\`. Tunnels the kernel here lacks are made by"
	echo "\`internal/tunnel\`, a userspace endpoint; the entry says so."
	echo "In the manifest, expected_sni \`-\` means a hello without a server_name"
	echo "extension and \`?\` a connection whose hello never reached this capture"
	echo "point; expected_finding is the finding the diagnosis should name (\`none\`"
	echo "for a working handshake); tshark_observed is computed from the file by"
	echo "\`flows\` in \`internal/samplelib.sh\` (tshark fields, innermost IP layer),"
	echo "and the script fails when its SNI or connection count disagrees."
	echo
	for name in "${ORDER[@]}"; do
		# shellcheck disable=SC2046
		snis=$(tshark -r "$SAMPLES/$name" $(decode_args "$name") -Y tls.handshake.type==1 -T fields -e tls.handshake.extensions_server_name 2>/dev/null |
			awk '{ s = s (s == "" ? "" : ", ") ($0 == "" ? "(none)" : $0) } END { print s }')
		printf -- '- `%s` (%s bytes): %s\n  - tshark: %s packets; ClientHello SNI: %s\n' "$name" "$(stat -c %s "$SAMPLES/$name")" "${DESC[$name]}" \
			"$(tshark -r "$SAMPLES/$name" 2>/dev/null | wc -l)" "${snis:-none decoded}"
	done
	echo
	echo "Link types this kernel could make: $KERNEL_TUNNELS."
	echo
	echo "Made on $(. /etc/os-release && echo "$PRETTY_NAME"), Linux $(uname -r), with $(nginx -v 2>&1 | sed 's/.*: //'), $(openssl version | awk '{print $1, $2}'), curl $(curl -V | head -1 | awk '{print $2}'), $(go version | awk '{print $3}'), tcpdump $(tcpdump --version 2>&1 | head -1 | awk '{print $3}')."
} >"$WORK/readme.part"
readme_section "Tunnel and TCP-handshake samples (issue 17)" "$WORK/readme.part"

echo "== done in $(($(date +%s) - START)) s; log: $LOG (KEEP_WORK=1 keeps it)"
exit $MISMATCH

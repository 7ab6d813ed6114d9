#!/bin/sh
# Regenerates the capture test files in this directory with real tools on
# loopback only (run as root: tcpdump/dumpcap need CAP_NET_RAW).
#   lo.pcap           tcpdump -i lo (Ethernet, microseconds, little-endian)
#   lo_nano.pcap      tcpdump -i lo --time-stamp-precision=nano
#   lo_snap96.pcap    tcpdump -i lo -s 96 (payloads cut by the snaplen)
#   any_sll.pcap      tcpdump -i any -y LINUX_SLL
#   any_sll2.pcap     tcpdump -i any -y LINUX_SLL2
#   lo.pcapng         dumpcap -i lo (pcapng)
#   two_links.pcapng  mergecap of lo.pcap and any_sll2.pcap: two interfaces, two link types
#   lo.pcap.gz        gzip of lo.pcap
set -eu
cd "$(dirname "$0")"
PORT4=18443
PORT6=18444
UPORT=18445
FILTER="port $PORT4 or port $PORT6 or port $UPORT"

traffic() {
	python3 - "$PORT4" "$PORT6" "$UPORT" <<'PY'
import socket, sys, threading, time
p4, p6, pu = map(int, sys.argv[1:4])
def serve(fam, addr, port):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port)); s.listen(4)
    for _ in range(2):
        c, _ = s.accept()
        d = c.recv(65536)
        c.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 3000\r\n\r\n" + b"x" * 3000)
        c.close()
    s.close()
ts = [threading.Thread(target=serve, args=(socket.AF_INET, "127.0.0.1", p4)),
      threading.Thread(target=serve, args=(socket.AF_INET6, "::1", p6))]
for t in ts: t.start()
time.sleep(0.3)
for fam, addr, port in ((socket.AF_INET, "127.0.0.1", p4), (socket.AF_INET6, "::1", p6)):
    for i in range(2):
        c = socket.socket(fam, socket.SOCK_STREAM)
        c.connect((addr, port))
        c.sendall(b"\x16\x03\x01\x00\x05hello" + b"y" * (200 * (i + 1)))
        while c.recv(65536): pass
        c.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(b"udp payload", ("127.0.0.1", pu))
for t in ts: t.join()
PY
}

cap() { # cap OUTFILE tcpdump-args...
	out=$1; shift
	tcpdump -U -q "$@" -w "$out" "$FILTER" 2>/dev/null & pid=$!
	sleep 1.5
	traffic
	sleep 1.5
	kill -INT $pid; wait $pid || true
}

cap lo.pcap -i lo
cap lo_nano.pcap -i lo --time-stamp-precision=nano
cap lo_snap96.pcap -i lo -s 96
cap any_sll.pcap -i any -y LINUX_SLL
cap any_sll2.pcap -i any -y LINUX_SLL2

dumpcap -q -i lo -f "$FILTER" -w lo.pcapng 2>/dev/null & pid=$!
sleep 2; traffic; sleep 1.5
kill -INT $pid; wait $pid || true

mergecap -F pcapng -w two_links.pcapng lo.pcap any_sll2.pcap
gzip -9 -n -c lo.pcap > lo.pcap.gz
chmod 644 *.pcap *.pcapng *.gz
# Format conversions with editcap (from the tshark/wireshark tools):
#   lo_editcap_nsec.pcap       lo.pcap rewritten as a nanosecond pcap
#   lo_nano_editcap.pcapng     lo_nano.pcap as pcapng (if_tsresol 10^-9)
#   lo.pcapng.gz               gzip of lo.pcapng
editcap -F nsecpcap lo.pcap lo_editcap_nsec.pcap
editcap -F pcapng lo_nano.pcap lo_nano_editcap.pcapng
gzip -9 -n -c lo.pcapng > lo.pcapng.gz
chmod 644 *.pcap *.pcapng *.gz

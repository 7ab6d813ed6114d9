// Command tunnel is a userspace tunnel endpoint for samples/make-tunnel-samples.sh,
// for the encapsulations whose kernel drivers this machine's kernel lacks
// (ipip, sit, ip_gre, ip6_gre, geneve, mpls_router, pppoe). It creates a TUN
// (or, for the Ethernet-carrying modes, a TAP) device, and moves every packet
// the kernel routes into it to the peer inside the outer headers of MODE,
// sent through a raw IP socket, a UDP socket or an AF_PACKET socket on the
// underlay interface; what arrives from the peer it unwraps and writes back
// into the device. The inner packets are the kernel's own (real TCP/TLS from
// real clients and servers); the outer IP/UDP/Ethernet headers are written by
// the kernel too (raw or UDP sockets) except for the AF_PACKET modes; only
// the tunnel header itself (GRE, GENEVE, MPLS labels, PPPoE/PPP) is written
// here, following its RFC.
//
//	tunnel -mode gre -dev hwtng0 -local 198.18.40.1 -remote 198.18.40.2 [-key 42] [-seq] [-csum]
//	tunnel -mode geneve -dev hwtngv0 -local ... -remote ... -vni 42 [-gwlb-options]
//	tunnel -mode mpls -dev hwtnm0 -link hwtna0 -peer-mac 02:.. -labels 100,200
//
// Modes: ipip (IPv4 in IPv4, IP protocol 4), sit (IPv6 in IPv4, protocol 41),
// gre and ip6gre (GRE over IPv4 / IPv6, protocol 47, inner IPv4 or IPv6),
// gretap (GRE 0x6558 carrying Ethernet, TAP), erspan (GRE 0x88BE ERSPAN
// type II carrying Ethernet, TAP, with a sequence number), geneve (UDP 6081,
// Ethernet payload 0x6558, TAP), mpls (Ethernet type 0x8847 with a label
// stack, inner IPv4/IPv6), pppoe (Ethernet type 0x8864 PPPoE session, PPP
// protocol 0x0021/0x0057). It runs until killed.
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

func main() { os.Exit(run()) }

type config struct {
	mode         string
	dev          string
	local        netip.Addr
	remote       netip.Addr
	key          int64
	seq          bool
	csum         bool
	vni          uint
	port         int
	gwlbOptions  bool
	link         string
	peerMAC      net.HardwareAddr
	labels       []uint32
	session      uint
	erspanSessID uint
}

func run() int {
	var c config
	var local, remote, peer, labels string
	flag.StringVar(&c.mode, "mode", "", "ipip, sit, gre, ip6gre, gretap, erspan, geneve, mpls or pppoe")
	flag.StringVar(&c.dev, "dev", "", "name of the TUN/TAP device to create")
	flag.StringVar(&local, "local", "", "underlay address of this end (IP modes)")
	flag.StringVar(&remote, "remote", "", "underlay address of the other end (IP modes)")
	flag.Int64Var(&c.key, "key", -1, "GRE key (absent when negative)")
	flag.BoolVar(&c.seq, "seq", false, "GRE: send sequence numbers")
	flag.BoolVar(&c.csum, "csum", false, "GRE: send checksums")
	flag.UintVar(&c.vni, "vni", 42, "GENEVE: virtual network identifier")
	flag.IntVar(&c.port, "port", 6081, "GENEVE: UDP port (both ends)")
	flag.BoolVar(&c.gwlbOptions, "gwlb-options", false, "GENEVE: add three option TLVs of class 0x0108 shaped like AWS Gateway Load Balancer's (made-up values)")
	flag.StringVar(&c.link, "link", "", "mpls, pppoe: underlay Ethernet interface")
	flag.StringVar(&peer, "peer-mac", "", "mpls, pppoe: the other end's MAC address")
	flag.StringVar(&labels, "labels", "100", "mpls: comma-separated label stack, outermost first")
	flag.UintVar(&c.session, "session", 0x1234, "pppoe: session ID")
	flag.UintVar(&c.erspanSessID, "erspan-session", 7, "erspan: session ID (10 bits)")
	flag.Parse()
	var err error
	if local != "" {
		if c.local, err = netip.ParseAddr(local); err != nil {
			return fail(err)
		}
	}
	if remote != "" {
		if c.remote, err = netip.ParseAddr(remote); err != nil {
			return fail(err)
		}
	}
	if peer != "" {
		if c.peerMAC, err = net.ParseMAC(peer); err != nil {
			return fail(err)
		}
	}
	for _, l := range strings.Split(labels, ",") {
		v, err := strconv.ParseUint(l, 10, 20)
		if err != nil {
			return fail(fmt.Errorf("label %q: %w", l, err))
		}
		c.labels = append(c.labels, uint32(v))
	}
	if err := serve(&c); err != nil {
		return fail(err)
	}
	return 0
}

func fail(err error) int {
	fmt.Fprintln(os.Stderr, "tunnel:", err)
	return 1
}

// transport carries outer payloads between the two ends.
type transport interface {
	send(b []byte) error
	// recv returns the tunnel header and payload of the next packet from the
	// peer (outer IP, UDP or Ethernet header removed), or ok=false to skip.
	recv(buf []byte) (payload []byte, ok bool, err error)
}

func serve(c *config) error {
	if c.dev == "" {
		return errors.New("-dev is required")
	}
	tap := c.mode == "gretap" || c.mode == "geneve" || c.mode == "erspan"
	dev, err := openTun(c.dev, tap)
	if err != nil {
		return err
	}
	var tr transport
	switch c.mode {
	case "ipip":
		tr, err = rawIP(c, unix.IPPROTO_IPIP)
	case "sit":
		tr, err = rawIP(c, unix.IPPROTO_IPV6)
	case "gre", "ip6gre", "gretap", "erspan":
		tr, err = rawIP(c, unix.IPPROTO_GRE)
	case "geneve":
		tr, err = udp(c)
	case "mpls":
		tr, err = ether(c, 0x8847)
	case "pppoe":
		tr, err = ether(c, 0x8864)
	default:
		return fmt.Errorf("unknown -mode %q", c.mode)
	}
	if err != nil {
		return err
	}
	e := &encap{c: c}
	errc := make(chan error, 2)
	go func() { // device -> peer
		buf := make([]byte, 65536)
		for {
			n, err := unix.Read(dev, buf)
			if err != nil {
				errc <- fmt.Errorf("read %s: %w", c.dev, err)
				return
			}
			out, ok := e.wrap(buf[:n])
			if !ok {
				continue
			}
			if err := tr.send(out); err != nil {
				fmt.Fprintln(os.Stderr, "tunnel: send:", err)
			}
		}
	}()
	go func() { // peer -> device
		buf := make([]byte, 65536)
		for {
			p, ok, err := tr.recv(buf)
			if err != nil {
				errc <- err
				return
			}
			if !ok {
				continue
			}
			inner, ok := e.unwrap(p)
			if !ok {
				continue
			}
			if _, err := unix.Write(dev, inner); err != nil {
				fmt.Fprintln(os.Stderr, "tunnel: write:", err)
			}
		}
	}()
	return <-errc
}

// openTun creates a TUN (IP packets) or TAP (Ethernet frames) device
// without packet information headers.
func openTun(name string, tap bool) (int, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return -1, err
	}
	flags := uint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if tap {
		flags = unix.IFF_TAP | unix.IFF_NO_PI
	}
	ifr.SetUint16(flags)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		return -1, fmt.Errorf("TUNSETIFF %s: %w", name, err)
	}
	return fd, nil
}

// encap writes and strips the tunnel header of one mode.
type encap struct {
	c      *config
	seq    atomic.Uint32
	header [64]byte
}

const (
	greC = 0x8000
	greK = 0x2000
	greS = 0x1000
)

func etherTypeOf(inner []byte) (uint16, bool) {
	if len(inner) == 0 {
		return 0, false
	}
	switch inner[0] >> 4 {
	case 4:
		return 0x0800, true
	case 6:
		return 0x86DD, true
	}
	return 0, false
}

func (e *encap) wrap(inner []byte) ([]byte, bool) {
	c := e.c
	var h []byte
	switch c.mode {
	case "ipip", "sit":
		return inner, true
	case "gre", "ip6gre", "gretap", "erspan":
		// RFC 2784 / RFC 2890: flags and version, protocol type, then the
		// optional checksum+reserved, key and sequence number words.
		proto := uint16(0x6558) // transparent Ethernet bridging
		switch c.mode {
		case "gre", "ip6gre":
			var ok bool
			if proto, ok = etherTypeOf(inner); !ok {
				return nil, false
			}
		case "erspan":
			proto = 0x88BE
		}
		flags := uint16(0)
		if c.csum {
			flags |= greC
		}
		if c.key >= 0 {
			flags |= greK
		}
		if c.seq || c.mode == "erspan" {
			flags |= greS
		}
		h = binary.BigEndian.AppendUint16(e.header[:0], flags)
		h = binary.BigEndian.AppendUint16(h, proto)
		if c.csum {
			h = append(h, 0, 0, 0, 0)
		}
		if c.key >= 0 {
			h = binary.BigEndian.AppendUint32(h, uint32(c.key))
		}
		if flags&greS != 0 {
			h = binary.BigEndian.AppendUint32(h, e.seq.Add(1)-1)
		}
		if c.mode == "erspan" {
			// ERSPAN type II header (draft-foschiano-erspan): Ver=1, VLAN 0,
			// COS 0, En=0 (untagged), T=0, session ID; reserved, index 0.
			h = binary.BigEndian.AppendUint16(h, 1<<12)
			h = binary.BigEndian.AppendUint16(h, uint16(c.erspanSessID&0x3ff))
			h = binary.BigEndian.AppendUint32(h, 0)
		}
		out := append(append(make([]byte, 0, len(h)+len(inner)), h...), inner...)
		if c.csum {
			binary.BigEndian.PutUint16(out[4:], inetChecksum(out))
		}
		return out, true
	case "geneve":
		// RFC 8926: Ver 0, option length in 4-byte words, O=0, C=0,
		// protocol type 0x6558 (Ethernet), VNI, reserved; then options.
		var opts []byte
		if c.gwlbOptions {
			opts = gwlbOptions()
		}
		h = append(e.header[:0], byte(len(opts)/4), 0)
		h = binary.BigEndian.AppendUint16(h, 0x6558)
		h = binary.BigEndian.AppendUint32(h, uint32(c.vni)<<8)
		h = append(h, opts...)
	case "mpls":
		if _, ok := etherTypeOf(inner); !ok {
			return nil, false
		}
		h = e.ethHeader(0x8847)
		for i, l := range c.labels {
			w := l<<12 | 64 // TC 0, TTL 64
			if i == len(c.labels)-1 {
				w |= 1 << 8 // bottom of stack
			}
			h = binary.BigEndian.AppendUint32(h, w)
		}
	case "pppoe":
		proto, ok := etherTypeOf(inner)
		if !ok {
			return nil, false
		}
		ppp := uint16(0x0021)
		if proto == 0x86DD {
			ppp = 0x0057
		}
		// RFC 2516 session stage: ver 1, type 1, code 0, session ID,
		// length of the PPP frame (protocol field + payload).
		h = e.ethHeader(0x8864)
		h = append(h, 0x11, 0x00)
		h = binary.BigEndian.AppendUint16(h, uint16(c.session))
		h = binary.BigEndian.AppendUint16(h, uint16(2+len(inner)))
		h = binary.BigEndian.AppendUint16(h, ppp)
	}
	return append(append(make([]byte, 0, len(h)+len(inner)), h...), inner...), true
}

func (e *encap) ethHeader(etherType uint16) []byte {
	h := append(e.header[:0], e.c.peerMAC...)
	h = append(h, localMAC...)
	return binary.BigEndian.AppendUint16(h, etherType)
}

var localMAC net.HardwareAddr

// gwlbOptions returns GENEVE options shaped like AWS Gateway Load Balancer's
// (class 0x0108: type 1 an 8-byte endpoint ID, type 2 an 8-byte attachment
// ID, type 3 a 4-byte flow cookie). The values are made up.
func gwlbOptions() []byte {
	var b []byte
	opt := func(typ byte, val []byte) {
		b = binary.BigEndian.AppendUint16(b, 0x0108)
		b = append(b, typ, byte(len(val)/4))
		b = append(b, val...)
	}
	opt(1, []byte{0x0a, 0x8b, 0x1c, 0x2d, 0x3e, 0x4f, 0x50, 0x61})
	opt(2, []byte{0x00, 0x00, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef})
	opt(3, []byte{0x12, 0x34, 0x56, 0x78})
	return b
}

func (e *encap) unwrap(p []byte) ([]byte, bool) {
	c := e.c
	switch c.mode {
	case "ipip", "sit":
		return p, len(p) > 0
	case "gre", "ip6gre", "gretap", "erspan":
		if len(p) < 4 {
			return nil, false
		}
		flags := binary.BigEndian.Uint16(p)
		n := 4
		if flags&greC != 0 {
			n += 4
		}
		if flags&greK != 0 {
			n += 4
		}
		if flags&greS != 0 {
			n += 4
		}
		if binary.BigEndian.Uint16(p[2:]) == 0x88BE {
			n += 8
		}
		if len(p) < n {
			return nil, false
		}
		return p[n:], true
	case "geneve":
		if len(p) < 8 {
			return nil, false
		}
		n := 8 + int(p[0]&0x3f)*4
		if len(p) < n {
			return nil, false
		}
		return p[n:], true
	case "mpls":
		for n := 14; n+4 <= len(p); n += 4 {
			if p[n+2]&1 != 0 {
				return p[n+4:], true
			}
		}
		return nil, false
	case "pppoe":
		if len(p) < 22 {
			return nil, false
		}
		return p[22:], true
	}
	return nil, false
}

// inetChecksum is the Internet checksum (RFC 1071) of b.
func inetChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// --- transports -------------------------------------------------------------

type rawTransport struct {
	fd     int
	v4     bool
	remote netip.Addr
	sa     unix.Sockaddr
}

// rawIP opens a raw socket of protocol proto over IPv4 or IPv6 (by the
// address family of -local): the kernel writes the outer IP header.
func rawIP(c *config, proto int) (transport, error) {
	if !c.local.IsValid() || !c.remote.IsValid() {
		return nil, errors.New("-local and -remote are required")
	}
	t := &rawTransport{v4: c.local.Is4(), remote: c.remote}
	var err error
	if t.v4 {
		t.fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if err == nil {
			err = unix.Bind(t.fd, &unix.SockaddrInet4{Addr: c.local.As4()})
		}
		t.sa = &unix.SockaddrInet4{Addr: c.remote.As4()}
	} else {
		t.fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if err == nil {
			err = unix.Bind(t.fd, &unix.SockaddrInet6{Addr: c.local.As16()})
		}
		t.sa = &unix.SockaddrInet6{Addr: c.remote.As16()}
	}
	if err != nil {
		return nil, fmt.Errorf("raw socket (protocol %d): %w", proto, err)
	}
	return t, nil
}

func (t *rawTransport) send(b []byte) error { return unix.Sendto(t.fd, b, 0, t.sa) }

func (t *rawTransport) recv(buf []byte) ([]byte, bool, error) {
	n, from, err := unix.Recvfrom(t.fd, buf, 0)
	if err != nil {
		return nil, false, fmt.Errorf("recv: %w", err)
	}
	switch sa := from.(type) {
	case *unix.SockaddrInet4:
		if netip.AddrFrom4(sa.Addr) != t.remote || n < 20 {
			return nil, false, nil
		}
		// IPv4 raw sockets deliver the IP header too.
		ihl := int(buf[0]&0x0f) * 4
		if n < ihl {
			return nil, false, nil
		}
		return buf[ihl:n], true, nil
	case *unix.SockaddrInet6:
		if netip.AddrFrom16(sa.Addr) != t.remote {
			return nil, false, nil
		}
		return buf[:n], true, nil
	}
	return nil, false, nil
}

type udpTransport struct {
	conn   *net.UDPConn
	remote *net.UDPAddr
}

func udp(c *config) (transport, error) {
	if !c.local.IsValid() || !c.remote.IsValid() {
		return nil, errors.New("-local and -remote are required")
	}
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(c.local, uint16(c.port))))
	if err != nil {
		return nil, err
	}
	return &udpTransport{conn, net.UDPAddrFromAddrPort(netip.AddrPortFrom(c.remote, uint16(c.port)))}, nil
}

func (t *udpTransport) send(b []byte) error {
	_, err := t.conn.WriteToUDP(b, t.remote)
	return err
}

func (t *udpTransport) recv(buf []byte) ([]byte, bool, error) {
	n, from, err := t.conn.ReadFromUDP(buf)
	if err != nil {
		return nil, false, err
	}
	if !from.IP.Equal(t.remote.IP) {
		return nil, false, nil
	}
	return buf[:n], true, nil
}

type etherTransport struct {
	fd int
	sa *unix.SockaddrLinklayer
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// ether opens an AF_PACKET socket for one EtherType on -link: this program
// writes the whole frame.
func ether(c *config, etherType uint16) (transport, error) {
	if c.link == "" || c.peerMAC == nil {
		return nil, errors.New("-link and -peer-mac are required")
	}
	ifi, err := net.InterfaceByName(c.link)
	if err != nil {
		return nil, err
	}
	localMAC = ifi.HardwareAddr
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(etherType)))
	if err != nil {
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(etherType), Ifindex: ifi.Index}
	if err := unix.Bind(fd, sa); err != nil {
		return nil, fmt.Errorf("bind %s: %w", c.link, err)
	}
	return &etherTransport{fd, sa}, nil
}

func (t *etherTransport) send(b []byte) error { return unix.Sendto(t.fd, b, 0, t.sa) }

func (t *etherTransport) recv(buf []byte) ([]byte, bool, error) {
	n, from, err := unix.Recvfrom(t.fd, buf, 0)
	if err != nil {
		return nil, false, err
	}
	if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
		return nil, false, nil
	}
	return buf[:n], true, nil
}

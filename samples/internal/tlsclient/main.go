// Command tlsclient is a small Go crypto/tls HTTP/1.1 client used by
// make-samples.sh, make-tunnel-samples.sh and make-across-samples.sh: Go
// 1.24+ offers X25519MLKEM768, so its ClientHello is ~1.5 KB and spans
// several TCP segments, which the samples need. Flags shape how the hello
// reaches the wire:
//
//	-curves x25519     a classic (~300-byte, one-segment) hello instead
//	-split 600 -split-delay 300ms
//	                   write the ClientHello record in two parts, the second
//	                   after a pause (an SNI router that decides on the first
//	                   segment sees a partial hello)
//	-fastopen          connect with sendto(MSG_FASTOPEN) on a blocking socket:
//	                   with a TFO cookie cached the hello rides on the SYN;
//	                   without one (first connection, or a server without
//	                   TFO) the kernel holds back the ACK of the SYN-ACK and
//	                   sends the hello in it, on the handshake's third packet
package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func main() { os.Exit(run()) }

type options struct {
	split      int
	splitDelay time.Duration
	fastopen   bool
}

func run() int {
	addr := flag.String("addr", "127.0.0.1:8443", "server address")
	sni := flag.String("sni", "", "server name to send (empty: no SNI)")
	alpn := flag.String("alpn", "http/1.1", "comma-separated ALPN protocols (empty: none)")
	n := flag.Int("n", 1, "connections to make, one after the other")
	curves := flag.String("curves", "", "comma-separated key exchange groups (x25519mlkem768, x25519, p256); empty: Go's default (X25519MLKEM768 first)")
	var o options
	flag.IntVar(&o.split, "split", 0, "write the ClientHello in two parts: this many bytes first (0: one write)")
	flag.DurationVar(&o.splitDelay, "split-delay", 300*time.Millisecond, "pause between the two parts of a -split hello")
	flag.BoolVar(&o.fastopen, "fastopen", false, "send the ClientHello with sendto(MSG_FASTOPEN) on a blocking socket")
	flag.Parse()
	cfg := &tls.Config{ServerName: *sni, InsecureSkipVerify: true}
	if *alpn != "" {
		cfg.NextProtos = strings.Split(*alpn, ",")
	}
	for _, c := range strings.FieldsFunc(*curves, func(r rune) bool { return r == ',' }) {
		switch strings.ToLower(c) {
		case "x25519mlkem768":
			cfg.CurvePreferences = append(cfg.CurvePreferences, tls.X25519MLKEM768)
		case "x25519":
			cfg.CurvePreferences = append(cfg.CurvePreferences, tls.X25519)
		case "p256":
			cfg.CurvePreferences = append(cfg.CurvePreferences, tls.CurveP256)
		default:
			fmt.Fprintf(os.Stderr, "tlsclient: unknown curve %q\n", c)
			return 2
		}
	}
	rc := 0
	for range *n {
		if err := get(*addr, cfg, o); err != nil {
			fmt.Fprintln(os.Stderr, "tlsclient:", err)
			rc = 1
		}
	}
	return rc
}

func get(addr string, cfg *tls.Config, o options) error {
	var raw net.Conn
	var err error
	if o.fastopen {
		raw, err = dialFastOpen(addr)
	} else {
		raw, err = (&net.Dialer{Timeout: 5 * time.Second}).Dial("tcp", addr)
	}
	if err != nil {
		return err
	}
	if o.split > 0 {
		raw = &splitConn{Conn: raw, first: o.split, delay: o.splitDelay}
	}
	c := tls.Client(raw, cfg)
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := c.Handshake(); err != nil {
		return fmt.Errorf("%s: %w", addr, err)
	}
	host := cfg.ServerName
	if host == "" {
		host = addr
	}
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host)
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	fmt.Printf("tlsclient: %s %s -> %s", addr, c.ConnectionState().NegotiatedProtocol, line)
	return nil
}

// splitConn writes its first Write (the ClientHello record) in two parts
// with a pause between them; Go sets TCP_NODELAY, so each part leaves at once
// as its own segment.
type splitConn struct {
	net.Conn
	first int
	delay time.Duration
	done  bool
}

func (s *splitConn) Write(b []byte) (int, error) {
	if s.done || len(b) <= s.first {
		s.done = true
		return s.Conn.Write(b)
	}
	s.done = true
	n, err := s.Conn.Write(b[:s.first])
	if err != nil {
		return n, err
	}
	time.Sleep(s.delay)
	m, err := s.Conn.Write(b[s.first:])
	return n + m, err
}

// fdConn is a blocking TCP socket used through plain read/write system calls:
// the first Write is a sendto(MSG_FASTOPEN) that connects. A blocking socket
// matters: inet_wait_for_connect counts the waiting writer in
// sk_write_pending, so without a cookie the kernel saves the ACK of the
// SYN-ACK and the hello goes out in it.
type fdConn struct {
	fd        int
	remote    unix.Sockaddr
	raddr     net.Addr
	connected bool
}

func dialFastOpen(addr string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("-fastopen needs an IP:port address: %w", err)
	}
	family := unix.AF_INET6
	var sa unix.Sockaddr = &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	if ap.Addr().Is4() {
		family = unix.AF_INET
		sa = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	tv := unix.Timeval{Sec: 5}
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	return &fdConn{fd: fd, remote: sa, raddr: net.TCPAddrFromAddrPort(ap)}, nil
}

func (c *fdConn) Write(b []byte) (int, error) {
	total := 0
	if !c.connected {
		c.connected = true
		n, err := unix.SendmsgN(c.fd, b, nil, c.remote, unix.MSG_FASTOPEN)
		if err != nil {
			return 0, fmt.Errorf("sendto MSG_FASTOPEN: %w", err)
		}
		total = n
	}
	for total < len(b) {
		n, err := unix.Write(c.fd, b[total:])
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

func (c *fdConn) Read(b []byte) (int, error) {
	n, err := unix.Read(c.fd, b)
	if err != nil {
		if errors.Is(err, unix.EAGAIN) {
			return 0, os.ErrDeadlineExceeded
		}
		return 0, err
	}
	if n == 0 {
		return 0, errEOF
	}
	return n, nil
}

var errEOF = io.EOF

func (c *fdConn) Close() error                     { return unix.Close(c.fd) }
func (c *fdConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *fdConn) RemoteAddr() net.Addr             { return c.raddr }
func (c *fdConn) SetDeadline(time.Time) error      { return nil }
func (c *fdConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fdConn) SetWriteDeadline(time.Time) error { return nil }

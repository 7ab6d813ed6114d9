// Command tlsclient is a small Go crypto/tls HTTP/1.1 client used by
// make-samples.sh: Go 1.24+ offers X25519MLKEM768, so its ClientHello is
// ~1.5 KB and spans several TCP segments, which the samples need.
package main

import (
	"bufio"
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

func main() { os.Exit(run()) }

func run() int {
	addr := flag.String("addr", "127.0.0.1:8443", "server address")
	sni := flag.String("sni", "", "server name to send (empty: no SNI)")
	alpn := flag.String("alpn", "http/1.1", "comma-separated ALPN protocols (empty: none)")
	n := flag.Int("n", 1, "connections to make, one after the other")
	flag.Parse()
	cfg := &tls.Config{ServerName: *sni, InsecureSkipVerify: true}
	if *alpn != "" {
		cfg.NextProtos = strings.Split(*alpn, ",")
	}
	rc := 0
	for range *n {
		if err := get(*addr, cfg); err != nil {
			fmt.Fprintln(os.Stderr, "tlsclient:", err)
			rc = 1
		}
	}
	return rc
}

func get(addr string, cfg *tls.Config) error {
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
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

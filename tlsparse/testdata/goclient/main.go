// Command goclient dials a TLS server with crypto/tls so that
// scripts/capture-hellos.sh can record Go's ClientHello. It ignores the
// handshake result: only the hello matters.
package main

import (
	"crypto/tls"
	"flag"
	"net"
	"strings"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:4433", "server address")
	sni := flag.String("sni", "", "server name (empty: none)")
	alpn := flag.String("alpn", "", "comma-separated ALPN protocols")
	max12 := flag.Bool("tls12", false, "limit to TLS 1.2")
	flag.Parse()
	cfg := &tls.Config{ServerName: *sni, InsecureSkipVerify: true}
	if *alpn != "" {
		cfg.NextProtos = strings.Split(*alpn, ",")
	}
	if *max12 {
		cfg.MaxVersion = tls.VersionTLS12
	}
	c, err := net.DialTimeout("tcp", *addr, 3*time.Second)
	if err != nil {
		return
	}
	c.SetDeadline(time.Now().Add(3 * time.Second))
	tls.Client(c, cfg).Handshake()
	c.Close()
}

// Command tlsserve is the Go crypto/tls HTTPS server of
// make-beyond-sni-samples.sh: net/http (HTTP/1.1, and h2 when selected)
// behind a tls.Config whose NextProtos is exactly -alpn, so the samples show
// what crypto/tls itself answers when the ALPN lists do not overlap (fatal
// no_application_protocol, except that a server offering h2 lets a client
// offering only http/1.1 in without ALPN). It runs until killed.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
)

func main() {
	listen := flag.String("listen", "127.0.0.20:20443", "address to serve on")
	certFile := flag.String("cert", "", "certificate (PEM)")
	keyFile := flag.String("key", "", "key (PEM)")
	alpn := flag.String("alpn", "h2,http/1.1", "tls.Config.NextProtos, comma-separated (empty: none)")
	keyLog := flag.String("keylog", "", "append the sessions' secrets to this SSLKEYLOGFILE")
	flag.Parse()
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tlsserve:", err)
		os.Exit(2)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	if *alpn != "" {
		cfg.NextProtos = strings.Split(*alpn, ",")
	}
	if *keyLog != "" {
		f, err := os.OpenFile(*keyLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			fmt.Fprintln(os.Stderr, "tlsserve:", err)
			os.Exit(2)
		}
		cfg.KeyLogWriter = f
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tlsserve:", err)
		os.Exit(1)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "tlsserve ok %s\n", r.Proto)
		}),
		ErrorLog: log.New(os.Stderr, "tlsserve: ", 0),
	}
	// Serve (not ServeTLS, which appends http/1.1 to NextProtos) on our own
	// TLS listener; Serve still hands h2 connections to net/http's HTTP/2.
	fmt.Fprintln(os.Stderr, "tlsserve:", srv.Serve(tls.NewListener(l, cfg)))
	os.Exit(1)
}

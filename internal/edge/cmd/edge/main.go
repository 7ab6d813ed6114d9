// Command edge runs the SNI-strict test upstream of package edge.
//
//	edge -listen 127.0.0.1:8443 -mode cloudflare -names abc.example.com -backend 127.0.0.1:9443
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/hellowatch/hellowatch/internal/edge"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	fs := flag.NewFlagSet("edge", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8443", "TCP address to listen on")
	backend := fs.String("backend", "", "relay served names to this TLS backend (empty: terminate with crypto/tls)")
	names := fs.String("names", "abc.example.com", "comma-separated server names served")
	mode := fs.String("mode", "cloudflare", "answer to a hello without a served name: cloudflare, rst, fin, silent")
	certFile := fs.String("cert", "", "PEM certificate for crypto/tls termination (default: self-signed)")
	keyFile := fs.String("key", "", "PEM key for -cert")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	m, err := edge.ParseMode(*mode)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cfg := edge.Config{Mode: m, Backend: *backend, Logger: log}
	for _, n := range strings.Split(*names, ",") {
		if n = strings.TrimSpace(n); n != "" {
			cfg.Names = append(cfg.Names, n)
		}
	}
	if *certFile != "" {
		c, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			log.Error("edge: load certificate", "err", err)
			return 1
		}
		cfg.Certificate = &c
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Error("edge: listen", "err", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Info("edge: listening", "addr", ln.Addr().String(), "mode", m, "names", cfg.Names, "backend", cfg.Backend)
	if err := edge.Serve(ctx, ln, cfg); err != nil {
		log.Error("edge: serve", "err", err)
		return 1
	}
	return 0
}

// Command tlsprobe is the Go crypto/tls client of make-beyond-sni-samples.sh:
// one connection, one GET (HTTP/1.1, or h2 when the server selects it, both
// by net/http), with the knobs the samples need — certificate verification
// against a CA and a name, a client certificate, the TLS version range, the
// ALPN list, closing right after the handshake, and a ClientHello whose
// first bytes go out in their own TCP segments (-split).
//
// It prints one line to stdout ("tlsprobe: ADDR PROTO -> STATUS" or
// "tlsprobe: handshake: ERROR") and exits 1 when the handshake or the
// request failed.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() { os.Exit(run()) }

func run() int {
	addr := flag.String("addr", "127.0.0.20:20443", "server address")
	sni := flag.String("sni", "", "server name sent in the SNI (empty: no SNI)")
	name := flag.String("name", "", "name the certificate is verified against (default: -sni)")
	caFile := flag.String("ca", "", "PEM CA the server's certificate must chain to (empty: no verification)")
	certFile := flag.String("cert", "", "client certificate (PEM)")
	keyFile := flag.String("key", "", "client certificate's key (PEM)")
	minV := flag.String("min", "1.2", "lowest TLS version offered (1.2, 1.3)")
	maxV := flag.String("max", "1.3", "highest TLS version offered (1.2, 1.3)")
	alpn := flag.String("alpn", "http/1.1", "comma-separated ALPN protocols (empty: no ALPN extension)")
	requireALPN := flag.Bool("require-alpn", false, "close right after the handshake when the server selected none of -alpn (grpc-go does this)")
	closeAfter := flag.Bool("close", false, "close right after the handshake, without a request")
	split := flag.String("split", "", "comma-separated sizes of the ClientHello's first TCP segments, e.g. 5 or 1,2,2 (the rest follows in one write)")
	gap := flag.Duration("gap", 50*time.Millisecond, "pause between the -split writes")
	keyLog := flag.String("keylog", "", "append the session's secrets to this SSLKEYLOGFILE")
	flag.Parse()

	cfg := &tls.Config{ServerName: *sni}
	var err error
	if cfg.MinVersion, err = version(*minV); err != nil {
		return usage(err)
	}
	if cfg.MaxVersion, err = version(*maxV); err != nil {
		return usage(err)
	}
	if *alpn != "" {
		cfg.NextProtos = strings.Split(*alpn, ",")
	}
	verifyName := *name
	if verifyName == "" {
		verifyName = *sni
	}
	if *caFile == "" {
		cfg.InsecureSkipVerify = true
	} else {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return usage(err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return usage(fmt.Errorf("%s: no certificate", *caFile))
		}
		if verifyName != *sni {
			// crypto/tls verifies against ServerName, which is also the SNI:
			// verify ourselves to check another name (or send no SNI).
			cfg.InsecureSkipVerify = true
			cfg.VerifyConnection = func(cs tls.ConnectionState) error {
				opts := x509.VerifyOptions{Roots: cfg.RootCAs, DNSName: verifyName, Intermediates: x509.NewCertPool()}
				for _, c := range cs.PeerCertificates[1:] {
					opts.Intermediates.AddCert(c)
				}
				_, err := cs.PeerCertificates[0].Verify(opts)
				return err
			}
		}
	}
	if *certFile != "" {
		c, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			return usage(err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	if *keyLog != "" {
		f, err := os.OpenFile(*keyLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return usage(err)
		}
		defer f.Close()
		cfg.KeyLogWriter = f
	}
	var cuts []int
	for _, f := range strings.FieldsFunc(*split, func(r rune) bool { return r == ',' }) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return usage(fmt.Errorf("-split: bad size %q", f))
		}
		cuts = append(cuts, n)
	}

	raw, err := net.DialTimeout("tcp", *addr, 5*time.Second)
	if err != nil {
		fmt.Println("tlsprobe: dial:", err)
		return 1
	}
	if len(cuts) > 0 {
		// Go's net.TCPConn has TCP_NODELAY on: each write leaves as its own segment.
		raw = &splitConn{Conn: raw, cuts: cuts, gap: *gap}
	}
	conn := tls.Client(raw, cfg)
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if err := conn.Handshake(); err != nil {
		fmt.Println("tlsprobe: handshake:", err)
		return 1
	}
	proto := conn.ConnectionState().NegotiatedProtocol
	if *closeAfter {
		fmt.Printf("tlsprobe: %s %q: handshake done, closing without a request\n", *addr, proto)
		return 0
	}
	if *requireALPN && !slices.Contains(cfg.NextProtos, proto) {
		fmt.Printf("tlsprobe: %s: the server selected no protocol of %q, closing\n", *addr, *alpn)
		return 1
	}
	host := verifyName
	if host == "" {
		host = *addr
	}
	tr := &http.Transport{
		DialTLSContext:    func(context.Context, string, string) (net.Conn, error) { return conn, nil },
		ForceAttemptHTTP2: true,
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://" + host + "/")
	if err != nil {
		fmt.Printf("tlsprobe: %s %q: %v\n", *addr, proto, err)
		return 1
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	fmt.Printf("tlsprobe: %s %q -> %s %s\n", *addr, proto, resp.Proto, resp.Status)
	return 0
}

func version(s string) (uint16, error) {
	switch s {
	case "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("unknown TLS version %q (1.2, 1.3)", s)
}

func usage(err error) int {
	fmt.Fprintln(os.Stderr, "tlsprobe:", err)
	return 2
}

// splitConn sends the first write (the ClientHello) in pieces: cuts[i]
// bytes each, gap apart, then the rest.
type splitConn struct {
	net.Conn
	cuts []int
	gap  time.Duration
	done bool
}

func (c *splitConn) Write(b []byte) (int, error) {
	if c.done {
		return c.Conn.Write(b)
	}
	c.done = true
	n := 0
	for _, k := range c.cuts {
		if n+k >= len(b) {
			break
		}
		w, err := c.Conn.Write(b[n : n+k])
		n += w
		if err != nil {
			return n, err
		}
		time.Sleep(c.gap)
	}
	w, err := c.Conn.Write(b[n:])
	return n + w, err
}

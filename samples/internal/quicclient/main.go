// Command quicclient makes the QUIC samples' traffic with quic-go: as a
// client it opens one QUIC connection (HTTP/3 ALPN) and reports how the
// handshake ended; with -listen it is a minimal QUIC server that can force
// a Retry (and runs until killed). It exists only for samples/make-quic-samples.sh: hellowatch
// itself does not import quic-go.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"strings"
	"time"

	"github.com/quic-go/quic-go"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:443", "server address")
	sni := flag.String("sni", "", "server name to send (empty: none)")
	listen := flag.String("listen", "", "run a server on this address instead")
	name := flag.String("name", "example.test", "server: the only name served (others are refused)")
	retry := flag.Bool("retry", false, "server: force a Retry for every connection")
	pq := flag.Bool("pq", true, "client: offer X25519MLKEM768 (a ClientHello spanning two Initials)")
	conns := flag.Int("n", 1, "client: connections to make one after the other from the same UDP socket (as an HTTP/3 client's shared transport does)")
	versions := flag.String("versions", "", "QUIC versions offered (client, first one used first) or accepted (server), e.g. v2,v1; empty: quic-go's default")
	flag.Parse()
	qcfg := &quic.Config{}
	for _, v := range strings.FieldsFunc(*versions, func(r rune) bool { return r == ',' }) {
		switch v {
		case "v1":
			qcfg.Versions = append(qcfg.Versions, quic.Version1)
		case "v2":
			qcfg.Versions = append(qcfg.Versions, quic.Version2)
		default:
			fmt.Fprintf(os.Stderr, "unknown QUIC version %q (v1, v2)\n", v)
			os.Exit(2)
		}
	}
	if *listen != "" {
		fmt.Fprintln(os.Stderr, serve(*listen, *name, *retry, qcfg))
		os.Exit(1)
	}
	cfg := &tls.Config{ServerName: *sni, InsecureSkipVerify: true, NextProtos: []string{"h3"}}
	if !*pq {
		cfg.CurvePreferences = []tls.CurveID{tls.X25519}
	}
	udp, err := net.ListenUDP("udp", nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tr := &quic.Transport{Conn: udp}
	defer tr.Close()
	raddr, err := net.ResolveUDPAddr("udp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for range *conns {
		dial(tr, raddr, cfg, qcfg)
	}
}

// dial makes one connection over tr and closes it.
func dial(tr *quic.Transport, addr net.Addr, cfg *tls.Config, qcfg *quic.Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := tr.Dial(ctx, addr, cfg, qcfg)
	if err != nil {
		fmt.Println("handshake failed:", err)
		return
	}
	fmt.Println("handshake done:", conn.ConnectionState().TLS.NegotiatedProtocol)
	_ = conn.CloseWithError(0, "")
}

func serve(addr, name string, retry bool, qcfg *quic.Config) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	cfg := &tls.Config{
		NextProtos: []string{"h3"},
		GetCertificate: func(hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if hi.ServerName != name {
				return nil, fmt.Errorf("no certificate for %q", hi.ServerName)
			}
			return &cert, nil
		},
	}
	udp, err := net.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	tr := &quic.Transport{Conn: udp}
	if retry {
		tr.VerifySourceAddress = func(net.Addr) bool { return true }
	}
	ln, err := tr.Listen(cfg, qcfg)
	if err != nil {
		return err
	}
	for {
		c, err := ln.Accept(context.Background())
		if err != nil {
			return err
		}
		go func() {
			<-c.Context().Done()
		}()
	}
}

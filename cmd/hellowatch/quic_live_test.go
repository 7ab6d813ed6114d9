package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/hellowatch/hellowatch/internal/edge"
	"github.com/hellowatch/hellowatch/internal/testkit/metrics"
)

// quicServer runs a quic-go server (HTTP/3 ALPN) on 127.0.0.1:0 that has a
// certificate for name only: a ClientHello without that SNI gets Go
// crypto/tls's internal_error, a CONNECTION_CLOSE 0x0150, as from Caddy.
func quicServer(t *testing.T, ctx context.Context, name string) *net.UDPAddr {
	t.Helper()
	cert, err := edge.SelfSigned([]string{name})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{
		NextProtos: []string{"h3"},
		GetCertificate: func(hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if hi.ServerName != name {
				return nil, fmt.Errorf("no certificate for %q", hi.ServerName)
			}
			return &cert, nil
		},
	}
	ln, err := quic.ListenAddr("127.0.0.1:0", cfg, &quic.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept(ctx)
			if err != nil {
				return
			}
			go func() {
				// Answer the client's stream so that it sends 1-RTT data.
				if s, err := c.AcceptStream(ctx); err == nil {
					buf := make([]byte, 16)
					n, _ := s.Read(buf)
					s.Write(buf[:n])
					s.Close()
				}
			}()
		}
	}()
	return ln.Addr().(*net.UDPAddr)
}

// quicDial makes one QUIC handshake with sni (none when empty) and, when it
// succeeds, one request on a stream; it returns the handshake's error.
func quicDial(ctx context.Context, addr, sni string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	c, err := quic.DialAddr(ctx, addr, &tls.Config{ServerName: sni, InsecureSkipVerify: true, NextProtos: []string{"h3"}}, &quic.Config{})
	if err != nil {
		return err
	}
	defer c.CloseWithError(0, "")
	s, err := c.OpenStreamSync(ctx)
	if err == nil {
		s.Write([]byte("ping"))
		s.Close()
		buf := make([]byte, 16)
		s.Read(buf)
	}
	return nil
}

// TestQUICLive captures HTTP/3 handshakes live on lo with the default
// filter's UDP half: a quic-go client with SNI (established) and one
// dialling the IP address with no SNI, refused with CONNECTION_CLOSE
// 0x0150. The JSON lines and /metrics must say so under transport quic.
func TestQUICLive(t *testing.T) {
	sidecarNeedRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const name = "h3.quic.test"
	addr := quicServer(t, ctx, name)
	p, base := startLive(t, fmt.Sprintf("udp port %d", addr.Port))

	if err := quicDial(ctx, addr.String(), name); err != nil {
		t.Fatalf("QUIC handshake with SNI %s: %v", name, err)
	}
	err := quicDial(ctx, addr.String(), "")
	if err == nil || !strings.Contains(err.Error(), "0x150") && !strings.Contains(err.Error(), "internal error") {
		t.Fatalf("QUIC handshake without SNI: %v, want the server's CRYPTO_ERROR 0x150", err)
	}

	recs := waitRecords(t, p, 2, 10*time.Second)
	var good, refused map[string]any
	for _, r := range recs {
		if r["transport"] != "quic" || r["server"] != addr.String() {
			t.Errorf("record not of the QUIC server %s: %v", addr, r)
			continue
		}
		if r["server_name"] == nil {
			refused = r
		} else {
			good = r
		}
	}
	if good == nil || refused == nil {
		t.Fatalf("want one established and one refused QUIC record, got %d:\n%v\nstderr:\n%s", len(recs), recs, p.Stderr.String())
	}
	if good["server_name"] != name || good["outcome"] != "established" || good["version"] != "TLS 1.3" || !strings.HasPrefix(good["ja4"].(string), "q13") {
		t.Errorf("handshake with SNI: %v", good)
	}
	if q, _ := good["quic"].(map[string]any); q == nil || q["version"] != "v1" || q["server_initials"].(float64) < 1 {
		t.Errorf("handshake with SNI: quic %v", good["quic"])
	}
	fs, _ := refused["findings"].([]any)
	if refused["outcome"] != "server_alert" || len(fs) == 0 || fs[0].(map[string]any)["id"] != "missing_sni" {
		t.Errorf("handshake without SNI: outcome %v findings %v", refused["outcome"], fs)
	}
	if q, _ := refused["quic"].(map[string]any); q == nil || q["close"] == nil || q["close"].(map[string]any)["error_code"] != float64(0x150) {
		t.Errorf("handshake without SNI: quic %v", refused["quic"])
	}

	mfs := metrics.Scrape(t, base)
	for _, c := range []struct {
		labels map[string]string
		want   float64
	}{
		{map[string]string{"transport": "quic", "outcome": "established", "sni": "present"}, 1},
		{map[string]string{"transport": "quic", "outcome": "server_alert", "sni": "absent"}, 1},
	} {
		if v, _ := metrics.Value(mfs, "hellowatch_handshakes_total", c.labels); v != c.want {
			t.Errorf("hellowatch_handshakes_total%v = %v, want %v", c.labels, v, c.want)
		}
	}
	if v, _ := metrics.Value(mfs, "hellowatch_findings_total", map[string]string{"finding": "missing_sni"}); v != 1 {
		t.Errorf("hellowatch_findings_total{finding=missing_sni} = %v, want 1", v)
	}
}

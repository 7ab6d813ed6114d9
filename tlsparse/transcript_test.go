package tlsparse

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"
)

// recConn records what is written through it.
type recConn struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *recConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.buf.Write(p)
	c.mu.Unlock()
	return c.Conn.Write(p)
}

var (
	certOnce sync.Once
	testCert tls.Certificate
)

func selfSigned(t testing.TB) tls.Certificate {
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(42),
			Subject:      pkix.Name{CommonName: "test.example"},
			DNSNames:     []string{"test.example", "www.test.example"},
			NotBefore:    time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
			NotAfter:     time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC),
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic(err)
		}
		testCert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	})
	return testCert
}

// transcript runs a crypto/tls handshake plus one request and answer over
// an in-memory pipe and returns the bytes each side wrote.
func transcript(t testing.TB, ccfg, scfg *tls.Config) (client, server []byte) {
	t.Helper()
	// Loopback TCP rather than net.Pipe: both sides write at once around a
	// HelloRetryRequest, which deadlocks an unbuffered pipe.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c1, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c2, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c1.SetDeadline(time.Now().Add(10 * time.Second))
	c2.SetDeadline(time.Now().Add(10 * time.Second))
	rc, rs := &recConn{Conn: c1}, &recConn{Conn: c2}
	if scfg.Certificates == nil {
		scfg.Certificates = []tls.Certificate{selfSigned(t)}
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		s := tls.Server(rs, scfg)
		buf := make([]byte, 5)
		if _, err := io.ReadFull(s, buf); err == nil {
			s.Write(bytes.Repeat([]byte("x"), 40000))
		}
		s.Close()
	}()
	go func() {
		defer wg.Done()
		c := tls.Client(rc, ccfg)
		if err := c.Handshake(); err == nil {
			c.Write([]byte("hello"))
			io.Copy(io.Discard, c)
		}
		c.Close()
	}()
	wg.Wait()
	return rc.buf.Bytes(), rs.buf.Bytes()
}

var testTLS12Client = tls.Config{ServerName: "test.example", InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12}

func testTLSServer() *tls.Config { return &tls.Config{} }

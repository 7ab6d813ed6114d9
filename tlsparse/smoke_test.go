package tlsparse

import (
	"crypto/tls"
	"net"
	"testing"
)

// goHello returns the first bytes a crypto/tls client writes (its ClientHello
// records) for cfg.
func goHello(t testing.TB, cfg *tls.Config) []byte {
	t.Helper()
	c1, c2 := net.Pipe()
	done := make(chan []byte)
	go func() {
		buf := make([]byte, 1<<16)
		n, _ := c2.Read(buf)
		c2.Close()
		done <- buf[:n]
	}()
	go func() {
		tls.Client(c1, cfg).Handshake()
		c1.Close()
	}()
	return <-done
}

func TestSmokeGoHello(t *testing.T) {
	b := goHello(t, &tls.Config{ServerName: "example.com", NextProtos: []string{"h2", "http/1.1"}})
	var rec recorder
	var s Stream
	if err := s.Feed(b, &rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.hs) != 1 {
		t.Fatalf("got %d handshakes", len(rec.hs))
	}
	var ch ClientHello
	if err := ParseClientHello(rec.hs[0].body, &ch); err != nil {
		t.Fatal(err)
	}
	t.Logf("sni=%s alpn=%q v=%v ja3=%s ja4=%s", ch.ServerName(), ch.ALPN, ch.HighestVersion(), ch.JA3(nil), ch.JA4(nil))
	t.Logf("ja4_r=%s", ch.JA4R(nil))
}

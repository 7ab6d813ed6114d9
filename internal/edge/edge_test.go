package edge

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"
)

// helloBytes captures the ClientHello crypto/tls sends for serverName.
func helloBytes(t *testing.T, serverName string) []byte {
	t.Helper()
	a, b := net.Pipe()
	go func() {
		c := tls.Client(a, &tls.Config{ServerName: serverName, InsecureSkipVerify: true})
		c.Handshake()
	}()
	defer a.Close()
	defer b.Close()
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	h, err := ReadHello(b)
	if err != nil {
		t.Fatal(err)
	}
	return h.Raw
}

// byteReader feeds one byte per Read, like a hello split over many segments.
type byteReader struct{ b []byte }

func (r *byteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	p[0] = r.b[0]
	r.b = r.b[1:]
	return 1, nil
}

func TestReadHello(t *testing.T) {
	for _, tc := range []struct{ name, sni string }{{"sni", "abc.example.com"}, {"no sni", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			raw := helloBytes(t, tc.sni)
			h, err := ReadHello(&byteReader{b: raw})
			if err != nil {
				t.Fatal(err)
			}
			if h.HasSNI != (tc.sni != "") || h.ServerName != tc.sni || !bytes.Equal(h.Raw, raw) {
				t.Fatalf("got sni=%v %q raw=%d bytes, want %q %d bytes", h.HasSNI, h.ServerName, len(h.Raw), tc.sni, len(raw))
			}
			for i := range len(raw) - 1 {
				if _, err := ReadHello(bytes.NewReader(raw[:i])); err == nil {
					t.Fatalf("prefix %d: no error", i)
				}
			}
		})
	}
}

func TestServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- Serve(ctx, ln, Config{Names: []string{"abc.example.com"}}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	// No SNI: exactly the Cloudflare alert, then EOF.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Write(helloBytes(t, ""))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	c.Close()
	if err != nil || !bytes.Equal(got, AlertHandshakeFailure) {
		t.Fatalf("no SNI: got % x, %v; want % x then EOF", got, err, AlertHandshakeFailure)
	}

	// Served SNI: crypto/tls termination answers.
	tc, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{ServerName: "abc.example.com", InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	io.WriteString(tc, "GET / HTTP/1.1\r\nHost: abc.example.com\r\n\r\n")
	buf := make([]byte, 15)
	if _, err := io.ReadFull(tc, buf); err != nil || string(buf) != "HTTP/1.1 200 OK" {
		t.Fatalf("SNI: got %q, %v", buf, err)
	}
}

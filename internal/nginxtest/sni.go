package nginxtest

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// SNIServer is a TLS upstream (Go crypto/tls) that records the server name
// of every ClientHello it receives and answers HTTP requests (HTTP/1.1 and
// h2) with 200 "sni=<name>".
type SNIServer struct {
	Addr string

	mu     sync.Mutex
	hellos []Hello
	srv    *http.Server
}

// Hello is one recorded ClientHello.
type Hello struct {
	ServerName string // "" when the hello carried no SNI
	// Versions are the versions offered (supported_versions, or what the
	// legacy version implies).
	Versions []uint16
	At       time.Time
}

// StartSNIServer listens on addr ("127.0.0.1:0" for any port) until the
// test ends.
func StartSNIServer(t testing.TB, addr string, cert tls.Certificate) *SNIServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &SNIServer{Addr: ln.Addr().String()}
	base := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}, MinVersion: tls.VersionTLS10}
	cfg := &tls.Config{
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			s.mu.Lock()
			s.hellos = append(s.hellos, Hello{ServerName: h.ServerName, Versions: append([]uint16(nil), h.SupportedVersions...), At: time.Now()})
			s.mu.Unlock()
			return base, nil
		},
	}
	s.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			name := "-"
			if r.TLS != nil && r.TLS.ServerName != "" {
				name = r.TLS.ServerName
			}
			fmt.Fprintf(w, "sni=%s\n", name)
		}),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go s.srv.Serve(tls.NewListener(ln, cfg))
	t.Cleanup(func() { s.srv.Close() })
	return s
}

// Hellos returns the hellos recorded so far.
func (s *SNIServer) Hellos() []Hello {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Hello(nil), s.hellos...)
}

// Reset forgets the recorded hellos.
func (s *SNIServer) Reset() {
	s.mu.Lock()
	s.hellos = nil
	s.mu.Unlock()
}

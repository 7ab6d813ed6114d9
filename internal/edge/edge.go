package edge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"slices"
	"strings"
	"sync"
	"time"
)

// Mode says how edge answers a ClientHello without a served server name.
type Mode string

// Modes.
const (
	// ModeCloudflare writes a fatal handshake_failure alert
	// (15 03 03 00 02 02 28) and closes with FIN, as Cloudflare's edge does.
	ModeCloudflare Mode = "cloudflare"
	// ModeRST closes with SO_LINGER 0, so the kernel sends RST.
	ModeRST Mode = "rst"
	// ModeFIN closes without writing anything.
	ModeFIN Mode = "fin"
	// ModeSilent keeps reading and never answers.
	ModeSilent Mode = "silent"
)

// ParseMode returns the Mode named s.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeCloudflare, ModeRST, ModeFIN, ModeSilent:
		return m, nil
	}
	return "", fmt.Errorf("edge: unknown mode %q (cloudflare, rst, fin, silent)", s)
}

// AlertHandshakeFailure is the exact record Cloudflare's edge sends to a
// ClientHello without SNI: fatal handshake_failure (40), record version TLS 1.2.
var AlertHandshakeFailure = []byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28}

// Config configures Serve.
type Config struct {
	// Mode is the refusal for a hello without a served name; "" means
	// ModeCloudflare.
	Mode Mode
	// Names are the server names edge serves (compared case-insensitively).
	Names []string
	// Backend, when set, is the TCP address a served connection is relayed
	// to, ClientHello bytes included. When empty, edge terminates TLS itself
	// with Certificate and answers every HTTP request with 200 "ok".
	Backend string
	// Certificate is used when Backend is empty; nil means a fresh
	// self-signed certificate for Names.
	Certificate *tls.Certificate
	// HelloTimeout bounds the wait for a whole ClientHello (default 10 s).
	HelloTimeout time.Duration
	// DrainTimeout bounds how long a refused connection is kept open for the
	// peer's FIN after edge closed its side (default 2 s).
	DrainTimeout time.Duration
	// Logger receives one line per connection; nil discards.
	Logger *slog.Logger
	// OnRefuse, when set, is called once a hello has been refused, right
	// after the refusal was handed to the kernel (the alert written, the FIN
	// or RST sent, or the decision to stay silent), so tests can time what
	// a passive observer reports against the refusal.
	OnRefuse func(Refusal)
}

// Refusal describes one refused ClientHello.
type Refusal struct {
	Client     net.Addr
	Mode       Mode
	HasSNI     bool
	ServerName string
	At         time.Time
}

// Serve accepts connections on ln until ctx is done, then closes ln and every
// open connection and returns nil. Any other accept error is returned.
func Serve(ctx context.Context, ln net.Listener, cfg Config) error {
	if cfg.Mode == "" {
		cfg.Mode = ModeCloudflare
	}
	if _, err := ParseMode(string(cfg.Mode)); err != nil {
		return err
	}
	if cfg.HelloTimeout == 0 {
		cfg.HelloTimeout = 10 * time.Second
	}
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &server{cfg: cfg, conns: map[net.Conn]struct{}{}}
	if cfg.Backend == "" {
		cert := cfg.Certificate
		if cert == nil {
			c, err := SelfSigned(cfg.Names)
			if err != nil {
				return err
			}
			cert = &c
		}
		s.tlsConfig = &tls.Config{Certificates: []tls.Certificate{*cert}, NextProtos: []string{"http/1.1"}}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		ln.Close()
		s.closeAll()
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("edge: accept: %w", err)
		}
		if !s.track(c) {
			c.Close()
			return nil
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.untrack(c)
			s.handle(ctx, c)
		}()
	}
}

type server struct {
	cfg       Config
	tlsConfig *tls.Config

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
}

func (s *server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
}

func (s *server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
}

func (s *server) served(name string) bool {
	return slices.ContainsFunc(s.cfg.Names, func(n string) bool { return strings.EqualFold(n, name) })
}

func (s *server) handle(ctx context.Context, c net.Conn) {
	log := s.cfg.Logger.With("client", c.RemoteAddr().String())
	c.SetReadDeadline(time.Now().Add(s.cfg.HelloTimeout))
	h, err := ReadHello(c)
	c.SetReadDeadline(time.Time{})
	if err != nil {
		log.Info("edge: no ClientHello", "err", err)
		return
	}
	if h.HasSNI && s.served(h.ServerName) {
		log.Info("edge: serving", "server_name", h.ServerName)
		if s.cfg.Backend != "" {
			s.relay(ctx, c, h.Raw, log)
		} else {
			s.terminate(c, h.Raw, log)
		}
		return
	}
	log.Info("edge: refusing", "mode", s.cfg.Mode, "has_sni", h.HasSNI, "server_name", h.ServerName)
	notify := func() {
		if s.cfg.OnRefuse != nil {
			s.cfg.OnRefuse(Refusal{Client: c.RemoteAddr(), Mode: s.cfg.Mode, HasSNI: h.HasSNI, ServerName: h.ServerName, At: time.Now()})
		}
	}
	switch s.cfg.Mode {
	case ModeCloudflare:
		if _, err := c.Write(AlertHandshakeFailure); err != nil {
			return
		}
		notify()
		s.closeAndDrain(c, nil)
	case ModeFIN:
		s.closeAndDrain(c, notify)
	case ModeRST:
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.Close()
		notify()
	case ModeSilent:
		notify()
		// Read and discard until the peer gives up or Serve stops.
		io.Copy(io.Discard, c)
	}
}

// closeAndDrain sends FIN, then reads until the peer closes too, so that
// unread bytes never turn the close into an RST.
func (s *server) closeAndDrain(c net.Conn, sent func()) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	if sent != nil {
		sent()
	}
	c.SetReadDeadline(time.Now().Add(s.cfg.DrainTimeout))
	io.Copy(io.Discard, c)
}

func (s *server) relay(ctx context.Context, c net.Conn, hello []byte, log *slog.Logger) {
	var d net.Dialer
	b, err := d.DialContext(ctx, "tcp", s.cfg.Backend)
	if err != nil {
		log.Warn("edge: backend", "err", err)
		return
	}
	defer b.Close()
	if _, err := b.Write(hello); err != nil {
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(b, c)
	go pipe(c, b)
	<-done
	<-done
}

// replayConn replays the bytes already read before reading the connection.
type replayConn struct {
	net.Conn
	r io.Reader
}

func (r *replayConn) Read(p []byte) (int, error) { return r.r.Read(p) }

func (s *server) terminate(c net.Conn, hello []byte, log *slog.Logger) {
	tc := tls.Server(&replayConn{Conn: c, r: io.MultiReader(bytes.NewReader(hello), c)}, s.tlsConfig)
	tc.SetDeadline(time.Now().Add(30 * time.Second))
	if err := tc.Handshake(); err != nil {
		log.Info("edge: handshake", "err", err)
		return
	}
	br := bufio.NewReader(tc)
	for {
		// A minimal HTTP/1.1 responder: read a request head, answer 200.
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if l == "\r\n" || l == "\n" {
				break
			}
		}
		_ = line
		if _, err := io.WriteString(tc, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n"); err != nil {
			return
		}
	}
}

// SelfSigned returns a fresh self-signed ECDSA certificate for names.
func SelfSigned(names []string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("edge: key: %w", err)
	}
	cn := "edge.invalid"
	if len(names) > 0 {
		cn = names[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("edge: certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
